// Sampled resume tracing, the arithmetic: a duty cycle (resume probes attached for a fraction of
// each period) and the scaling of what was counted during the on-time back to a rate, with an
// error bar. Pure C++: the trace session feeds it, the report reads it, unit tests check it.
#pragma once

#include <cstdint>
#include <optional>

namespace ut::model {

// How much of the resume side is traced; the signal side is always traced in full.
enum class TraceMode {
  SignalOnly,  // no resume probe: signals, counters and hits only
  Full,        // resume probes attached throughout
  Sampled,     // resume probes attached for a duty cycle; resume rates are estimates
};
const char* to_string(TraceMode mode);  // "signal_only", "full", "sampled"

// Resume probes attached for `fraction` of every `period_s`, from the start of each period.
struct DutyCycle {
  double fraction = 0.05;
  double period_s = 10;
  double on_s() const { return fraction * period_s; }
};

// A rate and one standard error, in events per second.
struct RateEstimate {
  double per_s = 0;
  double error_per_s = 0;
  bool from_periods = false;  // the error comes from the spread between periods, not Poisson
};

// Counting error alone: sqrt(count) / seconds (a zero count is given the error of one).
RateEstimate poisson_rate(uint64_t count, double seconds);

// Counts of the on-periods of one process, accumulated in constant memory.
class SampledRate {
 public:
  void add_period(uint64_t count, double seconds);

  uint32_t periods() const { return periods_; }
  uint64_t count() const { return count_; }
  double seconds() const { return seconds_; }
  // count / seconds. The error is the larger of Poisson's and the standard error from the
  // periods' spread (time-weighted; needs 2 periods): the rate itself may drift between periods,
  // which Poisson alone would hide. Unset before any on-time.
  std::optional<RateEstimate> estimate() const;

 private:
  uint32_t periods_ = 0;
  uint64_t count_ = 0;
  double seconds_ = 0;
  double sum_count_squared_over_seconds_ = 0;  // sum of c_i^2 / t_i
};

}  // namespace ut::model
