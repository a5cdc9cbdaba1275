// The dynamic linker's list of loaded objects in a live process (glibc's r_debug and link_map,
// read the way debuggers read them): which objects, in which order, at which load bias.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ut::proc {

struct LoadedObject {
  // The file, as /proc/PID/maps names it (found from l_ld, so relative or /lib-vs-/usr/lib
  // names resolve to the file actually mapped); "" when it is not a file (the vDSO).
  std::string path;
  std::string name;        // l_name as the dynamic linker recorded it; "" for the executable
  uint64_t load_bias = 0;  // l_addr: run-time address minus link-time address
};

struct LinkMap {
  std::vector<LoadedObject> objects;  // the executable first, then in load order
  // False when the list came from /proc/PID/maps instead (a static executable, or the dynamic
  // linker has not run yet): then only "executable first" holds, the rest is in address order.
  bool order_known = true;
  std::string why_order_unknown;
  bool linker_pending = false;  // exec'd a moment ago: the dynamic linker has not run yet
};

// Throws UserError if the process cannot be inspected (gone, no permission), AnalysisError if
// its dynamic linker state is unreadable (not a 64-bit process, corrupt list).
LinkMap read_link_map(pid_t pid);

// True while a process that has just exec'd waits for its dynamic linker to load its libraries
// (its unwinder is not mapped yet); false when that cannot be read.
bool dynamic_linker_pending(pid_t pid);

}  // namespace ut::proc
