// What can change under a traced process without it exiting: it execs another program (same PID,
// same start time, new image) or unmaps a traced object (dlclose). Either way the addresses the
// kernel side watches no longer mean what they meant, so tracing must stop and say why.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proc/process_info.h"

namespace ut::proc {

// A traced routine's first byte: `object_path` must still be mapped executable at `address`.
struct WatchedAddress {
  std::string object_path;
  uint64_t address = 0;
};

// One line saying what changed ("it exec'd /usr/bin/sleep", "... was unmapped (dlclose?)"),
// or nullopt when the process still runs the image it was attached to. A process that is gone
// is not a change: process_alive() tells that.
std::optional<std::string> process_change(const ProcessInfo& attached,
                                          const std::vector<WatchedAddress>& watched);

}  // namespace ut::proc
