// Every process on the host, as /proc lists it.
#pragma once

#include <sys/types.h>

#include <vector>

namespace ut::proc {

// PIDs in /proc, without the caller's own. Throws UserError(Target) when /proc cannot be listed.
std::vector<pid_t> list_pids();

}  // namespace ut::proc
