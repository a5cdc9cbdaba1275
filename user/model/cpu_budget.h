// The CPU budget host mode holds itself to: the tracer's own cost (its user-space CPU plus the
// time its BPF programs run inside traced processes) over a sliding window, as a percentage of
// one CPU. Over the budget, tracing degrades one step at a time; well under it, it recovers one
// step at a time. Every step is handed back to the caller to log, record and count. Pure C++:
// the host session measures and applies, unit tests check the decisions.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "model/sampling.h"

namespace ut::model {

// Steps, cheapest last. A step that changes nothing for the mode traced is skipped.
enum class BudgetLevel {
  Normal,          // as configured
  ReducedDuty,     // resume probes a quarter of the configured share of time (full: 25 %)
  SignalOnly,      // no resume probe: the signal hook only
  NoNewProcesses,  // also no rescans: processes already traced stay, no new one is added
};
inline constexpr int kBudgetLevels = 4;
const char* to_string(BudgetLevel level);  // "normal", "reduced_duty", "signal_only", "no_new_processes"

struct BudgetPolicy {
  double percent = 10;               // of one CPU
  double window_s = 10;              // the sliding window a decision looks at
  double recover_fraction = 0.5;     // step back up when under percent × this
  bool resume_probes = true;         // the mode has resume probes (full, sampled) to reduce
};

// The tracer's cumulative cost at one moment: seconds since start, nanoseconds of CPU used.
struct CostSample {
  double at_s = 0;
  uint64_t cpu_ns = 0;
};

struct BudgetStep {
  BudgetLevel from = BudgetLevel::Normal;
  BudgetLevel to = BudgetLevel::Normal;
  double used_percent = 0;  // over the window that decided it
  double at_s = 0;
  bool degraded() const { return to > from; }
};

class CpuBudget {
 public:
  explicit CpuBudget(BudgetPolicy policy);

  // Adds a sample (cumulative cost, times increasing). Once the samples since the last step span
  // the window, decides: a step when over budget or well under it, nothing otherwise. After a
  // step the window starts again, so the next decision measures the new level only. A step up
  // waits until the level has held for its hold time: one window at first, doubled each time a
  // step up had to be taken back at once (levels can differ in cost by far more than the
  // budget's margin, which would otherwise swing between them every window).
  std::optional<BudgetStep> add(CostSample sample);

  BudgetLevel level() const { return level_; }
  // Over the current window once it has two samples; right after a step, the window that decided it.
  std::optional<double> used_percent() const;
  uint64_t degradations() const { return degradations_; }
  uint64_t recoveries() const { return recoveries_; }
  double recover_hold_s() const { return recover_hold_s_; }
  const BudgetPolicy& policy() const { return policy_; }

 private:
  BudgetLevel next(BudgetLevel from, int direction) const;

  BudgetPolicy policy_;
  BudgetLevel level_ = BudgetLevel::Normal;
  std::deque<CostSample> window_;
  std::optional<double> decided_percent_;
  double last_step_at_s_ = 0;
  double recover_hold_s_;
  bool last_step_up_ = false;
  uint64_t degradations_ = 0;
  uint64_t recoveries_ = 0;
};

// The resume duty cycle a level leaves: the configured one, a quarter of it, or none (signal
// only). `configured` is unset in signal-only mode; full mode is a cycle of fraction 1.
std::optional<DutyCycle> budget_duty_cycle(BudgetLevel level, std::optional<DutyCycle> configured);

}  // namespace ut::model
