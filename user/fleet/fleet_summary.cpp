#include "fleet/fleet_summary.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace ut::fleet {

namespace {

// A process across its traces: the last snapshot of each trace, added up.
struct PooledProcess {
  const ProcessRecord* first = nullptr;
  double observed_s = 0;
  uint64_t hits = 0;
  uint64_t corrupting_hits = 0;
  uint64_t stuck_threads = 0;  // the most one trace found: a later trace finds the same ones again
  double resume_events = 0;  // rate × time, to average rates over the traces
  double interrupt_signals = 0;
  bool exposed = false;
  double modelled_s = 0;   // seconds of segments with the exposure model
  ModelRate model_x_s;     // their rates × seconds, to average over those segments
  std::optional<ModelRate> model() const {
    if (modelled_s <= 0) return std::nullopt;
    return ModelRate{model_x_s.value / modelled_s, model_x_s.low / modelled_s, model_x_s.high / modelled_s};
  }
};

// The model needs a resume rate: full and sampled traces have one (sampled and budget-degraded
// ones over the time the resume probes counted). Signal-only traces count no resume: their
// prediction is not used.
std::optional<ModelRate> usable_model(const ProcessRecord& r) {
  if (r.mode == "signal_only") return std::nullopt;
  return r.model_crashes_per_s;
}

using ProcessKey = std::tuple<std::string, std::string, int32_t, uint64_t>;  // host, boot, pid, start

std::vector<PooledProcess> pool_processes(const RecordSet& records) {
  // Snapshots hold totals since their trace started: keep each trace's longest.
  std::map<std::pair<ProcessKey, std::string>, const ProcessRecord*> last_snapshot;
  for (const ProcessRecord& r : records.processes) {
    auto& kept = last_snapshot[{{r.host, r.boot_id, r.pid, r.process_start_ticks}, r.started_at}];
    if (!kept || r.duration_s >= kept->duration_s) kept = &r;
  }
  std::map<ProcessKey, PooledProcess> pooled;
  for (const auto& [key, r] : last_snapshot) {
    PooledProcess& p = pooled[key.first];
    if (!p.first) p.first = r;
    p.observed_s += r->duration_s;
    p.hits += r->hits;
    p.corrupting_hits += r->corrupting_hits;
    p.stuck_threads = std::max(p.stuck_threads, r->stuck_threads);
    p.resume_events += r->resumes_per_s * r->duration_s;
    p.interrupt_signals += r->interrupt_signals_per_s * r->duration_s;
    p.exposed = p.exposed || r->exposure != "not_exposed";
    if (const auto m = usable_model(*r)) {
      p.modelled_s += r->duration_s;
      p.model_x_s.value += m->value * r->duration_s;
      p.model_x_s.low += m->low * r->duration_s;
      p.model_x_s.high += m->high * r->duration_s;
    }
  }
  std::vector<PooledProcess> out;
  for (auto& [key, p] : pooled) out.push_back(p);
  return out;
}

std::string unwinder_key(const ProcessRecord& r) {
  if (r.unwinder_object.empty()) return fmt::format("(not exposed) {}", r.unwinder_binding);
  std::string name = std::filesystem::path(r.unwinder_object).filename().string();
  std::string build = r.unwinder_build_id.empty() ? "no build-id" : "build " + r.unwinder_build_id.substr(0, 12);
  return r.unwinder_package.empty() ? fmt::format("{} ({})", name, build)
                                    : fmt::format("{} ({}, {})", name, build, r.unwinder_package);
}

// The model's rates of the processes that have one, summed, plus the observed forecast of the rest.
PredictedCrashes predict(const std::vector<const PooledProcess*>& processes, double confidence) {
  PredictedCrashes predicted;
  std::vector<uint64_t> counts;
  std::vector<double> times;
  for (const PooledProcess* p : processes) {
    if (auto m = p->model()) {
      predicted.modelled++;
      predicted.per_day += m->value * kSecondsPerDay;
      predicted.interval.low += m->low * kSecondsPerDay;
      predicted.interval.high += m->high * kSecondsPerDay;
    } else {
      predicted.observed_only++;
      counts.push_back(p->corrupting_hits);
      times.push_back(p->observed_s);
    }
  }
  auto rest = forecast_from_counts(counts, times, confidence);
  predicted.per_day += rest.per_day;
  predicted.interval.low += rest.interval.low;
  predicted.interval.high += rest.interval.high;
  return predicted;
}

std::vector<ExposureGroup> group_by(const std::vector<PooledProcess>& processes,
                                    const std::function<std::string(const ProcessRecord&)>& key_of,
                                    double confidence) {
  struct Acc {
    ExposureGroup group;
    std::set<std::string> hosts;
    std::vector<uint64_t> counts;
    std::vector<double> times;
    std::vector<const PooledProcess*> members;
  };
  std::map<std::string, Acc> groups;
  for (const PooledProcess& p : processes) {
    Acc& acc = groups[key_of(*p.first)];
    acc.group.processes++;
    acc.group.exposed += p.exposed;
    acc.group.observed_s += p.observed_s;
    acc.group.hits += p.hits;
    acc.group.stuck_threads += p.stuck_threads;
    if (p.observed_s > 0) {
      acc.group.resumes_per_s += p.resume_events / p.observed_s;
      acc.group.interrupt_signals_per_s += p.interrupt_signals / p.observed_s;
    }
    acc.hosts.insert(p.first->host);
    acc.counts.push_back(p.corrupting_hits);
    acc.times.push_back(p.observed_s);
    acc.members.push_back(&p);
  }
  std::vector<ExposureGroup> out;
  for (auto& [key, acc] : groups) {
    acc.group.key = key;
    acc.group.hosts = acc.hosts.size();
    acc.group.observed = forecast_from_counts(acc.counts, acc.times, confidence);
    acc.group.predicted = predict(acc.members, confidence);
    out.push_back(std::move(acc.group));
  }
  std::stable_sort(out.begin(), out.end(), [](const ExposureGroup& a, const ExposureGroup& b) {
    return std::tie(b.predicted.per_day, b.observed.per_day, b.exposed, b.processes) <
           std::tie(a.predicted.per_day, a.observed.per_day, a.exposed, a.processes);
  });
  return out;
}

}  // namespace

