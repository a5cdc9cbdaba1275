// Merging records from a fleet (docs/fleet.md): processes pooled over their interval records,
// exposure grouped, the crash forecast's interval, the two crash populations told apart, bad
// lines reported with file:line and left out, and renderers that agree.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "errors.h"
#include "fleet/fleet_report.h"
#include "synthetic_fleet.h"

namespace ut::fleet {
namespace {

namespace fs = std::filesystem;
using namespace ut::testing;

RecordSet synthetic_records() {
  RecordSet set;
  std::string reason;
  for (const auto& [host, records] : synthetic_fleet())
    for (const auto& record : records) EXPECT_TRUE(add_record_line(record.dump(), set, reason)) << reason;
  return set;
}

const CrashCluster& cluster_of(const FleetReport& report, CrashClass cls) {
  for (const CrashCluster& c : report.crashes.clusters)
    if (c.cls == cls) return c;
  throw std::runtime_error("no such cluster");
}

TEST(FleetReport, ExposureTotalsAndGroups) {
  auto report = build_fleet_report(synthetic_records());
  const FleetSummary& e = report.exposure;
  EXPECT_EQ(e.hosts, size_t(kFleetHosts));
  EXPECT_EQ(e.processes, size_t(2 * kFleetHosts));
  EXPECT_EQ(e.exposed, size_t(kFleetHosts));
  ASSERT_EQ(e.by_unwinder.size(), 2u);
  EXPECT_NE(e.by_unwinder[0].key.find("libunwind.so.8"), std::string::npos);  // the one with crashes first
  EXPECT_NE(e.by_unwinder[0].key.find("libunwind8 1.6.2-3"), std::string::npos);
  EXPECT_EQ(e.by_unwinder[0].hosts, size_t(kFleetHosts));
  EXPECT_EQ(e.by_host.size(), size_t(kFleetHosts));
  EXPECT_EQ(e.by_cpu_model.size(), 2u);
  EXPECT_EQ(e.by_executable.size(), 2u);
}

TEST(FleetReport, ForecastIsTheSumOfRatesWithThePooledCountsInterval) {
  auto report = build_fleet_report(synthetic_records());
  const CrashForecast& f = report.exposure.observed;
  uint64_t hits = uint64_t(kFleetHosts) * kCorruptingHitsPerIngest;
  EXPECT_EQ(f.corrupting_hits, hits);
  double per_day = double(hits) / kCampaignSeconds * kSecondsPerDay;
  EXPECT_NEAR(f.per_day, per_day, 1e-6);
  auto counts = model::poisson_interval(hits);
  EXPECT_NEAR(f.interval.low, counts.low / kCampaignSeconds * kSecondsPerDay, 1e-6);
  EXPECT_NEAR(f.interval.high, counts.high / kCampaignSeconds * kSecondsPerDay, 1e-6);
  EXPECT_LT(f.interval.low, f.per_day);
  EXPECT_GT(f.interval.high, f.per_day);
}

TEST(FleetReport, NoHitsGiveZeroWithAnUpperBoundFromTheShortestObservation) {
  auto f = forecast_from_counts({0, 0}, {100, 400});
  EXPECT_EQ(f.per_day, 0);
  EXPECT_EQ(f.interval.low, 0);
  EXPECT_NEAR(f.interval.high, -std::log(0.025) / 100 * kSecondsPerDay, 1e-6);
  auto none = forecast_from_counts({}, {});
  EXPECT_EQ(none.interval.high, 0);
}

// Snapshots of one trace supersede each other; traces of one process (hourly campaigns) add up;
// a reused PID is another process.
TEST(FleetReport, SnapshotsSupersedeAndTracesOfOneProcessAddUp) {
  RecordSet set;
  std::string reason;
  auto host = synthetic_host("node-0");
  auto add = [&](const std::string& trace_start, double seconds, int hits, uint64_t start_ticks, uint64_t dropped) {
    auto report = synthetic_report(7, "/usr/bin/ingest", hits, 0, seconds);
    report.started_at = trace_start;
    output::ProcessFacts facts;
    facts.start_ticks = start_ticks;
    ASSERT_TRUE(add_record_line(output::process_record(report, host, facts, dropped).dump(), set, reason)) << reason;
  };
  add("2026-11-25T20:00:00Z", 20, 1, 100, 0);  // snapshots of the first campaign's trace
  add("2026-11-25T20:00:00Z", 60, 2, 100, 1);
  add("2026-11-25T21:00:00Z", 60, 1, 100, 4);  // the next campaign, same process
  add("2026-11-25T21:00:00Z", 60, 5, 999, 4);  // PID 7 reused by another process
  auto summary = summarize_exposure(set);
  EXPECT_EQ(summary.processes, 2u);
  EXPECT_DOUBLE_EQ(summary.observed_s, 180);
  EXPECT_EQ(summary.observed.corrupting_hits, 8u);
  EXPECT_NEAR(summary.observed.per_day, (3.0 / 120 + 5.0 / 60) * kSecondsPerDay, 1e-6);
  EXPECT_EQ(summary.records_dropped, 4u);  // running totals of one writer: the largest, not the sum
}

// A thread stuck in the unwinder stays stuck: each trace of its process finds it again.
TEST(FleetReport, StuckThreadsCountOncePerProcessAndAreShown) {
  RecordSet set;
  std::string reason;
  auto host = synthetic_host("node-0");
  auto add = [&](int pid, const std::string& trace_start, size_t stuck) {
    auto report = synthetic_report(pid, "/usr/bin/ingest", 1, 0, 60);
    report.started_at = trace_start;
    report.stuck_threads.resize(stuck);
    report.stuck_hits = 1000 * stuck;
    ASSERT_TRUE(add_record_line(output::process_record(report, host, {}, 0).dump(), set, reason)) << reason;
  };
  add(7, "2026-11-25T20:00:00Z", 1);
  add(7, "2026-11-25T21:00:00Z", 2);  // the same thread again, and one more
  add(8, "2026-11-25T20:00:00Z", 1);
  add(9, "2026-11-25T20:00:00Z", 0);
  auto report = build_fleet_report(set);
  EXPECT_EQ(report.exposure.stuck_threads, 3u);
  EXPECT_EQ(report.exposure.stuck_processes, 2u);
  ASSERT_EQ(report.exposure.by_host.size(), 1u);
  EXPECT_EQ(report.exposure.by_host[0].stuck_threads, 3u);
  EXPECT_NE(render_fleet_text(report).find("Stuck: 3 thread(s) in 2 process(es)"), std::string::npos);
  auto json = fleet_to_json(report);
  EXPECT_EQ(json["fleet"]["stuck_threads"], 3);
  EXPECT_EQ(json["fleet"]["processes_with_stuck_threads"], 2);
  EXPECT_EQ(json["by_host"][0]["stuck_threads"], 3);
  EXPECT_NE(render_fleet_html(report).find("Stuck: 3 thread(s)"), std::string::npos);

  EXPECT_EQ(render_fleet_text(build_fleet_report(synthetic_records())).find("Stuck:"), std::string::npos)
      << "no line without stuck threads";
}

// A process record carrying an exposure model whose crash rate is `rate` [low, high] per second
// (only the fields report reads; attach --json's model object has them at these places).
nlohmann::json modelled_record(int pid, const std::string& host_name, const std::string& started_at, double seconds,
                               int corrupting, const nlohmann::json& rate) {
  auto report = synthetic_report(pid, "/usr/bin/ingest", corrupting, 0, seconds);
  report.started_at = started_at;
  auto record = output::process_record(report, synthetic_host(host_name), output::ProcessFacts{}, 0);
  record["exposure_model"] = {{"prediction", {{"crashes_per_s", rate}}}};
  return record;
}

nlohmann::json rate(double value, double low, double high) { return {{"value", value}, {"low", low}, {"high", high}}; }

TEST(FleetForecast, TheModelPredictsWhereThereIsOneAndObservedHitsStandInElsewhere) {
  RecordSet set;
  std::string reason;
  auto add = [&](const nlohmann::json& record) { ASSERT_TRUE(add_record_line(record.dump(), set, reason)) << reason; };
  // PID 1 on node-0: two segments with models, 60 s at 1e-4/s and 180 s at 2e-4/s (time-weighted: 1.75e-4).
  add(modelled_record(1, "node-0", "2026-11-25T20:00:00Z", 60, 0, rate(1e-4, 0.5e-4, 2e-4)));
  add(modelled_record(1, "node-0", "2026-11-25T20:01:00Z", 180, 0, rate(2e-4, 1e-4, 4e-4)));
  // PID 2 on node-1: no model (null), 3 corrupting hits in 600 s: its observed rate stands in.
  add(output::process_record(synthetic_report(2, "/usr/bin/ingest", 3, 0, 600), synthetic_host("node-1"),
                             output::ProcessFacts{}, 0));
  auto summary = summarize_exposure(set);
  const PredictedCrashes& p = summary.predicted;
  EXPECT_EQ(p.modelled, 1u);
  EXPECT_EQ(p.observed_only, 1u);
  EXPECT_STREQ(p.source(), "model+observed");
  auto pid2 = forecast_from_counts({3}, {600});
  EXPECT_NEAR(p.per_day, 1.75e-4 * kSecondsPerDay + pid2.per_day, 1e-9);
  EXPECT_NEAR(p.interval.low, 0.875e-4 * kSecondsPerDay + pid2.interval.low, 1e-9);
  EXPECT_NEAR(p.interval.high, 3.5e-4 * kSecondsPerDay + pid2.interval.high, 1e-9);
  // Observed stays what the hits say, over every process: 3 hits.
  EXPECT_EQ(summary.observed.corrupting_hits, 3u);
  EXPECT_NEAR(summary.observed.per_day, 3.0 / 600 * kSecondsPerDay, 1e-9);
  // Per host: node-0 is all model, node-1 all observed.
  ASSERT_EQ(summary.by_host.size(), 2u);
  for (const ExposureGroup& g : summary.by_host) {
    if (g.key == "node-0") {
      EXPECT_STREQ(g.predicted.source(), "model");
      EXPECT_NEAR(g.predicted.per_day, 1.75e-4 * kSecondsPerDay, 1e-9);
      EXPECT_EQ(g.observed.corrupting_hits, 0u);
    } else {
      EXPECT_STREQ(g.predicted.source(), "observed");
      EXPECT_NEAR(g.predicted.per_day, g.observed.per_day, 1e-12);
    }
  }
  EXPECT_EQ(summary.by_host[0].key, "node-1");  // sorted by the prediction: 432 > 15 a day
  auto report = build_fleet_report(set);
  auto json = fleet_to_json(report);
  EXPECT_EQ(json["by_host"][0]["predicted_crashes"]["source"], "observed");
  EXPECT_EQ(json["by_host"][0]["observed_crashes"]["corrupting_hits"], 3);
  EXPECT_EQ(json["by_host"][1]["predicted_crashes"]["source"], "model");
  EXPECT_EQ(json["by_host"][1]["predicted_crashes"]["processes_modelled"], 1);
  std::string text = render_fleet_text(report);
  EXPECT_NE(text.find("source model+observed"), std::string::npos) << text;
}

TEST(FleetForecast, AModelWithoutAFiniteRateCountsAsNoModel) {
  RecordSet set;
  std::string reason;
  auto record = modelled_record(1, "node-0", "2026-11-25T20:00:00Z", 60, 1, rate(1e-4, 0, 2e-4));
  record["exposure_model"]["prediction"]["crashes_per_s"]["high"] = nullptr;
  ASSERT_TRUE(add_record_line(record.dump(), set, reason)) << reason;
  record = modelled_record(2, "node-0", "2026-11-25T20:00:00Z", 60, 0, rate(0, 0, 0));
  record["exposure_model"]["prediction"] = nullptr;  // a model section without a prediction
  ASSERT_TRUE(add_record_line(record.dump(), set, reason)) << reason;
  auto summary = summarize_exposure(set);
  EXPECT_EQ(summary.predicted.modelled, 0u);
  EXPECT_STREQ(summary.predicted.source(), "observed");
  EXPECT_NEAR(summary.predicted.per_day, summary.observed.per_day, 1e-12);
  EXPECT_STREQ(summarize_exposure(RecordSet{}).predicted.source(), "none");
}

TEST(FleetRecords, LossesOfOlderAndNewerRecordsAreBothCounted) {
  RecordSet set;
  std::string reason;
  auto newer = modelled_record(1, "node-0", "2026-11-25T20:00:00Z", 60, 0, rate(0, 0, 0));
  newer["lost_events"] = {{"signal", 1}, {"uncounted", 2}};
  auto older = modelled_record(2, "node-0", "2026-11-25T20:00:00Z", 60, 0, rate(0, 0, 0));
  older["lost_events"] = {{"resume", 3}, {"signal", 4}, {"resume_seq_gaps", 5}};  // before UT_EVENTS_VERSION 5
  ASSERT_TRUE(add_record_line(newer.dump(), set, reason)) << reason;
  ASSERT_TRUE(add_record_line(older.dump(), set, reason)) << reason;
  ASSERT_EQ(set.processes.size(), 2u);
  EXPECT_EQ(set.processes[0].lost_events, 3u);
  EXPECT_EQ(set.processes[1].lost_events, 12u);
  EXPECT_EQ(summarize_exposure(set).lost_events, 15u);
}

// The model divides the resumes counted by the time they were counted in (the on-periods of a
// sampled or budget-degraded trace): every trace with resume probes has a usable model.
TEST(FleetForecast, EveryModelWithAResumeRateIsUsed) {
  auto summary_of = [](const std::string& mode, const nlohmann::json& budget_level) {
    RecordSet set;
    std::string reason;
    auto record = modelled_record(1, "node-0", "2026-11-25T20:00:00Z", 60, 0, rate(1e-3, 1e-4, 1e-2));
    record["mode"] = mode;
    record["cpu_budget_level"] = budget_level;
    EXPECT_TRUE(add_record_line(record.dump(), set, reason)) << reason;
    return summarize_exposure(set).predicted;
  };
  EXPECT_STREQ(summary_of("full", nullptr).source(), "model");
  EXPECT_STREQ(summary_of("full", "normal").source(), "model");
  EXPECT_STREQ(summary_of("full", "reduced_duty").source(), "model");
  EXPECT_STREQ(summary_of("sampled", nullptr).source(), "model");
  EXPECT_STREQ(summary_of("signal_only", nullptr).source(), "observed");
  EXPECT_EQ(summary_of("signal_only", nullptr).per_day, 0);  // no hit: the observed rate is 0
}

TEST(CrashClusters, MisalignedStackCrashesOnOneHostAreSuspectHardware) {
  auto report = build_fleet_report(synthetic_records());
  const CrashCluster& misaligned = cluster_of(report, CrashClass::MisalignedStack);
  EXPECT_EQ(misaligned.crashes, uint64_t(kMisalignedOnBadHost + 1));
  EXPECT_TRUE(misaligned.concentrated);
  EXPECT_NE(misaligned.reading.find("suspect hardware"), std::string::npos);
  ASSERT_FALSE(misaligned.hosts.empty());
  EXPECT_EQ(misaligned.hosts[0].host, kBadHost);
  EXPECT_TRUE(misaligned.hosts[0].outlier);
  for (size_t i = 1; i < misaligned.hosts.size(); ++i) EXPECT_FALSE(misaligned.hosts[i].outlier);
}

TEST(CrashClusters, WindowCrashesSpreadAcrossHostsAreNotOutliers) {
  auto report = build_fleet_report(synthetic_records());
  const CrashCluster& window = cluster_of(report, CrashClass::Window);
  EXPECT_EQ(window.crashes, uint64_t(kFleetHosts * kWindowCrashesPerHost));
  EXPECT_FALSE(window.concentrated);
  EXPECT_EQ(window.hosts.size(), size_t(kFleetHosts));
  EXPECT_NE(window.reading.find("spread over 6 of 6 hosts"), std::string::npos);
}

TEST(CrashClusters, ClassesFollowTheSignature) {
  CrashRecord c;
  EXPECT_EQ(classify(c), CrashClass::Other);
  c.return_to_zero = true;
  EXPECT_EQ(classify(c), CrashClass::ReturnToZero);
  c.rsp_misaligned_by_8 = true;
  EXPECT_EQ(classify(c), CrashClass::MisalignedStack);
  c.inside_unwinder = true;  // returning to 0 from inside the unwinder is the window's crash
  EXPECT_EQ(classify(c), CrashClass::Window);
}

TEST(CrashClusters, FewCrashesAreNeverOutliers) {
  std::vector<CrashRecord> crashes(2);
  for (auto& c : crashes) c.host = "lonely", c.signal = "SIGBUS";
  auto clusters = cluster_crashes(crashes, 1000);
  ASSERT_EQ(clusters.clusters.size(), 1u);
  EXPECT_FALSE(clusters.clusters[0].concentrated);  // p is tiny, but 2 < min_crashes
}

TEST(FleetRecords, BadLinesAreReportedWithFileAndLineAndLeftOut) {
  fs::path dir = fs::temp_directory_path() / fmt::format("ut-fleet-{}", getpid());
  fs::create_directories(dir / "node-0");
  auto fleet = synthetic_fleet();
  {
    std::ofstream out(dir / "node-0" / "a.jsonl");
    out << fleet[0].second[0].dump() << "\n";
    out << "{\"schema\": 1, \"kind\": \"process\"\n";                // torn
    out << "{\"schema\": 99, \"kind\": \"host\"}\n";               // future schema
    out << "{\"schema\": 1, \"kind\": \"process\", \"host\": 3}\n";  // wrong type
    out << "{\"schema\": 1, \"kind\": \"bogus\"}\n";
    out << "\n";                                                  // blank: not a record, not bad
    out << fleet[0].second[1].dump() << "\n";
  }
  std::ofstream(dir / "ignored.txt") << "not records\n";
  std::vector<BadLine> bad;
  auto set = load_records({dir.string()}, [&](const BadLine& b) { bad.push_back(b); });
  fs::remove_all(dir);
  EXPECT_EQ(set.files, 1u);
  EXPECT_EQ(set.lines, 6u);
  EXPECT_EQ(set.bad_lines, 4u);
  ASSERT_EQ(bad.size(), 4u);
  EXPECT_TRUE(bad[0].where.ends_with("a.jsonl:2")) << bad[0].where;
  EXPECT_NE(bad[0].reason.find("not a JSON object"), std::string::npos);
  EXPECT_NE(bad[1].reason.find("schema 99"), std::string::npos);
  EXPECT_NE(bad[2].reason.find("\"host\" has the wrong type"), std::string::npos);
  EXPECT_NE(bad[3].reason.find("unknown record kind"), std::string::npos);
  EXPECT_EQ(set.hosts.size(), 1u);
  EXPECT_EQ(set.processes.size(), 1u);
}

TEST(FleetRecords, MissingPathIsAUsageError) {
  EXPECT_THROW(load_records({"/nonexistent/records"}, nullptr), UserError);
}

TEST(FleetRender, TextJsonAndHtmlAgree) {
  auto report = build_fleet_report(synthetic_records());
  std::string text = render_fleet_text(report);
  EXPECT_NE(text.find("OUTLIER"), std::string::npos);
  EXPECT_NE(text.find("suspect hardware"), std::string::npos);
  auto json = fleet_to_json(report);
  EXPECT_EQ(json["fleet"]["hosts"], kFleetHosts);
  EXPECT_EQ(json["crashes"]["clusters"].size(), report.crashes.clusters.size());
  EXPECT_NEAR(json["fleet"]["observed_crashes"]["per_day"].get<double>(), report.exposure.observed.per_day, 1e-9);
  EXPECT_NEAR(json["fleet"]["predicted_crashes"]["per_day"].get<double>(), report.exposure.predicted.per_day, 1e-9);
  EXPECT_EQ(json["fleet"]["predicted_crashes"]["source"], report.exposure.predicted.source());
  std::string html = render_fleet_html(report);
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_GE(std::count(html.begin(), html.end(), '<') - std::count(html.begin(), html.end(), '>'), 0);
  size_t svgs = 0;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) ++svgs;
  EXPECT_EQ(svgs, 2 + report.crashes.clusters.size());
  // Self-contained: nothing fetched from anywhere.
  for (const char* external : {"<script", "src=", "href=", "@import", "url("})
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  EXPECT_NE(html.find("class=\"hot\""), std::string::npos);  // the outlier bar
}

TEST(FleetRender, HtmlEscapesNamesFromRecords) {
  RecordSet set = synthetic_records();
  set.crashes[0].host = "<img onerror=x>";
  auto html = render_fleet_html(build_fleet_report(set));
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("&lt;img onerror=x&gt;"), std::string::npos);
}

}  // namespace
}  // namespace ut::fleet
