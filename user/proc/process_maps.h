// /proc/PID/maps, parsed: which files a process has mapped, where, and from which file offset.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ut::proc {

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t file_offset = 0;
  uint64_t inode = 0;
  std::string perms;  // "r-xp"
  std::string path;   // empty for anonymous mappings
  bool deleted = false;

  bool executable() const { return perms.size() > 2 && perms[2] == 'x'; }
  // Absolute address of file offset `offset`, if this mapping covers it.
  std::optional<uint64_t> address_of_file_offset(uint64_t offset) const;
};

// Pure parser of the maps text; lines it cannot read are skipped.
std::vector<Mapping> parse_maps(std::string_view text);

// Reads /proc/PID/maps; throws UserError(Target) if the process is gone or not inspectable.
std::vector<Mapping> read_maps(pid_t pid);

// The mapping holding `address`, or nullptr.
const Mapping* mapping_containing(const std::vector<Mapping>& maps, uint64_t address);

}  // namespace ut::proc
