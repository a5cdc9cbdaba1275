#include "host/host_info.h"

#include <sys/utsname.h>

#include <fstream>

namespace ut::host {

HostInfo read_host_info() {
  HostInfo info;
  struct utsname names {};
  if (uname(&names) == 0) {
    info.hostname = names.nodename;
    info.kernel_release = names.release;
  }
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (!line.starts_with("model name")) continue;
    auto colon = line.find(':');
    if (colon != std::string::npos) info.cpu_model = line.substr(line.find_first_not_of(' ', colon + 1));
    break;
  }
  return info;
}

}  // namespace ut::host
