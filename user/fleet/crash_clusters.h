// Crashes grouped by signature and host, to tell populations apart: a cause spread across the
// fleet (the unwinder's window, wherever the exposed workload runs) from one concentrated on a
// host (misaligned-stack crashes on one machine: suspect hardware). docs/fleet.md gives the test.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fleet/fleet_records.h"

namespace ut::fleet {

enum class CrashClass {
  Window,           // a window hit preceded it, or it returned to 0 / non-canonical inside an unwinder
  MisalignedStack,  // %rsp off by 8 at the fault, no window involved
  ReturnToZero,     // jumped to 0 outside any unwinder
  Other,
};
const char* to_string(CrashClass cls);  // "window", "misaligned_stack", "return_to_zero", "other"
CrashClass classify(const CrashRecord& crash);

struct HostShare {
  std::string host;
  uint64_t crashes = 0;
  double expected = 0;  // crashes this host would have if the signature were spread evenly
  double p_value = 1;   // P(this many or more | spread evenly), binomial
  bool outlier = false;
};

struct CrashCluster {
  std::string signature;  // "SIGSEGV window"
  CrashClass cls = CrashClass::Other;
  uint64_t crashes = 0;
  std::vector<HostShare> hosts;  // every host with a crash of this signature, most first
  bool concentrated = false;     // some host is an outlier
  std::string reading;           // one line: "spread over 6 hosts" / "concentrated on node-3: suspect hardware"
};

struct ClusterOptions {
  double alpha = 0.01;          // family-wise: divided over every (signature, host) pair tested
  uint64_t min_crashes = 3;     // fewer on a host is never called an outlier
};

struct CrashClusters {
  size_t hosts = 0;  // hosts in the fleet (any record), the denominator of each host's share
  double threshold = 0;  // the per-test p-value a host must be under
  std::vector<CrashCluster> clusters;  // most crashes first
};

// `fleet_hosts`: every host seen in any record (hosts without crashes count: they are evidence
// that a cause is not everywhere).
CrashClusters cluster_crashes(const std::vector<CrashRecord>& crashes, size_t fleet_hosts,
                              const ClusterOptions& options = {});

}  // namespace ut::fleet
