#include <fmt/format.h>

#include "fleet/fleet_report.h"
#include "output/report.h"

namespace ut::fleet {

namespace {

std::string rate_text(double per_day, const model::Interval& interval) {
  return fmt::format("{:.3g} [{:.3g}, {:.3g}]", per_day, interval.low, interval.high);
}

void group_table(std::string& out, const char* title, const std::vector<ExposureGroup>& groups) {
  out += fmt::format("\n{}\n", title);
  out += fmt::format("  {:<52} {:>6} {:>7} {:>5} {:>9} {:>9} {:>6} {:>5}  {:<28} {:<28} {}\n", "", "procs", "exposed",
                     "hosts", "resumes/s", "irq sig/s", "hits", "stuck", "predicted crashes/day [95%]",
                     "observed crashes/day [95%]", "source");
  for (const ExposureGroup& g : groups) {
    std::string key = g.key.size() > 52 ? g.key.substr(0, 51) + "…" : g.key;
    out += fmt::format("  {:<52} {:>6} {:>7} {:>5} {:>9} {:>9} {:>6} {:>5}  {:<28} {:<28} {}\n", key, g.processes,
                       g.exposed, g.hosts, output::compact_count(g.resumes_per_s),
                       output::compact_count(g.interrupt_signals_per_s), g.hits, g.stuck_threads,
                       rate_text(g.predicted.per_day, g.predicted.interval),
                       rate_text(g.observed.per_day, g.observed.interval), g.predicted.source());
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
  if (e.stuck_threads)
    out += fmt::format("Stuck: {} thread(s) in {} process(es) loop in the unwinder, sent back by an earlier window hit: "
                       "they spin and never resume (their hits are not exposure; docs/model.md, \"Stuck threads\")\n",
                       e.stuck_threads, e.stuck_processes);
  out += fmt::format("Predicted window crashes per day, fleet-wide: {} (source {}: the exposure model of {} "
                     "process(es), the observed rate of {} without one)\n",
                     rate_text(e.predicted.per_day, e.predicted.interval), e.predicted.source(), e.predicted.modelled,
                     e.predicted.observed_only);
  out += fmt::format("Observed window crashes per day, fleet-wide:  {} ({:.0f}% interval, from {} corrupting hit(s))\n",
                     rate_text(e.observed.per_day, e.observed.interval), e.observed.confidence * 100,
                     e.observed.corrupting_hits);
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
