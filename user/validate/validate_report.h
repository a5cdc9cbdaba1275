// The `validate` report: text for people, JSON for CI (schema in docs/validate.md). Both carry
// the same numbers; the verdict decides the exit status.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "validate/padding_sweep.h"
#include "validate/validate_result.h"

namespace ut::validate {

inline constexpr const char* kValidateSchema = "unwindtrace-validate/1";

// What the target was, in one line: "unwindtrace-workload-gnu --padding 0 ...".
struct TargetLabel {
  std::string description;
  std::string lib;  // --lib, "" if none
};

// One line: "CORRUPTED: ...", "no corruption: ...", "nothing to validate: ...".
std::string verdict_line(const ValidateResult& result);

std::string render_text(const ValidateResult& result, const TargetLabel& label);
nlohmann::ordered_json to_json(const ValidateResult& result, const TargetLabel& label);

std::string render_sweep_text(const std::vector<SweepPoint>& points, const TargetLabel& label);
nlohmann::ordered_json sweep_to_json(const std::vector<SweepPoint>& points, const TargetLabel& label);

}  // namespace ut::validate
