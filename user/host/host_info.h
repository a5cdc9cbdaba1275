// What makes one host's signal frames and timings differ from another's.
#pragma once

#include <string>

namespace ut::host {

struct HostInfo {
  std::string hostname;
  std::string kernel_release;
  std::string cpu_model;
};

HostInfo read_host_info();

}  // namespace ut::host
