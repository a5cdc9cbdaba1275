// Which of the capabilities tracing needs the caller lacks (root has them all).
#pragma once

#include <string>
#include <vector>

namespace ut::trace {

// Names of missing capabilities among CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE (empty when all held).
std::vector<std::string> missing_tracing_capabilities();

// Throws UserError(Privileges) naming the missing capabilities and how to get them.
void require_tracing_privileges(const std::string& command);

}  // namespace ut::trace
