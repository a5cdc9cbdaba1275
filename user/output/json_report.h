// The report as JSON (schema in docs/report-schema.md): the same numbers as the text report,
// for scripts and CI. Addresses are "0x..." strings, counts are numbers.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "output/report.h"

namespace ut::output {

inline constexpr int kReportSchemaVersion = 2;  // bump on any incompatible change

nlohmann::json to_json(const Report& report);
std::string render_json(const Report& report);  // pretty-printed, newline-terminated

}  // namespace ut::output
