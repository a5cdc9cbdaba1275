// Where the bundled workload's builds are: beside the tool (build/workload/), else where this
// build put them. Used by the commands that start it (demo, calibrate, validate).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace ut::commands {

// --sender for the commands that run a storm: "wait" (a thread's next signal waits until its
// last one is handled: every signal sent is handled) or "coalesce" (signals go out on the
// sender's own clock; ones sent while the last is pending merge).
void add_sender_option(CLI::App& cmd, std::string& sender);

// The workload's arguments for that sender.
std::vector<std::string> sender_args(const std::string& sender);

// Path of unwindtrace-workload-UNWINDER (gnu, llvm, libgcc); throws UserError(Usage) when absent.
std::string bundled_workload_path(const std::string& unwinder);

}  // namespace ut::commands
