// `validate --compare A B`: two unwinder libraries validated the same way, side by side, so a
// reviewer sees at a glance which instructions corrupt with the old one and survive with the new.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "validate/validate_report.h"
#include "validate/validate_result.h"

namespace ut::validate {

struct Compared {
  ValidateResult result;
  TargetLabel label;
};

// A table: one row per injection site of either library, the outcome under each, then the verdicts.
std::string render_compare_text(const Compared& a, const Compared& b);
nlohmann::ordered_json compare_to_json(const Compared& a, const Compared& b);

}  // namespace ut::validate
