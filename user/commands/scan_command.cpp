// unwindtrace scan: which unwinder really runs, and where every stack-switch window is, for
// files, one process, or every process on the host. No BPF: analysis of code and /proc only.
#include <chrono>

#include <fmt/format.h>

#include "commands/commands.h"
#include "errors.h"
#include "output/atomic_file.h"
#include "output/scan_report.h"
#include "proc/process_exposure.h"
#include "proc/process_list.h"

namespace ut::commands {

namespace {

struct ScanOptions {
  std::vector<std::string> files;
  int pid = 0;
  bool all = false;
  std::string json_path;
  std::string fail_on;
  std::vector<std::string> routines;  // OBJ:SYMBOL
};

int run_scan(const ScanOptions& options) {
  if (options.files.empty() && options.pid == 0 && !options.all)
    throw UserError(ExitCode::Usage, "scan needs FILE..., -p PID or --all (see unwindtrace scan --help)");
  if (!options.json_path.empty()) output::check_output_path(options.json_path);
  auto started = std::chrono::steady_clock::now();
  analysis::AnalysisCache cache;
  for (const auto& routine : options.routines) {
    auto colon = routine.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == routine.size())
      throw UserError(ExitCode::Usage, fmt::format("--routine {}: expected OBJ:SYMBOL, e.g. libfoo.so.1:my_resume", routine));
    cache.add_user_routine(routine.substr(0, colon), routine.substr(colon + 1));
  }
  host::PackageIndex packages;
  output::ScanReport report;
  for (const auto& file : options.files) {
    auto object = output::make_scan_object(file, cache.get(file));
    if (auto owner = object.error.empty() ? packages.owner(file) : std::nullopt)
      object.package = fmt::format("{} {} {}", owner->package, owner->version, owner->architecture);
    report.objects.push_back(std::move(object));
  }
  std::vector<pid_t> pids;
  if (options.pid) pids.push_back(options.pid);
  if (options.all) pids = proc::list_pids();
  for (pid_t pid : pids) {
    auto process = proc::assess_process(pid, cache, packages, report.objects);
    bool kernel_thread = process.error.empty() && process.exe.empty();
    if (options.pid && !process.error.empty()) throw UserError(ExitCode::Target, process.error);
    if (!kernel_thread) report.processes.push_back(std::move(process));
  }
  report.objects_examined = cache.lookups();
  report.objects_analysed = cache.objects_analysed();
  report.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (options.json_path == "-") {
    fmt::print("{}\n", output::scan_to_json(report).dump(2));
  } else {
    fmt::print("{}", output::render_scan_text(report));
    if (!options.json_path.empty())
      output::write_file_atomically(options.json_path, output::scan_to_json(report).dump(2) + "\n");
  }
  if (options.fail_on == "exposed" && report.any_exposed()) return static_cast<int>(ExitCode::Exposed);
  return static_cast<int>(ExitCode::Ok);
}

}  // namespace

Action add_scan_command(CLI::App& app) {
  auto options = std::make_shared<ScanOptions>();
  auto* cmd = app.add_subcommand("scan", "Find resume routines and their stack-switch windows in files, a "
                                         "process, or every process: am I exposed, and where?");
  cmd->footer(R"(Analyses machine code only (Capstone over ELF symbols); attaches nothing.
For each object: every known resume / context-switch routine, the instruction that switches
%rsp, and the window of later reads through the abandoned context, by class.
For each process: the objects it maps with such a routine, and the verdict.

Examples:
  unwindtrace scan /usr/lib/x86_64-linux-gnu/libunwind.so.8
  unwindtrace scan -p 1234
  unwindtrace scan --all --json - | jq '.processes[] | select(.exposed)'
  unwindtrace scan --all --fail-on exposed     (CI gate: exit 6 if anything is exposed)

Exit codes: 0 done, 6 exposed with --fail-on exposed, 2 usage, 3 no such process.
Objects that cannot be analysed are reported with the reason; the scan of the rest goes on.)");
  cmd->add_option("files", options->files, "ELF objects to analyse");
  cmd->add_option("-p,--pid", options->pid, "analyse what this process maps")->check(CLI::Range(1, 2147483647));
  cmd->add_flag("--all", options->all, "every process on the host");
  cmd->add_option("--json", options->json_path, "JSON to FILE ('-': stdout instead of the text)");
  cmd->add_option("--routine", options->routines,
                  "also analyse SYMBOL in OBJ (a path or a file name), e.g. libfoo.so.1:my_resume")
      ->allow_extra_args(false);  // one OBJ:SYMBOL per --routine: the files that follow stay files
  cmd->add_option("--fail-on", options->fail_on, "exit 6 when this is found")->check(CLI::IsMember({"exposed"}));
  return [options] { return run_scan(*options); };
}

}  // namespace ut::commands
