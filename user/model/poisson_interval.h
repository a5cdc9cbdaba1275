// Exact (Garwood) confidence intervals for a Poisson count, from Boost.Math's inverse incomplete
// gamma function: the numbers behind every rate the model reports.
#pragma once

#include <cstdint>

namespace ut::model {

struct Interval {
  double low = 0;
  double high = 0;
};

// Interval for the mean of a Poisson variable observed as `count`; `confidence` e.g. 0.95.
Interval poisson_interval(uint64_t count, double confidence = 0.95);

}  // namespace ut::model
