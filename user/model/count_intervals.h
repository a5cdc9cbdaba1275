// Intervals and tail probabilities for counted events (hits, crashes): a fleet's figures come
// from small counts, so every rate is given with an exact interval, and every "this host has too
// many" with the probability of seeing that many by chance.
#pragma once

#include <cstdint>

namespace ut::model {

struct Interval {
  double low = 0;
  double high = 0;
};

// Exact (Garwood) two-sided interval for the mean of a Poisson count `k` at `confidence`.
// k = 0 gives [0, -ln((1 - confidence) / 2)].
Interval poisson_interval(uint64_t k, double confidence = 0.95);

// P(X >= k) for X ~ Binomial(n, p): how surprising k or more of n events in one place is when
// that place's expected share is p.
double binomial_upper_tail(uint64_t k, uint64_t n, double p);

}  // namespace ut::model
