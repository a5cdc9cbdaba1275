// Who a host is, for records that are merged across a fleet: a stable name, the boot it is in
// (a reboot starts a new population), and the facts that change signal-frame geometry.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "host/host_info.h"

namespace ut::host {

struct HostIdentity {
  HostInfo info;                       // hostname, kernel release, CPU model
  std::string boot_id;                 // /proc/sys/kernel/random/boot_id, "" if unreadable
  std::vector<std::string> xsave_features;  // CPU flags that size the XSAVE area, as /proc/cpuinfo names them
};

HostIdentity read_host_identity();

// The flags of the first "flags" line of /proc/cpuinfo text that decide the XSAVE area's size
// (xsave*, avx*, amx*, pku, ...), in the order listed.
std::vector<std::string> xsave_features_from_cpuinfo(std::string_view cpuinfo);

}  // namespace ut::host
