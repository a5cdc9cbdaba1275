// Each command registers itself on the CLI and runs when selected; commands only parse
// options, wire the pipeline stages together and render, so they stay thin.
#pragma once

#include <CLI/CLI.hpp>

#include <atomic>
#include <functional>

namespace ut::commands {

// The command's action, run by main() after parsing; returns the process exit code.
using Action = std::function<int()>;

Action add_attach_command(CLI::App& app);
Action add_calibrate_command(CLI::App& app);
Action add_demo_command(CLI::App& app);
Action add_scan_command(CLI::App& app);
Action add_validate_command(CLI::App& app);
Action add_report_command(CLI::App& app);
Action add_record_command(CLI::App& app);

// Set by SIGINT/SIGTERM once install_stop_handlers() ran: the trace loop ends cleanly.
const std::atomic<bool>& stop_requested();
void install_stop_handlers();

}  // namespace ut::commands
