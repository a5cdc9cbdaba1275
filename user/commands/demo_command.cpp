// unwindtrace demo: the bundled workload (exceptions through GNU libunwind under a signal
// storm) traced by the same code as `attach`, with the workload's own counts side by side.
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "analysis/object_analysis.h"
#include "commands/bundled_workload.h"
#include "commands/commands.h"
#include "commands/report_output.h"
#include "output/atomic_file.h"
#include "errors.h"
#include "proc/child_process.h"
#include "trace/trace_session.h"

namespace ut::commands {

namespace {

struct DemoOptions {
  std::string unwinder = "gnu";
  double duration_s = 60;
  uint64_t hits = 3;
  unsigned threads = 2;
  double signal_rate = 20000;
  size_t padding = 16384;
  size_t handler_stack = 0;
  unsigned depth = 2;
  std::string sender = "coalesce";  // the model's assumption: signals on the sender's own clock
  OutputOptions output;
};

// The workload's own window hits: signals its handler saw at the window's offsets.
uint64_t workload_window_hits(const nlohmann::json& own, const trace::TraceResult& result) {
  if (result.session.routines.empty() || !own["setcontext"]["residency"].is_object()) return 0;
  uint64_t hits = 0;
  for (const auto& insn : result.session.routines.front().window.window) {
    auto key = fmt::format("{:#x}", insn.offset);
    if (own["setcontext"]["residency"].contains(key)) hits += own["setcontext"]["residency"][key].get<uint64_t>();
  }
  return hits;
}

void print_cross_check(std::FILE* out, const nlohmann::json& own, const trace::TraceResult& result,
                       const output::Report& report) {
  fmt::print(out, "\nCross-check against the workload's own counters:\n");
  fmt::print(out, "  {:<28} {:>12} {:>12}\n", "", "workload", "unwindtrace");
  fmt::print(out, "  {:<28} {:>12} {:>12}\n", "resumes", own.value("resumes", 0ull), report.process.resumes);
  fmt::print(out, "  {:<28} {:>12} {:>12}\n", "signals handled/delivered", own.value("signals_handled", 0ull),
             report.process.signals_total);
  fmt::print(out, "  {:<28} {:>12} {:>12}\n", "window hits", workload_window_hits(own, result),
             report.process.hits.total);
}

// The workload stops early once its own handler has seen this many window hits; the window comes
// from the same analysis `attach` runs, on the library the GNU build links.
std::vector<std::string> stop_after_hits_args(const DemoOptions& options) {
  if (options.unwinder != "gnu" || options.hits == 0) return {};
  std::vector<std::string> offsets;
  for (const auto& routine : analysis::analyse_object(UT_GNU_LIBUNWIND).routines)
    for (const auto& insn : routine.window.window) offsets.push_back(fmt::format("{:#x}", insn.offset));
  if (offsets.empty()) return {};
  return {"--stop-after-window-hits", std::to_string(options.hits), "--window-offsets",
          fmt::format("{}", fmt::join(offsets, ","))};
}

int run_demo(const DemoOptions& options) {
  if (!options.output.json_path.empty()) output::check_output_path(options.output.json_path);
  install_stop_handlers();
  std::string workload = bundled_workload_path(options.unwinder);
  std::vector<std::string> argv{workload, "--wait-for-go", "--threads", std::to_string(options.threads),
                                "--duration", fmt::format("{}", options.duration_s), "--signal-rate",
                                fmt::format("{}", options.signal_rate), "--padding",
                                std::to_string(options.padding), "--handler-stack",
                                std::to_string(options.handler_stack), "--depth",
                                std::to_string(options.depth), "--quiet"};
  auto sender = sender_args(options.sender);
  argv.insert(argv.end(), sender.begin(), sender.end());
  auto stop_args = stop_after_hits_args(options);
  argv.insert(argv.end(), stop_args.begin(), stop_args.end());
  proc::ChildProcess child(argv);
  auto ready = child.read_stdout_line(10);
  if (!ready || !ready->starts_with("ready "))
    throw UserError(ExitCode::Internal, fmt::format("{} did not start: {}", workload, child.read_stderr_rest()));
  fmt::print(stderr, "unwindtrace demo: {} workload (PID {}), {} threads, {:.0f} signals/s ({}), for {} s{}\n",
             options.unwinder, child.pid(), options.threads, options.signal_rate, options.sender, options.duration_s,
             stop_args.empty() ? "" : fmt::format(" or until its handler sees {} window hits", options.hits));

  trace::TraceOptions trace_options;
  trace_options.pids = {child.pid()};
  trace_options.session.mode = model::TraceMode::Full;  // the cross-check compares every resume
  trace_options.session.slot_checks = true;              // a demo shows measured corruption too
  trace_options.duration_s = options.duration_s + 30;  // the workload's exit normally ends it
  trace_options.stop = &stop_requested();
  trace_options.on_attached = [&](const std::string& what) {
    fmt::print(stderr, "unwindtrace: {}\n", what);
    child.write_stdin("go\n");
  };
  trace_options.session.on_hit = [&](const model::JoinedSignal& hit, const model::Session& session) {
    print_hit_line(options.output, hit, session);
  };
  auto result = trace::trace_process(trace_options);
  if (result.session.routines.empty()) child.write_stdin("go\n");  // nothing to attach: still run it
  auto status = child.wait(options.duration_s + 30);
  auto own = nlohmann::json::parse(child.read_stdout_rest(), nullptr, false);
  auto report = emit_report(options.output, result);
  if (!own.is_discarded()) print_cross_check(text_stream(options.output), own, result, report);
  if (!status || *status != 0)
    fmt::print(stderr, "unwindtrace demo: the workload ended with status {}\n", status.value_or(-1));
  fmt::print(text_stream(options.output),
             "\nCompare with unwinders that have no window:\n"
             "  unwindtrace demo --unwinder llvm     (LLVM libunwind)\n"
             "  unwindtrace demo --unwinder libgcc   (libgcc_s, the default)\n");
  return static_cast<int>(ExitCode::Ok);
}

}  // namespace

Action add_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand("demo", "Run the bundled workload under a signal storm and trace it");
  cmd->footer(R"(Starts unwindtrace-workload-UNWINDER (C++ exceptions thrown and caught through frames
with destructors, while a sender thread offers SIGPROF at --signal-rate), attaches as
`attach -p` would, and prints the report next to the workload's own counts. The default
sender sends on its own clock, like a profiler's timer; a signal sent while the thread's last
is still pending merges with it, so fewer are handled than offered (--sender wait: none lost,
but at high rates the signals follow the thread's progress and the model's w does not hold).
The default padding keeps the stale ucontext far below the signal frame, so hits are
harmless; --padding 0 puts it where a frame can overwrite it (the workload may crash).)");
  cmd->add_option("--unwinder", options->unwinder, "which build of the workload")
      ->check(CLI::IsMember({"gnu", "llvm", "libgcc"}));
  cmd->add_option("-d,--duration", options->duration_s, "longest storm, in seconds")->check(CLI::Range(0.5, 3600.0));
  cmd->add_option("--hits", options->hits, "stop once the workload has seen this many window hits (0: never)");
  cmd->add_option("--threads", options->threads, "throwing threads")->check(CLI::Range(1u, 256u));
  cmd->add_option("--signal-rate", options->signal_rate, "signals per second")->check(CLI::Range(0.0, 1e6));
  add_sender_option(*cmd, options->sender);
  cmd->add_option("--padding", options->padding, "bytes between landing-pad frames (moves D)");
  cmd->add_option("--handler-stack", options->handler_stack, "bytes of stack the handler uses");
  cmd->add_option("--depth", options->depth, "landing-pad frames per throw (resumes = depth + 1)")
      ->check(CLI::Range(0u, 1000u));
  cmd->add_option("--json", options->output.json_path, "also write the report as JSON to FILE ('-': stdout)");
  cmd->add_flag("-q,--quiet", options->output.quiet, "no live line per window hit");
  return [options] { return run_demo(*options); };
}

}  // namespace ut::commands
