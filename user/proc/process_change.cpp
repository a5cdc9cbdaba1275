#include "proc/process_change.h"

#include <fmt/format.h>

#include "errors.h"
#include "proc/process_maps.h"

namespace ut::proc {

std::optional<std::string> process_change(const ProcessInfo& attached,
                                          const std::vector<WatchedAddress>& watched) {
  std::vector<Mapping> maps;
  ProcessInfo now;
  try {
    now = read_process_info(attached.pid);
    maps = read_maps(attached.pid);
  } catch (const UserError&) {
    return std::nullopt;  // gone: an exit, not a change
  }
  if (now.start_ticks != attached.start_ticks) return std::nullopt;  // another process: also an exit
  if (now.exe != attached.exe) return fmt::format("it exec'd {}", now.exe);
  for (const WatchedAddress& w : watched) {
    const Mapping* mapping = mapping_containing(maps, w.address);
    if (!mapping || !mapping->executable() || mapping->path != w.object_path)
      return fmt::format("{} was unmapped (dlclose, or an exec of the same program)", w.object_path);
  }
  return std::nullopt;
}

}  // namespace ut::proc
