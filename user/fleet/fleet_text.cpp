#include <fmt/format.h>

#include "fleet/fleet_report.h"
#include "output/report.h"

namespace ut::fleet {

namespace {

std::string forecast_text(const CrashForecast& f) {
  return fmt::format("{:.3g} [{:.3g}, {:.3g}]", f.per_day, f.interval.low, f.interval.high);
}

void group_table(std::string& out, const char* title, const std::vector<ExposureGroup>& groups) {
  out += fmt::format("\n{}\n", title);
  out += fmt::format("  {:<52} {:>6} {:>7} {:>5} {:>9} {:>9} {:>6}  {}\n", "", "procs", "exposed", "hosts",
                     "resumes/s", "irq sig/s", "hits", "crashes/day [95%]");
  for (const ExposureGroup& g : groups) {
    std::string key = g.key.size() > 52 ? g.key.substr(0, 51) + "…" : g.key;
    out += fmt::format("  {:<52} {:>6} {:>7} {:>5} {:>9} {:>9} {:>6}  {}\n", key, g.processes, g.exposed, g.hosts,
                       output::compact_count(g.resumes_per_s), output::compact_count(g.interrupt_signals_per_s),
                       g.hits, forecast_text(g.forecast));
  }
}

}  // namespace

std::string render_fleet_text(const FleetReport& report) {
  const FleetSummary& e = report.exposure;
  std::string out = fmt::format("Fleet: {} host(s), {} process(es) traced, {} exposed, {:.0f} process-seconds observed\n",
                                e.hosts, e.processes, e.exposed, e.observed_s);
  out += fmt::format("Records: {} line(s) from {} file(s); {} bad line(s) left out\n", report.lines, report.files,
                     report.bad_lines);
  if (e.lost_events || e.records_dropped)
    out += fmt::format("Incomplete: {} event(s) lost in the kernel, {} record(s) dropped by writers\n",
                       e.lost_events, e.records_dropped);
  out += fmt::format("Predicted window crashes per day, fleet-wide: {} ({:.0f}% interval, from {} corrupting hit(s))\n",
                     forecast_text(e.forecast), e.forecast.confidence * 100, e.forecast.corrupting_hits);
  group_table(out, "Exposure by unwinder build", e.by_unwinder);
  group_table(out, "Exposure by executable", e.by_executable);
  group_table(out, "Exposure by host", e.by_host);
  group_table(out, "Exposure by CPU model", e.by_cpu_model);

  const CrashClusters& c = report.crashes;
  out += fmt::format("\nCrashes by signature and host ({} hosts; a host is an outlier when P(its count | "
                     "spread evenly) < {:.2g})\n", c.hosts, c.threshold);
  if (c.clusters.empty()) out += "  no crash records\n";
  for (const CrashCluster& cluster : c.clusters) {
    out += fmt::format("  {:<28} {:>5} crash(es): {}\n", cluster.signature, cluster.crashes, cluster.reading);
    for (const HostShare& h : cluster.hosts)
      out += fmt::format("    {:<26} {:>5}  expected {:>6.1f}  p={:<9.2g}{}\n", h.host, h.crashes, h.expected,
                         h.p_value, h.outlier ? "  OUTLIER" : "");
  }
  return out;
}

}  // namespace ut::fleet
