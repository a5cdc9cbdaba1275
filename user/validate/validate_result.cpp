#include "validate/validate_result.h"

#include <algorithm>

namespace ut::validate {

bool ValidateResult::corrupted() const {
  return std::any_of(sites.begin(), sites.end(),
                     [](const SiteResult& s) { return is_corruption(s.outcome); });
}

bool ValidateResult::conclusive() const {
  bool reached = false;
  for (const auto& site : sites) {
    if (site.outcome == Outcome::Inconclusive) return false;
    reached |= site.outcome != Outcome::NotReached;
  }
  return reached;
}

}  // namespace ut::validate
