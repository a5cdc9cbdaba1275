// Identity of a process: name, executable, start time (to notice a recycled PID).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace ut::proc {

struct ProcessInfo {
  pid_t pid = 0;
  std::string comm;
  std::string exe;
  uint64_t start_ticks = 0;  // field 22 of /proc/PID/stat
};

// Throws UserError(Target) when there is no such process.
ProcessInfo read_process_info(pid_t pid);
// Still the same process (same start time), and not a zombie?
bool process_alive(const ProcessInfo& info);
// Not alive, or on its way out: its memory is released early in exit, before it is a zombie.
bool process_exiting(const ProcessInfo& info);
// Start time (clock ticks since boot) and state letter parsed from /proc/PID/stat text.
std::optional<std::pair<uint64_t, char>> parse_stat_start(const std::string& stat_text);

}  // namespace ut::proc
