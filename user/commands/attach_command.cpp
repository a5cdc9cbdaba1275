// unwindtrace attach -p PID: trace one running process until Ctrl-C, --duration, or its exit.
#include <fmt/format.h>

#include "commands/commands.h"
#include "commands/report_output.h"
#include "errors.h"
#include "output/atomic_file.h"
#include "trace/libbpf_log.h"
#include "trace/trace_session.h"

namespace ut::commands {

namespace {

struct AttachOptions {
  int pid = 0;
  double duration_s = 0;
  double poll_ms = 100;
  uint32_t ring_mb = 8;
  bool verbose = false;
  OutputOptions output;
};

int run_attach(const AttachOptions& options) {
  trace::set_libbpf_verbose(options.verbose);
  if (!options.output.json_path.empty()) output::check_output_path(options.output.json_path);
  install_stop_handlers();
  trace::TraceOptions trace_options;
  trace_options.pid = options.pid;
  if (options.duration_s > 0) trace_options.duration_s = options.duration_s;
  trace_options.stop = &stop_requested();
  trace_options.poll_interval_ms = static_cast<int>(options.poll_ms);
  trace_options.ring_buffer_bytes = options.ring_mb << 20;
  trace_options.on_attached = [](const std::string& what) {
    fmt::print(stderr, "unwindtrace: {}; Ctrl-C to stop\n", what);
  };
  trace_options.on_hit = [&](const model::JoinedSignal& hit, const model::Session& session) {
    print_hit_line(options.output, hit, session);
  };
  auto result = trace::trace_process(trace_options);
  emit_report(options.output, result);
  return static_cast<int>(ExitCode::Ok);
}

}  // namespace

Action add_attach_command(CLI::App& app) {
  auto options = std::make_shared<AttachOptions>();
  auto* cmd = app.add_subcommand("attach", "Trace a running process: signals landing in its unwinder's "
                                           "stack-switch window, resumes, and exposure");
  cmd->footer(R"(Finds every mapped object with GNU libunwind's _Ux86_64_setcontext, derives its hazard
window from the machine code, and traces until Ctrl-C, --duration, or the target's exit.
A line is printed per window hit as it happens; the report follows at the end.

Examples:
  unwindtrace attach -p 1234                 trace until Ctrl-C
  unwindtrace attach -p 1234 -d 60 --json r.json
  unwindtrace attach -p 1234 --json - | jq .verdict

OVERHEAD: the signal hook costs nothing measurable; each resume pays one uprobe on an
emulated instruction (~0.5 us here) plus a ring-buffer record (~0.1 us, no wakeups).
Measured with scripts/bench_attach.sh on the GNU workload (~30k resumes/s per thread):
throughput ratio 0.94 without signals, 0.92 under a 20k/s signal storm (median of 5).

Tracing also ends, with the report of what was seen, when the target exits, execs another
program, or unmaps a traced object (dlclose): the report says which (target.changed).

Exit codes: 0 done (also: target not exposed), 2 usage (also: --json names a directory),
3 no such process (also: it has exited, or is still starting), 4 missing privileges,
5 kernel feature missing, 1 internal error.)");
  cmd->add_option("-p,--pid", options->pid, "process to trace")->required()->check(CLI::Range(1, 2147483647));
  cmd->add_option("-d,--duration", options->duration_s, "stop after SECONDS (default: Ctrl-C or exit)")
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--json", options->output.json_path, "also write the report as JSON to FILE ('-': stdout)");
  cmd->add_flag("-q,--quiet", options->output.quiet, "no live line per window hit");
  cmd->add_option("--poll-ms", options->poll_ms, "drain the ring buffer every MS milliseconds")
      ->check(CLI::Range(1.0, 5000.0));
  cmd->add_option("--ring-buffer-mb", options->ring_mb, "ring buffer size in MiB (power of two)")
      ->check(CLI::Range(1u, 1024u));
  cmd->add_flag("-v,--verbose", options->verbose, "show libbpf's messages");
  return [options] { return run_attach(*options); };
}

}  // namespace ut::commands
