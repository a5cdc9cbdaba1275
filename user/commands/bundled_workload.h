// Where the bundled workload's builds are: beside the tool (build/workload/), else where this
// build put them. Used by the commands that start it (demo, validate).
#pragma once

#include <string>

namespace ut::commands {

// Path of unwindtrace-workload-UNWINDER (gnu, llvm, libgcc); throws UserError(Usage) when absent.
std::string bundled_workload_path(const std::string& unwinder);

}  // namespace ut::commands
