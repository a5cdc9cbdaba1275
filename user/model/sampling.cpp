#include "model/sampling.h"

#include <algorithm>
#include <cmath>

namespace ut::model {

const char* to_string(TraceMode mode) {
  switch (mode) {
    case TraceMode::SignalOnly: return "signal_only";
    case TraceMode::Full: return "full";
    case TraceMode::Sampled: return "sampled";
  }
  return "?";
}

RateEstimate poisson_rate(uint64_t count, double seconds) {
  if (seconds <= 0) return {};
  const double n = static_cast<double>(count);
  return {n / seconds, std::sqrt(std::max(n, 1.0)) / seconds, false};
}

void SampledRate::add_period(uint64_t count, double seconds) {
  if (seconds <= 0) return;  // a period cut to nothing tells nothing
  ++periods_;
  count_ += count;
  seconds_ += seconds;
  const double c = static_cast<double>(count);
  sum_count_squared_over_seconds_ += c * c / seconds;
}

std::optional<RateEstimate> SampledRate::estimate() const {
  if (seconds_ <= 0) return std::nullopt;
  RateEstimate rate = poisson_rate(count_, seconds_);
  if (periods_ < 2) return rate;
  // With r_i = c_i / t_i and r = sum c / sum t: sum t_i (r_i - r)^2 = sum c_i^2 / t_i - r sum c.
  // Its expectation is (k - 1) * var(one second's count); var(r) = that / sum t.
  const double spread =
      std::max(0.0, sum_count_squared_over_seconds_ - rate.per_s * static_cast<double>(count_));
  const double from_periods = std::sqrt(spread / (periods_ - 1) / seconds_);
  if (from_periods > rate.error_per_s) {
    rate.error_per_s = from_periods;
    rate.from_periods = true;
  }
  return rate;
}

}  // namespace ut::model
