// unwindtrace calibrate: measure this host's signal frame byte map (and, with --landing, where
// asynchronous signals land inside GNU libunwind's setcontext under a storm), cache it for attach.
#include <fmt/format.h>

#include "commands/bundled_workload.h"
#include "commands/commands.h"
#include "errors.h"
#include "host/calibration.h"
#include "model/landing_calibration.h"
#include "output/atomic_file.h"
#include "output/calibration_text.h"
#include "proc/child_process.h"
#include "trace/trace_session.h"

namespace ut::commands {

namespace {

struct CalibrateOptions {
  std::string json_path;
  std::string cache_path = host::default_calibration_path();
  bool force = false;
  double landing_s = 0;
  bool pool = false;
  unsigned threads = 2;
  double signal_rate = 20000;
  unsigned depth = 2;
  size_t padding = 16384;  // the workload's default: the stale slots lie below the frame, no crash
  // w is defined for signals that arrive independently of what the thread is doing, as a
  // profiler's timer does; the "wait" sender at high rates is not (docs/model.md).
  std::string sender = "coalesce";
};

host::LandingCalibration measure_landing(const CalibrateOptions& options, const std::string& cpu_model) {
  std::string workload = bundled_workload_path("gnu");
  std::vector<std::string> argv{workload, "--wait-for-go", "--threads", std::to_string(options.threads),
                                "--duration", fmt::format("{}", options.landing_s), "--signal-rate",
                                fmt::format("{}", options.signal_rate), "--depth", std::to_string(options.depth),
                                "--padding", std::to_string(options.padding), "--quiet"};
  auto sender = sender_args(options.sender);
  argv.insert(argv.end(), sender.begin(), sender.end());
  proc::ChildProcess child(argv);
  auto ready = child.read_stdout_line(10);
  if (!ready || !ready->starts_with("ready "))
    throw UserError(ExitCode::Internal, fmt::format("{} did not start: {}", workload, child.read_stderr_rest()));
  fmt::print(stderr, "unwindtrace calibrate: landing storm, {} threads, {:.0f} signals/s ({}), {} s\n",
             options.threads, options.signal_rate, options.sender, options.landing_s);
  trace::TraceOptions trace_options;
  trace_options.pids = {child.pid()};
  trace_options.session.mode = model::TraceMode::Full;  // w needs every resume counted
  trace_options.duration_s = options.landing_s + 30;  // the workload's exit ends it
  trace_options.stop = &stop_requested();
  trace_options.on_attached = [&](const std::string&) { child.write_stdin("go\n"); };
  auto result = trace::trace_process(trace_options);
  auto status = child.wait(30);
  if (!status || *status != 0)
    throw UserError(ExitCode::Internal, fmt::format("the workload ended with status {} during the landing storm",
                                                    status.value_or(-1)));
  try {
    return model::landing_from_trace(result.session, *result.joiner, cpu_model);
  } catch (const std::runtime_error& e) {
    throw UserError(ExitCode::Internal, fmt::format("landing calibration failed: {}", e.what()));
  }
}

host::LandingWorkload landing_workload(const CalibrateOptions& options) {
  return {options.threads, options.signal_rate, options.depth, options.padding, options.sender};
}

// --pool: the cached landing calibration this storm adds to, checked before the storm runs.
std::optional<host::LandingCalibration> pool_base(const CalibrateOptions& options, const host::Calibration& cached) {
  if (!options.pool) return std::nullopt;
  if (!cached.landing) {
    fmt::print(stderr, "unwindtrace calibrate: --pool: no landing calibration cached yet; this storm starts one\n");
    return std::nullopt;
  }
  if (cached.landing->workload != landing_workload(options))
    throw UserError(ExitCode::Usage,
                    fmt::format("--pool: the cached landing storms ran another workload shape; pool only storms with "
                                "the same --threads, --signal-rate, --sender, --depth and --padding (cached: {}), or run "
                                "without --pool to replace them",
                                host::landing_workload_text(cached.landing->workload)));
  return cached.landing;
}

int run_calibrate(const CalibrateOptions& options) {
  install_stop_handlers();
  if (options.pool && options.landing_s <= 0) throw UserError(ExitCode::Usage, "--pool needs --landing SECONDS");
  auto loaded = host::load_or_measure_calibration(options.cache_path, options.force);
  fmt::print(stderr, "unwindtrace calibrate: {}\n", loaded.note);
  if (options.landing_s > 0) {
    auto earlier = pool_base(options, loaded.calibration);
    auto landing = measure_landing(options, loaded.calibration.key.cpu_model);
    landing.workload = landing_workload(options);
    try {
      loaded.calibration.landing = earlier ? model::pool_landings(*earlier, landing) : landing;
    } catch (const std::invalid_argument& e) {  // another routine build: known only after the storm
      throw UserError(ExitCode::Internal, fmt::format("--pool: not pooled, the cache keeps the earlier storms: {}; "
                                                      "run without --pool to replace them", e.what()));
    }
    try {
      host::write_calibration(options.cache_path, loaded.calibration);
    } catch (const std::exception& e) {
      fmt::print(stderr, "unwindtrace calibrate: landing calibration not cached: {}\n", e.what());
    }
  }
  const std::string json = host::calibration_json(loaded.calibration);
  if (options.json_path == "-") {
    fmt::print("{}", json);
    fmt::print(stderr, "{}", output::calibration_text(loaded.calibration));
  } else {
    fmt::print("{}", output::calibration_text(loaded.calibration));
    if (!options.json_path.empty()) output::write_file_atomically(options.json_path, json);
  }
  return static_cast<int>(ExitCode::Ok);
}

}  // namespace

Action add_calibrate_command(CLI::App& app) {
  auto options = std::make_shared<CalibrateOptions>();
  auto* cmd = app.add_subcommand("calibrate", "Measure which bytes this host's signal frames write (and, "
                                              "with --landing, where storm signals land in the window)");
  cmd->footer(R"(Frame map (a second, no root needed): a helper thread fills an alternate signal stack with
five patterns, takes a signal on it for each of the 8 stack alignments (mod 64), with and
without SA_SIGINFO, with the AVX registers in their initial state and in use, and diffs.
Records the CPU, its XSAVE components (XCR0, CPUID leaf 0xD) and the kernel release; attach
reuses the cached result until one of them changes.

Landing (--landing SECONDS, root): runs the bundled GNU workload under a signal storm, traced,
and stores per instruction of _Ux86_64_setcontext w = landings / (interrupt signals x resumes/s),
the seconds a resume spends there: the exposure model's input (docs/model.md). Kept across
kernel updates while the CPU model stays the same. Rare instructions need long storms: with
--pool each storm adds its landings and exposure to the cached ones (same workload shape), so
an hour can be gathered ten minutes at a time (at +0x52, the return-address read, AMD hosts
see about 1 window landing in 50, one per 15 minutes of storm).

Cache: $UNWINDTRACE_CALIBRATION, else /var/cache/unwindtrace/calibration.json (--cache).
Output: text on stdout (stderr with --json -); --json writes the calibration (docs/calibration.md).

Exit codes: 0 done, 2 usage, 4 missing privileges (--landing), 5 kernel feature missing,
1 internal error.)");
  cmd->add_option("--json", options->json_path, "also write the calibration as JSON to FILE ('-': stdout)");
  cmd->add_option("--cache", options->cache_path, "calibration cache file");
  cmd->add_flag("--force", options->force, "measure the frame map again even if the cache is valid");
  cmd->add_option("--landing", options->landing_s, "also run a landing storm of SECONDS (e.g. 30)")
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_flag("--pool", options->pool,
                "add the landing storm to the cached one (same CPU, routine build and workload shape) instead "
                "of replacing it");
  cmd->add_option("--threads", options->threads, "landing storm: workload threads")->check(CLI::Range(1u, 64u));
  cmd->add_option("--signal-rate", options->signal_rate, "landing storm: signals per second")
      ->check(CLI::Range(1.0, 1e6));
  add_sender_option(*cmd, options->sender);
  cmd->add_option("--depth", options->depth, "landing storm: workload landing-pad frames per throw")
      ->check(CLI::Range(0u, 1000u));
  cmd->add_option("--padding", options->padding,
                  "landing storm: workload padding (default 16384 keeps the stale slots below the frame)");
  return [options] { return run_calibrate(*options); };
}

}  // namespace ut::commands
