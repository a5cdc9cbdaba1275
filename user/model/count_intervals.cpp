#include "model/count_intervals.h"

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/special_functions/gamma.hpp>

namespace ut::model {

Interval poisson_interval(uint64_t k, double confidence) {
  double tail = (1 - confidence) / 2;
  Interval interval;
  if (k > 0) interval.low = boost::math::gamma_p_inv(static_cast<double>(k), tail);
  interval.high = boost::math::gamma_q_inv(static_cast<double>(k + 1), tail);
  return interval;
}

double binomial_upper_tail(uint64_t k, uint64_t n, double p) {
  if (k == 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  boost::math::binomial_distribution<double> dist(static_cast<double>(n), p);
  return boost::math::cdf(boost::math::complement(dist, static_cast<double>(k - 1)));
}

}  // namespace ut::model
