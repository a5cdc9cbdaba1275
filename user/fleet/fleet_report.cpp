#include "fleet/fleet_report.h"

namespace ut::fleet {

FleetReport build_fleet_report(const RecordSet& records, const ClusterOptions& options) {
  FleetReport report;
  report.files = records.files;
  report.lines = records.lines;
  report.bad_lines = records.bad_lines;
  report.exposure = summarize_exposure(records);
  report.crashes = cluster_crashes(records.crashes, report.exposure.hosts, options);
  return report;
}

}  // namespace ut::fleet
