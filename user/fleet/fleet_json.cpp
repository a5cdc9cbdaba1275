#include "fleet/fleet_report.h"

namespace ut::fleet {

namespace {

using nlohmann::json;

json predicted_json(const PredictedCrashes& p) {
  return {{"per_day", p.per_day},
          {"low_per_day", p.interval.low},
          {"high_per_day", p.interval.high},
          {"source", p.source()},
          {"processes_modelled", p.modelled},
          {"processes_observed_only", p.observed_only}};
}

json forecast_json(const CrashForecast& f) {
  return {{"per_day", f.per_day},
          {"low_per_day", f.interval.low},
          {"high_per_day", f.interval.high},
          {"confidence", f.confidence},
          {"corrupting_hits", f.corrupting_hits}};
}

json groups_json(const std::vector<ExposureGroup>& groups) {
  json out = json::array();
  for (const ExposureGroup& g : groups)
    out.push_back({{"key", g.key},
                   {"processes", g.processes},
                   {"exposed", g.exposed},
                   {"hosts", g.hosts},
                   {"observed_s", g.observed_s},
                   {"resumes_per_s", g.resumes_per_s},
                   {"interrupt_signals_per_s", g.interrupt_signals_per_s},
                   {"hits", g.hits},
                   {"stuck_threads", g.stuck_threads},
                   {"predicted_crashes", predicted_json(g.predicted)},
                   {"observed_crashes", forecast_json(g.observed)}});
  return out;
}

}  // namespace

json fleet_to_json(const FleetReport& report) {
  const FleetSummary& e = report.exposure;
  json clusters = json::array();
  for (const CrashCluster& c : report.crashes.clusters) {
    json hosts = json::array();
    for (const HostShare& h : c.hosts)
      hosts.push_back({{"host", h.host},
                       {"crashes", h.crashes},
                       {"expected", h.expected},
                       {"p_value", h.p_value},
                       {"outlier", h.outlier}});
    clusters.push_back({{"signature", c.signature},
                        {"class", to_string(c.cls)},
                        {"crashes", c.crashes},
                        {"concentrated", c.concentrated},
                        {"reading", c.reading},
                        {"hosts", hosts}});
  }
  return {{"input", {{"files", report.files}, {"records", report.lines}, {"bad_lines", report.bad_lines}}},
          {"fleet",
           {{"hosts", e.hosts},
            {"processes", e.processes},
            {"exposed", e.exposed},
            {"observed_s", e.observed_s},
            {"lost_events", e.lost_events},
            {"records_dropped", e.records_dropped},
            {"stuck_threads", e.stuck_threads},
            {"processes_with_stuck_threads", e.stuck_processes},
            {"predicted_crashes", predicted_json(e.predicted)},
            {"observed_crashes", forecast_json(e.observed)}}},
          {"by_unwinder", groups_json(e.by_unwinder)},
          {"by_executable", groups_json(e.by_executable)},
          {"by_host", groups_json(e.by_host)},
          {"by_cpu_model", groups_json(e.by_cpu_model)},
          {"crashes",
           {{"hosts", report.crashes.hosts}, {"threshold", report.crashes.threshold}, {"clusters", clusters}}}};
}

}  // namespace ut::fleet
