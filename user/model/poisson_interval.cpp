#include "model/poisson_interval.h"

#include <boost/math/special_functions/gamma.hpp>

namespace ut::model {

Interval poisson_interval(uint64_t count, double confidence) {
  const double tail = (1 - confidence) / 2;
  const double k = static_cast<double>(count);
  Interval interval;
  interval.low = count == 0 ? 0 : boost::math::gamma_p_inv(k, tail);
  interval.high = boost::math::gamma_p_inv(k + 1, 1 - tail);
  return interval;
}

}  // namespace ut::model
