#include "proc/process_list.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>

#include "errors.h"

namespace ut::proc {

std::vector<pid_t> list_pids() {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (!proc) throw UserError(ExitCode::Target, "cannot list /proc: is procfs mounted?");
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (*end == '\0' && pid > 0 && pid != getpid()) pids.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return pids;
}

}  // namespace ut::proc
