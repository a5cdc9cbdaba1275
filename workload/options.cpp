#include "options.h"

#include "host/signal_names.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace workload {
namespace {

[[noreturn]] void usage_error(const char* prog, const std::string& message) {
  std::fprintf(stderr, "%s: error: %s\n", prog, message.c_str());
  std::exit(2);
}

std::optional<long> parse_integer(const std::string& text, int base) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, base);
  if (errno != 0 || *end != '\0' || v < 0) return std::nullopt;
  return v;
}

// Signals the storm must not use: they cannot be caught, are reserved by glibc, or would turn a
// real crash of the workload (the thing being studied) into a counted "signal".
bool forbidden_signal(int sig) {
  switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE:
    case SIGTRAP: case SIGABRT:
      return true;
    default:
      return sig > 31 && sig < SIGRTMIN;  // glibc-internal (SIGCANCEL, SIGSETXID)
  }
}

}  // namespace


Options parse_options(int argc, char** argv) {
  const char* prog = argc > 0 ? argv[0] : "unwindtrace-workload";
  if (const char* slash = std::strrchr(prog, '/')) prog = slash + 1;

  Options o;
  std::string signal_text = "SIGPROF";
  std::vector<std::string> offsets_text;

  CLI::App app{"unwindtrace workload: throws C++ exceptions in a tight loop under a signal storm "
               "and counts exactly what a tracer must see (JSON result on stdout)."};
  app.name(prog);
  app.add_option("--threads", o.threads, "worker threads")->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--depth", o.depth, "frames with a cleanup (destructor) between catch and throw")
      ->check(CLI::Range(0u, 1000u))->capture_default_str();
  app.add_option("--padding", o.padding,
                 "bytes alloca()'d in a frame between every two landing-pad frames (0 = none)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{64} << 20))->capture_default_str();
  app.add_option("--signal-rate", o.signal_rate, "signals per second, all threads (0 = no storm)")
      ->check(CLI::Range(0.0, 10e6))->capture_default_str();
  app.add_option("--signal", signal_text, "signal name or number (PROF, SIGPROF, 27, RTMIN+1)")
      ->capture_default_str();
  app.add_flag("--itimer", o.itimer,
               "use setitimer(ITIMER_PROF) instead of a tgkill sender (signal must be SIGPROF)");
  app.add_option("--batch-us", o.batch_us, "tgkill sender: microseconds between batches")
      ->check(CLI::Range(10u, 1000000u))->capture_default_str();
  app.add_option("--senders", o.senders,
                 "tgkill sender threads, each sending to its share of the workers (at most --threads)")
      ->check(CLI::Range(1u, 64u))->capture_default_str();
  app.add_flag("--coalesce", o.coalesce,
               "tgkill sender: offer the full rate, sending even to threads with a signal still "
               "pending (the kernel merges those: signals_handled < signals_sent)");
  app.add_option("--handler-stack", o.handler_stack,
                 "bytes of stack the signal handler uses (alloca + memset)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{16} << 20))->capture_default_str();
  app.add_flag("--altstack", o.altstack, "run the handler on a per-thread sigaltstack (SA_ONSTACK)");
  app.add_option("--duration", o.duration_s, "seconds to run after start (or after 'go')")
      ->check(CLI::Range(0.001, 1e7))->capture_default_str();
  app.add_flag("--wait-for-go", o.wait_for_go,
               "print 'ready <pid>', then start only after reading a line 'go' on stdin");
  auto* hits = app.add_option("--stop-after-window-hits", o.stop_after_window_hits,
                              "stop early once this many signals landed at --window-offsets")
                   ->check(CLI::Range(std::uint64_t{1}, UINT64_MAX));
  app.add_option("--window-offsets", offsets_text,
                 "offsets into _Ux86_64_setcontext, e.g. 0x52,0x59,0x5a,0x61")
      ->delimiter(',');
  hits->needs("--window-offsets");
  app.add_option("--json", o.json_path, "write the JSON result to FILE instead of stdout");
  app.add_flag("--pretty", o.pretty, "indent the JSON result");
  app.add_flag("--quiet,-q", o.quiet, "no summary or warnings on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) std::exit(app.exit(e));
    usage_error(prog, e.what());
  }

  auto sig = ut::host::parse_signal(signal_text);
  if (!sig) usage_error(prog, "--signal: unknown signal '" + signal_text + "'");
  if (forbidden_signal(*sig)) {
    usage_error(prog, "--signal: " + ut::host::signal_name(*sig) + " cannot be used for the storm");
  }
  o.signal = *sig;
  o.signal_name = ut::host::signal_name(*sig);
  if (o.itimer && o.signal != SIGPROF) {
    usage_error(prog, "--itimer sends SIGPROF; --signal " + signal_text + " conflicts");
  }
  if (o.itimer && o.signal_rate == 0.0) usage_error(prog, "--itimer needs --signal-rate > 0");
  if (o.itimer && o.coalesce) usage_error(prog, "--coalesce is for the tgkill sender; --itimer has none");
  for (const auto& t : offsets_text) {
    auto v = parse_integer(t, 0);
    if (!v) usage_error(prog, "--window-offsets: bad offset '" + t + "'");
    o.window_offsets.push_back(static_cast<std::size_t>(*v));
  }
  if (!offsets_text.empty() && o.stop_after_window_hits == 0) {
    usage_error(prog, "--window-offsets is only used with --stop-after-window-hits");
  }
  return o;
}

}  // namespace workload