const char* PredictedCrashes::source() const {
  if (modelled && observed_only) return "model+observed";
  if (modelled) return "model";
  return observed_only ? "observed" : "none";
}

CrashForecast forecast_from_counts(const std::vector<uint64_t>& counts, const std::vector<double>& observed_s,
                                   double confidence) {
  CrashForecast forecast;
  forecast.confidence = confidence;
  double rate = 0, shortest = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (observed_s[i] <= 0) continue;
    rate += static_cast<double>(counts[i]) / observed_s[i];
    forecast.corrupting_hits += counts[i];
    shortest = shortest == 0 ? observed_s[i] : std::min(shortest, observed_s[i]);
  }
  if (shortest == 0) return forecast;  // nothing observed: no forecast, not a forecast of zero
  // With equal observation times this is exact: K ~ Poisson(total rate × T). Without any hit, the
  // shortest observation bounds the rate from above, conservatively.
  double effective_s = forecast.corrupting_hits ? static_cast<double>(forecast.corrupting_hits) / rate : shortest;
  auto interval = model::poisson_interval(forecast.corrupting_hits, confidence);
  forecast.per_day = rate * kSecondsPerDay;
  forecast.interval = {interval.low / effective_s * kSecondsPerDay, interval.high / effective_s * kSecondsPerDay};
  return forecast;
}

FleetSummary summarize_exposure(const RecordSet& records, double confidence) {
  FleetSummary summary;
  auto processes = pool_processes(records);
  std::set<std::string> hosts;
  // records_dropped is the host writer's running total: the largest per host boot counts. Lost
  // events are each segment's own: the largest record of a segment, summed over segments.
  std::map<std::pair<std::string, std::string>, uint64_t> dropped_per_boot;
  std::map<std::pair<ProcessKey, std::string>, uint64_t> lost_per_segment;
  for (const auto& [name, host] : records.hosts) hosts.insert(name);
  for (const ProcessRecord& r : records.processes) {
    hosts.insert(r.host);
    auto& dropped = dropped_per_boot[{r.host, r.boot_id}];
    dropped = std::max(dropped, r.records_dropped);
    auto& lost = lost_per_segment[{{r.host, r.boot_id, r.pid, r.process_start_ticks}, r.started_at}];
    lost = std::max(lost, r.lost_events);
  }
  for (const CrashRecord& c : records.crashes) hosts.insert(c.host);
  summary.hosts = hosts.size();
  summary.processes = processes.size();
  std::vector<uint64_t> counts;
  std::vector<double> times;
  std::vector<const PooledProcess*> all;
  for (const PooledProcess& p : processes) {
    summary.exposed += p.exposed;
    summary.observed_s += p.observed_s;
    summary.stuck_threads += p.stuck_threads;
    summary.stuck_processes += p.stuck_threads > 0;
    counts.push_back(p.corrupting_hits);
    times.push_back(p.observed_s);
    all.push_back(&p);
  }
  for (const auto& [boot, dropped] : dropped_per_boot) summary.records_dropped += dropped;
  for (const auto& [segment, lost] : lost_per_segment) summary.lost_events += lost;
  summary.observed = forecast_from_counts(counts, times, confidence);
  summary.predicted = predict(all, confidence);
  summary.by_unwinder = group_by(processes, unwinder_key, confidence);
  summary.by_executable = group_by(
      processes,
      [](const ProcessRecord& r) {
        return r.exe_build_id.empty() ? r.exe : fmt::format("{} (build {})", r.exe, r.exe_build_id.substr(0, 12));
      },
      confidence);
  summary.by_host = group_by(processes, [](const ProcessRecord& r) { return r.host; }, confidence);
  summary.by_cpu_model = group_by(
      processes,
      [&records](const ProcessRecord& r) {
        auto host = records.hosts.find(r.host);
        return host == records.hosts.end() || host->second.cpu_model.empty() ? std::string("(no host record)")
                                                                            : host->second.cpu_model;
      },
      confidence);
  return summary;
}

}  // namespace ut::fleet
