// What `unwindtrace report` shows: the merged records' exposure and crash populations, built once
// and drawn three ways (text tables, JSON, one self-contained HTML page with SVG plots).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "fleet/crash_clusters.h"
#include "fleet/fleet_records.h"
#include "fleet/fleet_summary.h"

namespace ut::fleet {

struct FleetReport {
  size_t files = 0;
  size_t lines = 0;
  size_t bad_lines = 0;
  FleetSummary exposure;
  CrashClusters crashes;
};

FleetReport build_fleet_report(const RecordSet& records, const ClusterOptions& options = {});

std::string render_fleet_text(const FleetReport& report);
nlohmann::json fleet_to_json(const FleetReport& report);
std::string render_fleet_html(const FleetReport& report);

}  // namespace ut::fleet
