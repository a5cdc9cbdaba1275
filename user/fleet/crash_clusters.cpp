#include "fleet/crash_clusters.h"

#include <algorithm>

#include <fmt/format.h>

#include "model/count_intervals.h"

namespace ut::fleet {

const char* to_string(CrashClass cls) {
  switch (cls) {
    case CrashClass::Window: return "window";
    case CrashClass::MisalignedStack: return "misaligned_stack";
    case CrashClass::ReturnToZero: return "return_to_zero";
    case CrashClass::Other: return "other";
  }
  return "other";
}

CrashClass classify(const CrashRecord& crash) {
  if (crash.window_hit_before || (crash.inside_unwinder && (crash.return_to_zero || crash.non_canonical_ip)))
    return CrashClass::Window;
  if (crash.rsp_misaligned_by_8) return CrashClass::MisalignedStack;
  if (crash.return_to_zero) return CrashClass::ReturnToZero;
  return CrashClass::Other;
}

namespace {

std::string concentrated_reading(CrashClass cls, const std::vector<std::string>& hosts) {
  std::string names;
  for (const auto& host : hosts) names += (names.empty() ? "" : ", ") + host;
  switch (cls) {
    case CrashClass::MisalignedStack:
      return fmt::format("concentrated on {}: suspect hardware (registers corrupted on that host)", names);
    case CrashClass::Window:
      return fmt::format("concentrated on {}: the exposed workload runs mostly there", names);
    default: return fmt::format("concentrated on {}", names);
  }
}

}  // namespace

CrashClusters cluster_crashes(const std::vector<CrashRecord>& crashes, size_t fleet_hosts,
                              const ClusterOptions& options) {
  CrashClusters result;
  std::map<std::string, std::map<std::string, uint64_t>> counts;  // signature -> host -> crashes
  std::map<std::string, CrashClass> classes;
  std::set<std::string> crash_hosts;
  for (const CrashRecord& crash : crashes) {
    CrashClass cls = classify(crash);
    std::string signature = fmt::format("{} {}", crash.signal, to_string(cls));
    counts[signature][crash.host]++;
    classes[signature] = cls;
    crash_hosts.insert(crash.host);
  }
  result.hosts = std::max(fleet_hosts, crash_hosts.size());
  size_t tests = 0;
  for (const auto& [signature, by_host] : counts) tests += by_host.size();
  result.threshold = tests ? options.alpha / static_cast<double>(tests) : options.alpha;
  double share = result.hosts ? 1.0 / static_cast<double>(result.hosts) : 1.0;

  for (const auto& [signature, by_host] : counts) {
    CrashCluster cluster;
    cluster.signature = signature;
    cluster.cls = classes[signature];
    for (const auto& [host, n] : by_host) cluster.crashes += n;
    std::vector<std::string> outliers;
    for (const auto& [host, n] : by_host) {
      HostShare h{host, n, static_cast<double>(cluster.crashes) * share,
                  model::binomial_upper_tail(n, cluster.crashes, share), false};
      h.outlier = n >= options.min_crashes && h.p_value < result.threshold;
      if (h.outlier) outliers.push_back(host);
      cluster.hosts.push_back(h);
    }
    std::stable_sort(cluster.hosts.begin(), cluster.hosts.end(),
                     [](const HostShare& a, const HostShare& b) { return a.crashes > b.crashes; });
    cluster.concentrated = !outliers.empty();
    cluster.reading = cluster.concentrated
                          ? concentrated_reading(cluster.cls, outliers)
                          : fmt::format("spread over {} of {} hosts", by_host.size(), result.hosts);
    result.clusters.push_back(std::move(cluster));
  }
  std::stable_sort(result.clusters.begin(), result.clusters.end(),
                   [](const CrashCluster& a, const CrashCluster& b) { return a.crashes > b.crashes; });
  return result;
}

}  // namespace ut::fleet
