// unwindtrace validate: inject signals exactly into each window instruction of the target's
// resume routine (kernel-side, from a uprobe) and report what the frames did. Crashes programs
// on purpose, so it only injects into processes it starts, unless told otherwise by PID.
#include <array>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands/bundled_workload.h"
#include "commands/commands.h"
#include "errors.h"
#include "output/atomic_file.h"
#include "trace/injection_session.h"
#include "trace/libbpf_log.h"
#include "validate/padding_sweep.h"
#include "host/signal_names.h"
#include "validate/compare_report.h"
#include "validate/validate_report.h"

namespace ut::commands {

namespace {

struct ValidateOptions {
  std::string unwinder = "gnu";
  std::string lib;
  std::string signal = "SIGPROF";
  size_t handler_stack = 0;
  size_t padding = 0;
  uint64_t count = 1000;
  double timeout_s = 30;
  std::string sweep;
  std::vector<std::string> compare;  // --compare A B
  std::string json_path;
  int pid = 0;
  bool crash_it = false;
  bool quiet = false;
  bool verbose = false;
  std::vector<std::string> command;
};

int parse_signal_option(const std::string& text) {
  auto sig = host::parse_signal(text);
  if (!sig) throw UserError(ExitCode::Usage, fmt::format("--signal: unknown signal '{}'", text));
  if (!host::injectable_signal(*sig))
    throw UserError(ExitCode::Usage,
                    fmt::format("--signal: {} cannot be injected (uncatchable, reserved, or what "
                                "a crash is recognised by)",
                                host::signal_name(*sig)));
  return *sig;
}

// LD_PRELOAD puts the library first in the lookup order: its _Unwind_* and resume routine win.
std::vector<std::string> preload_prefix(const std::string& lib) {
  if (lib.empty()) return {};
  std::string preload = std::filesystem::absolute(lib).string();
  if (const char* existing = std::getenv("LD_PRELOAD"); existing && *existing)
    preload += fmt::format(":{}", existing);
  return {"env", "LD_PRELOAD=" + preload};
}

trace::InjectionTarget make_target(const ValidateOptions& o, int sig, size_t padding) {
  trace::InjectionTarget target;
  if (o.pid) {
    target.kind = trace::InjectionTarget::Kind::Process;
    target.pid = o.pid;
    return target;
  }
  target.argv = preload_prefix(o.lib);
  if (!o.command.empty()) {
    target.kind = trace::InjectionTarget::Kind::Command;
    target.argv.insert(target.argv.end(), o.command.begin(), o.command.end());
    return target;
  }
  // No storm: every signal it takes is an injected one. It stops itself, so the duration is a cap.
  target.kind = trace::InjectionTarget::Kind::Workload;
  target.handler_stack = o.handler_stack;
  std::vector<std::string> workload{bundled_workload_path(o.unwinder),
                                    "--wait-for-go",
                                    "--quiet",
                                    "--threads",
                                    "1",
                                    "--signal-rate",
                                    "0",
                                    "--signal",
                                    std::to_string(sig),
                                    "--padding",
                                    std::to_string(padding),
                                    "--handler-stack",
                                    std::to_string(o.handler_stack),
                                    "--duration",
                                    "3600"};
  target.argv.insert(target.argv.end(), workload.begin(), workload.end());
  return target;
}

validate::TargetLabel make_label(const ValidateOptions& o, std::optional<size_t> padding) {
  validate::TargetLabel label{{}, o.lib.empty() ? "" : std::filesystem::absolute(o.lib).string()};
  if (o.pid)
    label.description = fmt::format("process {} (not started by validate)", o.pid);
  else if (!o.command.empty())
    label.description = fmt::format("{}", fmt::join(o.command, " "));
  else
    label.description = fmt::format("unwindtrace-workload-{}, {}handler stack {} B, no storm", o.unwinder,
                                    padding ? fmt::format("padding {} B, ", *padding) : "", o.handler_stack);
  return label;
}

void check_combinations(const ValidateOptions& o, bool unwinder_given, bool padding_given) {
  bool workload = o.command.empty() && !o.pid;
  if (o.pid && !o.crash_it)
    throw UserError(
        ExitCode::Usage,
        fmt::format("validate crashes programs on purpose, so it injects only into processes it starts "
                    "itself; to inject into process {} anyway, add --i-know-this-crashes",
                    o.pid));
  if (o.crash_it && !o.pid) throw UserError(ExitCode::Usage, "--i-know-this-crashes goes with --pid PID");
  if (o.pid && !o.command.empty())
    throw UserError(ExitCode::Usage, "give either --pid or a command, not both");
  if (o.pid && !o.lib.empty())
    throw UserError(ExitCode::Usage, "--lib cannot change a running process's unwinder");
  if (!workload && (unwinder_given || padding_given || o.handler_stack || !o.sweep.empty()))
    throw UserError(
        ExitCode::Usage,
        "--unwinder, --padding, --handler-stack and --sweep-padding configure the bundled workload; "
        "they do not apply to a command or a PID");
  if (!o.sweep.empty() && padding_given)
    throw UserError(ExitCode::Usage, "give --padding or --sweep-padding, not both");
  if (!o.compare.empty() && (!o.lib.empty() || !o.sweep.empty() || !workload))
    throw UserError(ExitCode::Usage, "--compare runs the bundled workload with each library; "
                                     "it does not combine with --lib, --sweep-padding, --pid or a command");
  for (const auto& lib : o.compare)
    if (!std::filesystem::exists(lib)) throw UserError(ExitCode::Usage, fmt::format("--compare: {} does not exist", lib));
  if (!o.lib.empty() && !std::filesystem::exists(o.lib))
    throw UserError(ExitCode::Usage, fmt::format("--lib: {} does not exist", o.lib));
}

void emit(const ValidateOptions& o, const std::string& text, const nlohmann::ordered_json& json) {
  fmt::print(o.json_path == "-" ? stderr : stdout, "{}", text);
  std::fflush(o.json_path == "-" ? stderr : stdout);
  if (o.json_path == "-")
    fmt::print("{}\n", json.dump(2));
  else if (!o.json_path.empty())
    output::write_file_atomically(o.json_path, json.dump(2) + "\n");
}

int exit_code(bool corrupted, bool conclusive) {
  if (corrupted) return static_cast<int>(ExitCode::Exposed);
  return static_cast<int>(conclusive ? ExitCode::Ok : ExitCode::Target);
}

int run_validate(const ValidateOptions& o, bool unwinder_given, bool padding_given) {
  check_combinations(o, unwinder_given, padding_given);
  if (!o.json_path.empty()) output::check_output_path(o.json_path);
  trace::set_libbpf_verbose(o.verbose);
  install_stop_handlers();
  int sig = parse_signal_option(o.signal);
  trace::InjectionOptions options;
  options.sig = sig;
  options.count = o.count;
  options.timeout_s = o.timeout_s;
  // Only the workload resumes thousands of times a second; a command may pause.
  options.idle_s = o.command.empty() && !o.pid ? 2.0 : o.timeout_s;
  options.stop = &stop_requested();
  if (!o.quiet)
    options.on_site = [](const validate::SiteResult& site) {
      fmt::print(stderr, "unwindtrace validate: +{:#x} {}: {} ({} landed, {:.2f} s)\n", site.site.offset,
                 validate::to_string(site.site.kind), validate::to_string(site.outcome), site.landed(),
                 site.end.duration_s);
    };

  trace::InjectionSession session;
  if (!o.compare.empty()) {
    std::array<validate::Compared, 2> compared;
    for (size_t i = 0; i < 2; ++i) {
      ValidateOptions one = o;
      one.lib = o.compare[i];
      options.target = make_target(one, sig, o.padding);
      compared[i] = {session.run(options), make_label(one, o.padding)};
      fmt::print(o.json_path == "-" ? stderr : stdout, "{}", validate::render_text(compared[i].result, compared[i].label));
    }
    emit(o, validate::render_compare_text(compared[0], compared[1]),
         validate::compare_to_json(compared[0], compared[1]));
    // The second library is the candidate: its outcome decides, as it would in a CI gate.
    return exit_code(compared[1].result.corrupted(), compared[1].result.conclusive());
  }
  if (o.sweep.empty()) {
    options.target = make_target(o, sig, o.padding);
    auto result = session.run(options);
    for (const auto& warning : result.warnings) fmt::print(stderr, "unwindtrace: warning: {}\n", warning);
    auto label = make_label(o, o.command.empty() && !o.pid ? std::optional(o.padding) : std::nullopt);
    emit(o, validate::render_text(result, label), validate::to_json(result, label));
    return exit_code(result.corrupted(), result.conclusive());
  }

  std::vector<uint64_t> paddings;
  try {
    paddings = validate::parse_padding_sweep(o.sweep);
  } catch (const std::invalid_argument& e) {
    throw UserError(ExitCode::Usage, fmt::format("--sweep-padding: {}", e.what()));
  }
  std::vector<validate::SweepPoint> points;
  bool corrupted = false, conclusive = true;
  for (uint64_t padding : paddings) {
    if (stop_requested().load()) break;
    if (!o.quiet) fmt::print(stderr, "unwindtrace validate: padding {} B\n", padding);
    options.target = make_target(o, sig, padding);
    points.push_back({padding, session.run(options)});
    for (const auto& routine : points.back().result.routines)  // the same program: no need to look again
      if (!routine.reached) options.unreached.insert({routine.object_path, routine.symbol});
    corrupted |= points.back().result.corrupted();
    conclusive &= points.back().result.conclusive();
  }
  auto label = make_label(o, std::nullopt);
  emit(o, validate::render_sweep_text(points, label), validate::sweep_to_json(points, label));
  return exit_code(corrupted, conclusive);
}

}  // namespace

Action add_validate_command(CLI::App& app) {
  auto options = std::make_shared<ValidateOptions>();
  auto* cmd = app.add_subcommand("validate",
                                 "Inject signals exactly into the unwinder's stack-switch window and "
                                 "show whether they corrupt the resume: prove a fix in seconds");
  cmd->footer(R"(Each instruction of the window (or, without a window, the one right after the stack switch)
gets up to --count signals delivered exactly there, in its own run of the target: a uprobe on
the instruction before it sends the signal to the current thread, and a uprobe defers pending
signals to the next instruction. The kernel records where each signal landed, the slots the
routine still has to read (before the frame and when the thread resumes), and any crash.

Targets: the bundled workload (default: no storm, one thread, --padding and --handler-stack
set the geometry), a command after --, or with --pid PID --i-know-this-crashes a running process.
--lib PATH preloads an unwinder (LD_PRELOAD), e.g. a patched libunwind.so.8.

Examples:
  unwindtrace validate                               Debian's libunwind through the gnu workload
  unwindtrace validate --lib ~/libunwind/src/.libs/libunwind.so.8
  unwindtrace validate --unwinder llvm
  unwindtrace validate --sweep-padding 0:1024:32 --count 50
  unwindtrace validate --compare /usr/lib/x86_64-linux-gnu/libunwind.so.8 ~/libunwind/src/.libs/libunwind.so.8
  unwindtrace validate -- ./my-service --self-test    (it must throw C++ exceptions and handle --signal)

Exit codes (with --compare: of the second library): 0 no injection corrupted, 6 an injection corrupted or crashed the target,
3 nothing could be validated (no routine found or reached, or injections landed elsewhere),
2 usage, 4 missing privileges, 5 kernel feature missing, 1 internal error.
JSON schema: docs/validate.md.)");
  auto* unwinder = cmd->add_option("--unwinder", options->unwinder, "which build of the bundled workload")
                       ->check(CLI::IsMember({"gnu", "llvm", "libgcc"}));
  cmd->add_option("--lib", options->lib, "unwinder library to validate, preloaded into the target");
  cmd->add_option("--signal", options->signal,
                  "signal to inject; the target must handle it (default SIGPROF)");
  cmd->add_option("--handler-stack", options->handler_stack, "bytes of stack the workload's handler uses");
  auto* padding =
      cmd->add_option("--padding", options->padding, "workload: bytes between landing-pad frames (moves D)");
  cmd->add_option("--count", options->count, "injections per instruction")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  cmd->add_option("--timeout", options->timeout_s, "longest run per instruction, in seconds")
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--compare", options->compare,
                  "validate two libraries (A, the reference; B, the candidate) side by side")
      ->expected(2);
  cmd->add_option("--sweep-padding", options->sweep,
                  "workload: FIRST:LAST:STEP paddings, one validation each");
  cmd->add_option("--json", options->json_path, "also write the report as JSON to FILE ('-': stdout)");
  cmd->add_option("--pid", options->pid, "inject into this running process (needs --i-know-this-crashes)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--i-know-this-crashes", options->crash_it, "allow --pid: the process may crash");
  cmd->add_flag("-q,--quiet", options->quiet, "no progress line per instruction");
  cmd->add_flag("-v,--verbose", options->verbose, "show libbpf's messages");
  cmd->add_option("command", options->command, "command to run instead of the workload (after --)");
  return [options, unwinder, padding] {
    return run_validate(*options, unwinder->count() > 0, padding->count() > 0);
  };
}

}  // namespace ut::commands
