// The fleet's exposure from merged process records: one entry per process (its traces' last
// snapshots pooled), grouped by unwinder build, executable, host and CPU model, with predicted crashes per
// day and their intervals (docs/fleet.md says how they are computed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fleet/fleet_records.h"
#include "model/count_intervals.h"

namespace ut::fleet {

inline constexpr double kSecondsPerDay = 86400;

// Observed: corrupting window hits over the observed time.
struct CrashForecast {
  double per_day = 0;
  model::Interval interval;  // per day, at `confidence`
  uint64_t corrupting_hits = 0;
  double confidence = 0.95;
};

// Predicted: the exposure model's crash rate of each process that has one (its records'
// exposure_model), plus the observed forecast of the processes without one.
struct PredictedCrashes {
  double per_day = 0;
  model::Interval interval;  // per day: the model's intervals added (one calibration: their errors move together)
  size_t modelled = 0;       // processes with the exposure model
  size_t observed_only = 0;  // processes without one: their observed forecast is added
  // "model", "observed" (no process had a model), "model+observed", or "none"
  const char* source() const;
};

struct ExposureGroup {
  std::string key;  // "libunwind.so.8 (build 1a2b…, libunwind8 1.6.2-3 amd64)", an exe, a host, a CPU model
  size_t processes = 0;
  size_t exposed = 0;  // exposure "exposed" or "hit"
  size_t hosts = 0;
  double observed_s = 0;
  double resumes_per_s = 0;            // summed over the group's processes
  double interrupt_signals_per_s = 0;  // summed
  uint64_t hits = 0;
  uint64_t stuck_threads = 0;  // summed over the group's processes
  PredictedCrashes predicted;
  CrashForecast observed;
};

struct FleetSummary {
  size_t hosts = 0;
  size_t processes = 0;
  size_t exposed = 0;
  double observed_s = 0;
  uint64_t lost_events = 0;      // what the kernel could not record, summed over segments
  uint64_t records_dropped = 0;  // the largest count each host boot's writer reported, summed
  // Threads an earlier window hit sent back into the unwinder, where they spin and never resume:
  // per process the most any of its traces found (a stuck thread stays stuck), summed.
  uint64_t stuck_threads = 0;
  size_t stuck_processes = 0;
  PredictedCrashes predicted;     // fleet-wide
  CrashForecast observed;
  std::vector<ExposureGroup> by_unwinder;
  std::vector<ExposureGroup> by_executable;
  std::vector<ExposureGroup> by_host;
  std::vector<ExposureGroup> by_cpu_model;
};

FleetSummary summarize_exposure(const RecordSet& records, double confidence = 0.95);

// Predicted crashes of processes observed for `observed_s[i]` seconds each with `counts[i]`
// corrupting hits: the pooled count's exact Poisson interval over the effective observation time.
CrashForecast forecast_from_counts(const std::vector<uint64_t>& counts, const std::vector<double>& observed_s,
                                   double confidence = 0.95);

}  // namespace ut::fleet
