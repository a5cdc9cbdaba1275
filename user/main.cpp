// unwindtrace: catch signals that land in a stack unwinder's context switch.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "analysis/analysis_error.h"
#include "commands/commands.h"
#include "errors.h"
#include "trace/libbpf_log.h"

int main(int argc, char** argv) {
  CLI::App app{"unwindtrace: an eBPF tracer for signals that land inside a stack unwinder's "
               "context switch (GNU libunwind's _Ux86_64_setcontext race)"};
  app.set_version_flag("--version", UT_VERSION);
  app.require_subcommand(1);
  app.footer("Run 'unwindtrace COMMAND --help' for a command's options, output and exit codes.");
  auto attach = ut::commands::add_attach_command(app);
  auto calibrate = ut::commands::add_calibrate_command(app);
  auto demo = ut::commands::add_demo_command(app);
  auto scan = ut::commands::add_scan_command(app);
  auto validate = ut::commands::add_validate_command(app);
  auto report = ut::commands::add_report_command(app);
  auto record = ut::commands::add_record_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(ut::ExitCode::Usage);
  }
  try {
    if (app.got_subcommand("attach")) return attach();
    if (app.got_subcommand("calibrate")) return calibrate();
    if (app.got_subcommand("demo")) return demo();
    if (app.got_subcommand("scan")) return scan();
    if (app.got_subcommand("validate")) return validate();
    if (app.got_subcommand("report")) return report();
    if (app.got_subcommand("record")) return record();
    return static_cast<int>(ut::ExitCode::Usage);
  } catch (const ut::UserError& e) {
    std::string libbpf = ut::trace::take_libbpf_warnings();
    if (e.code() == ut::ExitCode::KernelFeature && !libbpf.empty()) fmt::print(stderr, "{}", libbpf);
    fmt::print(stderr, "unwindtrace: error: {}\n", e.what());
    return static_cast<int>(e.code());
  } catch (const ut::analysis::AnalysisError& e) {
    fmt::print(stderr, "unwindtrace: error: {}\n", e.what());
    return static_cast<int>(ut::ExitCode::Target);
  } catch (const std::exception& e) {
    fmt::print(stderr, "unwindtrace: internal error: {} (please report it)\n", e.what());
    return static_cast<int>(ut::ExitCode::Internal);
  }
}
