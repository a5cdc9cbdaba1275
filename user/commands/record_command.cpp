// unwindtrace record: host mode for campaigns. Traces every exposed process on the host for
// --duration, writes JSON Lines records (docs/records.md) to --output, serves --metrics.
#include <unistd.h>

#include <chrono>
#include <limits>
#include <thread>

#include <fmt/format.h>

#include "commands/commands.h"
#include "errors.h"
#include "host/host_identity.h"
#include "host/signal_frame.h"
#include "output/metrics_registry.h"
#include "output/metrics_server.h"
#include "output/record_writer.h"
#include "trace/host_session.h"
#include "trace/libbpf_log.h"

namespace ut::commands {

namespace {

struct RecordOptions {
  double duration_s = 0;
  std::string output = "-";
  double rotate_mb = 64;
  double rotate_minutes = 60;
  double snapshot_s = 60;
  double rescan_s = 2;
  double sample = 1;
  double sample_period_s = 60;
  std::string mode = "signal-only";
  std::string metrics;
  std::vector<int> pids;
  bool quiet = false;
  bool verbose = false;
};

output::ProcessMetrics process_metrics(const output::Report& report) {
  output::ProcessMetrics m;
  m.pid = report.pid;
  m.comm = report.comm;
  m.unwinder = report.routines.empty() ? report.unwinder : report.routines.front().object_path;
  m.trace_start = report.started_at;
  m.signals = report.process.signals_total;
  for (const auto& row : report.process.signals) m.interrupt_signals += row.by_delivery[UT_DELIVERY_INTERRUPT];
  m.resumes = report.process.resumes;
  m.window_hits = report.process.hits.total;
  m.lost_events = report.lost.kernel[UT_LOST_RESUME] + report.lost.kernel[UT_LOST_SIGNAL] + report.lost.resume_seq_gaps;
  m.resumes_per_s = report.process.resumes_per_s;
  m.interrupt_signals_per_s = report.process.interrupt_signals_per_s;
  m.predicted_crashes_per_s = output::estimate_corruptions(report).per_s;
  return m;
}

// Sleeps up to `seconds`, waking early on Ctrl-C / SIGTERM.
void idle(double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!stop_requested().load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

int run_record(const RecordOptions& options) {
  trace::set_libbpf_verbose(options.verbose);
  install_stop_handlers();
  auto identity = host::read_host_identity();
  // Before any thread starts: the measurement takes signals in this process.
  std::optional<host::FrameSize> frame = host::measure_signal_frame();
  if (frame->max_bytes == 0) frame.reset();
  output::RecordWriter writer(options.output,
                              {static_cast<uint64_t>(options.rotate_mb * (1 << 20)), options.rotate_minutes * 60},
                              identity.info.hostname);
  output::MetricsRegistry metrics;
  std::unique_ptr<output::MetricsServer> server;
  if (!options.metrics.empty()) {
    server = std::make_unique<output::MetricsServer>(output::parse_listen_address(options.metrics),
                                                     [&metrics] { return metrics.render(); });
    fmt::print(stderr, "unwindtrace: metrics on port {} (GET /metrics)\n", server->port());
  }
  auto now = [] { return output::iso8601_utc(std::chrono::system_clock::now()); };
  writer.write(output::host_record(identity, frame, now()));

  trace::HostTraceOptions trace_options;
  trace_options.stop = &stop_requested();
  trace_options.rescan_interval_s = options.rescan_s;
  trace_options.snapshot_interval_s = options.snapshot_s;
  trace_options.mode = options.mode == "full" ? output::TraceMode::Full : output::TraceMode::SignalOnly;
  if (options.sample < 1 && trace_options.mode == output::TraceMode::Full) trace_options.mode = output::TraceMode::Sampled;
  trace_options.sample_duty = options.sample;
  trace_options.frame = frame;
  trace_options.only.assign(options.pids.begin(), options.pids.end());
  if (!options.quiet) trace_options.on_note = [](const std::string& line) { fmt::print(stderr, "unwindtrace: {}\n", line); };
  uint64_t rescans_before = 0;
  output::HostMetrics host_metrics;
  trace_options.on_scan = [&](const trace::HostScanStats& stats) {
    host_metrics.rescans = rescans_before + stats.scans;
    host_metrics.processes_traced = stats.traced_now;
    host_metrics.last_rescan_s = stats.last_scan_s;
    metrics.update(host_metrics);
  };
  size_t processes = 0;
  trace_options.on_snapshot = [&](const trace::HostProcess& p, bool final) {
    auto report = output::build_report(p.session, *p.joiner);
    writer.write(output::process_record(report, identity, p.facts, writer.dropped()));
    processes += final;
    metrics.update(process_metrics(report));
    host_metrics.records_written = writer.written();
    host_metrics.records_dropped = writer.dropped();
    metrics.update(host_metrics);
  };

  size_t crashes = 0;
  trace_options.on_crash = [&](const output::CrashSignature& crash) {
    writer.write(output::crash_record(crash, identity, now()));
    ++crashes;
  };

  // A duty cycle: trace sample × period, rest the remainder, until --duration or Ctrl-C.
  auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  double total = options.duration_s > 0 ? options.duration_s : std::numeric_limits<double>::infinity();
  while (!stop_requested().load() && elapsed() < total) {
    double window = options.sample < 1 ? options.sample * options.sample_period_s : total;
    trace_options.duration_s = std::min(window, total - elapsed());
    auto stats = trace::trace_host(trace_options);
    rescans_before += stats.scans;
    if (options.sample < 1) idle(std::min((1 - options.sample) * options.sample_period_s, total - elapsed()));
  }
  fmt::print(stderr, "unwindtrace: {} process trace(s) and {} crash(es) recorded; {} record(s) written, {} dropped{}\n",
             processes, crashes, writer.written(), writer.dropped(), options.output == "-" ? "" : " in " + options.output);
  return static_cast<int>(writer.dropped() ? ExitCode::Internal : ExitCode::Ok);
}

}  // namespace

Action add_record_command(CLI::App& app) {
  auto options = std::make_shared<RecordOptions>();
  auto* cmd = app.add_subcommand("record", "Host mode for campaigns: trace every exposed process on this host, "
                                           "write JSON Lines records, serve metrics");
  cmd->footer(R"(Scans every process (like 'scan --all') and traces each one whose C++ exceptions unwind
through an exposed routine, all with one set of BPF programs. Rescans every --rescan-s to pick
up processes started, exec'd or dlopen'ing an unwinder later. Writes a host record, then each
process's record every --snapshot-s and once more at its end (exit, exec, or the end of the
trace). Records: docs/records.md; campaign recipe: docs/fleet.md; metrics: docs/metrics.md.

Modes: signal-only (default, cheapest: the signal hook only, no uprobe; window hits are still
seen, resumes are not counted), full (also a uprobe per resume). --sample F traces F of every
--sample-period seconds and detaches the rest (full mode with --sample is recorded as "sampled").

Examples:
  unwindtrace record --duration 60 --output /var/log/unwindtrace
  unwindtrace record --duration 3600 --sample 0.1 --output /var/log/unwindtrace --metrics 9464
  unwindtrace record -d 60 | vector ...       (records on stdout for a log pipeline)

OVERHEAD: signal-only costs nothing measurable per signal; a rescan takes ~35 ms per 100
processes every --rescan-s. Full mode adds ~0.5 us per resume (see 'attach --help').

Exit codes: 0 done, 1 records were dropped (full disk, ...) or internal error, 2 usage,
4 missing privileges, 5 kernel feature missing.)");
  cmd->add_option("-d,--duration", options->duration_s, "stop after SECONDS (default: Ctrl-C / SIGTERM)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-o,--output", options->output, "directory for record files ('-': stdout, the default)");
  cmd->add_option("--rotate-mb", options->rotate_mb, "start a new record file past this size")->check(CLI::Range(0.001, 1e6));
  cmd->add_option("--rotate-minutes", options->rotate_minutes, "start a new record file after this long")
      ->check(CLI::Range(0.01, 1e6));
  cmd->add_option("--snapshot-s", options->snapshot_s, "write each traced process's record this often")
      ->check(CLI::Range(0.5, 1e6));
  cmd->add_option("--rescan-s", options->rescan_s, "look for new exposed processes this often")->check(CLI::Range(0.2, 3600.0));
  cmd->add_option("--sample", options->sample, "fraction of each --sample-period spent tracing (duty cycle)")
      ->check(CLI::Range(0.01, 1.0));
  cmd->add_option("--sample-period", options->sample_period_s, "seconds per duty cycle")->check(CLI::Range(1.0, 86400.0));
  cmd->add_option("--mode", options->mode, "signal-only or full")->check(CLI::IsMember({"signal-only", "full"}));
  cmd->add_option("--metrics", options->metrics, "serve metrics on [ADDRESS:]PORT (loopback unless an address is given)");
  cmd->add_option("-p,--pid", options->pids, "only these processes (default: every process on the host)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("-q,--quiet", options->quiet, "no line per process traced or ended");
  cmd->add_flag("-v,--verbose", options->verbose, "show libbpf's messages");
  return [options] { return run_record(*options); };
}

}  // namespace ut::commands
