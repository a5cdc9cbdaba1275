// The report built from a session and a joiner: the verdict in each case, per-thread and
// per-process numbers, lost events never silent, and JSON that says what the text says.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <regex>
#include <set>

#include "model/join.h"
#include "model/session.h"
#include "model/unwinder_routines.h"
#include "host/signal_names.h"
#include "output/json_report.h"
#include "output/record_builder.h"
#include "output/report.h"
#include "output/text_report.h"
#include "synthetic_events.h"

namespace ut::output {
namespace {

using namespace ut::testing;
using analysis::ReadClass;

constexpr uint32_t kMainTid = 4243;
constexpr uint32_t kWorkerTid = 4244;
constexpr uint64_t kStartKtime = 1'000'000'000'000;
constexpr uint64_t kTargetSp = 0x7ffd'0000'8000;
constexpr uint64_t kDistance = 2400;

// _Ux86_64_setcontext of Debian's libunwind 1.6.2 (BACKGROUND.md), the start abridged.
analysis::RoutineWindow setcontext_window() {
  analysis::RoutineWindow w;
  w.routine = "_Ux86_64_setcontext";
  w.vaddr = 0x5382;
  w.size = 0x66;
  const std::pair<uint64_t, const char*> listing[] = {{0x00, "mov r8, qword ptr [rdi + 0x28]"},
                                                      {0x04, "mov r9, qword ptr [rdi + 0x30]"},
                                                      {0x08, "mov r10, qword ptr [rdi + 0x38]"},
                                                      {0x0c, "mov r11, qword ptr [rdi + 0x40]"},
                                                      {0x10, "mov r12, qword ptr [rdi + 0x48]"},
                                                      {0x3d, "mov rax, qword ptr [rdi + 0x90]"},
                                                      {0x44, "mov rcx, qword ptr [rdi + 0x98]"},
                                                      {0x4b, "mov rsp, qword ptr [rdi + 0xa0]"},
                                                      {0x52, "mov rcx, qword ptr [rdi + 0xa8]"},
                                                      {0x59, "push rcx"},
                                                      {0x5a, "mov rcx, qword ptr [rdi + 0x98]"},
                                                      {0x61, "mov rdi, qword ptr [rdi + 0x68]"},
                                                      {0x65, "ret"}};
  for (const auto& [offset, text] : listing) w.listing.push_back({offset, 0, text});
  w.switch_offset = 0x4b;
  w.ctx_reg_from_entry = true;
  w.sp_disp = 0xa0;
  w.ip_disp = 0xa8;
  w.window = {{0x52, 7, ReadClass::ReturnAddress, 0xa8, "mov rcx, qword ptr [rdi + 0xa8]"},
              {0x59, 1, ReadClass::Register, 0x98, "push rcx"},
              {0x5a, 7, ReadClass::Register, 0x98, "mov rcx, qword ptr [rdi + 0x98]"},
              {0x61, 4, ReadClass::Register, 0x68, "mov rdi, qword ptr [rdi + 0x68]"}};
  return w;
}

model::KernelSignalCount kernel_count(uint32_t tid, int32_t sig, ut_delivery delivery,
                                      uint64_t count) {
  return {{.tgid = kTgid, .tid = tid, .sig = sig, .delivery = delivery}, count};
}

// 30 s of a process with two threads: 1.2M resumes, 600k interrupt-delivered signals (20k/s).
model::Session exposed_session() {
  using namespace std::chrono;
  model::Session s;
  s.pid = kTgid;
  s.comm = "ingest";
  s.exe = "/usr/bin/ingest";
  s.unwinder = "/usr/lib/x86_64-linux-gnu/libunwind.so.8";
  s.started_at = sys_days{year{2025} / 11 / 20} + hours{12};
  s.ended_at = s.started_at + seconds{30};
  s.start_ktime_ns = kStartKtime;
  s.duration_s = 30.0;
  s.mode = model::TraceMode::Full;
  s.resume_traced_s = 30.0;
  s.routines.push_back({.object_path = "/usr/lib/x86_64-linux-gnu/libunwind.so.8",
                        .build_id = "0123abcd",
                        .symbol = "_Ux86_64_setcontext",
                        .start = 0x7f0000005382,
                        .window = setcontext_window(),
                        .probes = {{.vaddr = 0x6155,
                                     .file_offset = 0x6155,
                                     .function = "_Ux86_64_local_resume",
                                     .text = "call 0x5370",
                                     .emulated = true,
                                     .reason = "the only call, context in %rdi"}}});
  s.signal_counts = {kernel_count(kMainTid, SIGPROF, UT_DELIVERY_INTERRUPT, 400'000),
                     kernel_count(kMainTid, SIGPROF, UT_DELIVERY_SYSCALL, 10'000),
                     kernel_count(kWorkerTid, SIGPROF, UT_DELIVERY_INTERRUPT, 200'000),
                     kernel_count(kWorkerTid, SIGUSR1, UT_DELIVERY_SYSCALL, 50)};
  s.kernel_resumes = {{kMainTid, 800'000}, {kWorkerTid, 400'000}};
  s.frame_size = model::FrameSize{2896, 2952};  // AMD host of BACKGROUND.md, below SP-128
  s.host = {.hostname = "ci-7", .kernel_release = "6.18.0", .cpu_model = "AMD EPYC 7B13"};
  // A frame map and landing calibration so the model section appears (test_exposure_model.cpp
  // checks its arithmetic).
  host::FrameLayout layout;
  layout.siginfo = true;
  layout.frame_bytes = 2952;
  layout.written = {{-2952, -60}};
  s.frame_map.layouts = {layout};
  s.landing.emplace();
  s.landing->cpu_model = "AMD EPYC 7B13";
  s.landing->seconds_per_landing = 1e-13;
  s.landing->instructions = {{.offset = 0x20, .landings = 600, .w_s = 6e-11, .w_low_s = 0, .w_high_s = 0},
                             {.offset = 0x61, .landings = 30, .w_s = 3e-12, .w_low_s = 0, .w_high_s = 0}};
  s.slot_checks_attached = true;
  s.slot_checks = {{kMainTid, {.checked = 2, .overwritten = 1}}};
  s.fatal_signals = {{.tid = kMainTid, .ktime_ns = kStartKtime + 29'000'000'000, .sig = SIGSEGV, .si_code = 1,
                      .ip = 0, .sp = 0x7ffd00001000, .fault_addr = 0}};
  return s;
}

// The same process traced in sampled mode: 5% of every 10 s, three on-periods of 0.5 s.
model::Session sampled_session() {
  model::Session s = exposed_session();
  s.mode = model::TraceMode::Sampled;
  s.duty_cycle = model::DutyCycle{0.05, 10};
  s.resume_traced_s = 1.5;
  for (uint64_t count : {20'000u, 21'000u, 19'000u}) s.resume_periods.add_period(count, 0.5);
  s.kernel_resumes = {{kMainTid, 40'000}, {kWorkerTid, 20'000}};
  return s;
}

model::Joiner joined(const model::Session& session, const model::ResumeShapes& shapes,
                     const std::vector<ut_signal_event>& signals) {
  model::Joiner joiner({.frame = session.frame_size, .routines = model::unwinder_routines(session.routines)});
  joiner.add_shapes(shapes);
  for (const auto& s : signals) joiner.add(s);
  return joiner;
}

// The kernel's shape counts for three resumes of the main thread, D = kDistance.
model::ResumeShapes main_thread_resumes() {
  model::ResumeShapes shapes;
  for (int i = 0; i < 3; ++i) shapes.add(0, kTargetSp, kTargetSp - kDistance);
  return shapes;
}

// Two hits at the return-address read and one at a register read, all inside the frame.
std::vector<ut_signal_event> three_hits() {
  return {return_address_hit(kMainTid, 1, kTargetSp, kDistance, kStartKtime + 500'000'000),
          return_address_hit(kMainTid, 2, kTargetSp, kDistance, kStartKtime + 1'000'000'000),
          register_hit(kMainTid, 3, kTargetSp, kDistance, kStartKtime + 2'000'000'000),
          routine_signal(kMainTid, 3, 0x3d),
          routine_signal(kMainTid, 3, 0x10, UT_DELIVERY_SYSCALL)};
}

Report report_with_hits() {
  const model::Session session = exposed_session();
  return build_report(session, joined(session, main_thread_resumes(), three_hits()));
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Report, VerdictCountsHitsByClassAndGeometry) {
  const Report r = report_with_hits();
  EXPECT_EQ(r.exposure, Exposure::Hit);
  EXPECT_EQ(
      r.verdict,
      "EXPOSED: 3 window hits in 30.0 s (2 at the return-address read, 3 with the slot inside "
      "the signal frame)");
}

TEST(Report, VerdictWithoutHitsSaysHowExposed) {
  const model::Session session = exposed_session();
  const Report r = build_report(session, joined(session, main_thread_resumes(), {}));
  EXPECT_EQ(r.exposure, Exposure::Exposed);
  EXPECT_EQ(r.verdict,
            "EXPOSED, no hits seen in 30.0 s: window of 4 instructions, 1.2M resumes, 20k "
            "interrupt-delivered signals/s");
}

TEST(Report, VerdictNamesTheUnwinderWhenNoRoutineIsMapped) {
  model::Session session = exposed_session();
  session.routines.clear();
  session.unwinder = "libgcc_s.so.1";
  const Report r = build_report(session, joined(session, {}, {}));
  EXPECT_EQ(r.exposure, Exposure::NotExposed);
  EXPECT_EQ(r.verdict,
            "not exposed: no hazardous routine mapped in pid 4242; exceptions unwind "
            "through libgcc_s.so.1");
}

TEST(Report, VerdictForAFixedRoutineWithAnEmptyWindow) {
  model::Session session = exposed_session();
  session.routines[0].window.window.clear();
  const Report r = build_report(session, joined(session, main_thread_resumes(), {}));
  EXPECT_EQ(r.exposure, Exposure::NotExposed);
  EXPECT_EQ(r.verdict,
            "not exposed: no stale read after the stack switch in "
            "_Ux86_64_setcontext (libunwind.so.8)");
}

TEST(Report, VerdictWithoutAMeasuredFrameSaysSo) {
  model::Session session = exposed_session();
  session.frame_size.reset();
  const Report r = build_report(session, joined(session, main_thread_resumes(), three_hits()));
  EXPECT_EQ(r.verdict,
            "EXPOSED: 3 window hits in 30.0 s (2 at the return-address read, 3 with "
            "the frame size unmeasured)");
  EXPECT_TRUE(contains(render_text(r), "Signal frame: not measured"));
  EXPECT_TRUE(to_json(r)["signal_frame"].is_null());
}

TEST(Report, LostEventsAreNeverSilent) {
  model::Session session = exposed_session();
  session.lost_events[UT_LOST_SIGNAL] = 5;
  session.lost_events[UT_LOST_COUNTER] = 2;
  const Report r = build_report(session, joined(session, main_thread_resumes(), three_hits()));

  EXPECT_TRUE(r.lost.any());
  EXPECT_TRUE(r.verdict.ends_with("; 5 signal events lost, hits may be missing")) << r.verdict;
  const std::string text = render_text(r);
  EXPECT_TRUE(contains(text, "LOST EVENTS: 5 signal events (ring buffer full)")) << text;
  EXPECT_TRUE(contains(text, "UNCOUNTED: 2 signals, resumes or resume shapes")) << text;
  const auto json = to_json(r);
  EXPECT_EQ(json["lost"]["signal_events"], 5);
  EXPECT_EQ(json["lost"]["uncounted"], 2);
}

TEST(Report, NoLossIsStatedToo) {
  const Report r = report_with_hits();
  EXPECT_FALSE(r.lost.any());
  EXPECT_TRUE(contains(render_text(r), "Lost events: none"));
}

TEST(Report, ThreadsAndProcessFromKernelCountersAndEvents) {
  model::Session session = exposed_session();
  const uint32_t events_only_tid = 4245;
  const Report r = build_report(
      session, joined(session, {}, {three_hits()[0], routine_signal(events_only_tid, 1, 0x10)}));

  ASSERT_EQ(r.threads.size(), 3u);
  const Activity& main = r.threads[0];
  EXPECT_EQ(main.tid, kMainTid);
  EXPECT_EQ(main.resumes, 800'000u);
  ASSERT_TRUE(main.resumes_per_s.has_value());
  EXPECT_DOUBLE_EQ(*main.resumes_per_s, 800'000 / 30.0);
  EXPECT_FALSE(main.resumes_estimated);
  EXPECT_EQ(main.signals_total, 410'000u);
  EXPECT_EQ(main.routine_signals[UT_DELIVERY_INTERRUPT], 1u);
  EXPECT_EQ(main.hits.total, 1u);
  EXPECT_EQ(r.threads[2].tid, events_only_tid);
  EXPECT_EQ(r.threads[2].resumes, 0u) << "the kernel's map is authoritative";
  EXPECT_EQ(r.threads[2].routine_signals[UT_DELIVERY_INTERRUPT], 1u) << "known from its event only";

  const Activity& p = r.process;
  EXPECT_EQ(p.resumes, 1'200'000u);
  EXPECT_EQ(p.signals_total, 610'050u);
  EXPECT_DOUBLE_EQ(p.interrupt_signals_per_s, 20'000);
  ASSERT_EQ(p.signals.size(), 2u);
  EXPECT_EQ(p.signals[0].name, "SIGUSR1");
  EXPECT_EQ(p.signals[1].name, "SIGPROF");
  EXPECT_EQ(p.signals[1].by_delivery[UT_DELIVERY_INTERRUPT], 600'000u);
  EXPECT_EQ(p.signals[1].by_delivery[UT_DELIVERY_SYSCALL], 10'000u);
}

TEST(Report, ListingCountsSignalsPerInstruction) {
  const model::Session session = exposed_session();
  auto signals = three_hits();
  signals.push_back(routine_signal(kMainTid, 3, 0x53));  // not an instruction start
  const Report r = build_report(session, joined(session, main_thread_resumes(), signals));

  ASSERT_EQ(r.routines.size(), 1u);
  const RoutineSection& routine = r.routines[0];
  EXPECT_EQ(routine.window_instructions, 4u);
  EXPECT_EQ(routine.signals[UT_DELIVERY_INTERRUPT], 5u);
  auto row_at = [&routine](uint64_t offset) {
    return *std::find_if(routine.listing.begin(), routine.listing.end(),
                         [offset](const ListingRow& row) { return row.offset == offset; });
  };
  EXPECT_TRUE(row_at(0x4b).stack_switch);
  EXPECT_EQ(row_at(0x52).window_class, ReadClass::ReturnAddress);
  EXPECT_EQ(row_at(0x52).signals[UT_DELIVERY_INTERRUPT], 2u);
  EXPECT_EQ(row_at(0x5a).window_class, ReadClass::Register);
  EXPECT_EQ(row_at(0x10).signals[UT_DELIVERY_SYSCALL], 1u);
  EXPECT_EQ(row_at(0x53).text, "");
  EXPECT_EQ(row_at(0x53).signals[UT_DELIVERY_INTERRUPT], 1u);
  EXPECT_TRUE(
      std::is_sorted(routine.listing.begin(), routine.listing.end(),
                     [](const ListingRow& a, const ListingRow& b) { return a.offset < b.offset; }));
}

TEST(Report, JsonSaysWhatTheTextSays) {
  const Report r = report_with_hits();
  const std::string text = render_text(r);
  const auto json = to_json(r);

  EXPECT_EQ(json["schema_version"], 2);
  EXPECT_EQ(json["verdict"]["exposure"], "hit");
  EXPECT_EQ(json["verdict"]["text"], r.verdict);
  EXPECT_TRUE(contains(text, r.verdict));

  EXPECT_EQ(json["process"]["resumes"]["count"], 1'200'000);
  EXPECT_TRUE(contains(text, "1,200,000"));
  EXPECT_EQ(json["process"]["signals"]["total"], 610'050);
  EXPECT_TRUE(contains(text, "610,050"));
  EXPECT_EQ(json["hits"]["total"], 3);
  EXPECT_EQ(json["process"]["hits"]["return_address"], 2);
  EXPECT_EQ(json["process"]["hits"]["register"], 1);
  EXPECT_EQ(json["process"]["hits"]["geometry"]["inside"], 3);
  EXPECT_TRUE(contains(text, "Window hits: 3"));
  EXPECT_TRUE(contains(text, "return address 2, register 1"));
  EXPECT_EQ(json["threads"].size(), r.threads.size());
  EXPECT_EQ(json["threads"][0]["tid"], kMainTid);

  const auto& listing = json["routines"][0]["listing"];
  ASSERT_EQ(listing.size(), r.routines[0].listing.size());
  const auto at_0x52 = std::find_if(listing.begin(), listing.end(),
                                    [](const auto& row) { return row["offset"] == 0x52; });
  ASSERT_NE(at_0x52, listing.end());
  EXPECT_EQ((*at_0x52)["window_class"], "return_address");
  EXPECT_EQ((*at_0x52)["signals"]["interrupt"], 2);

  const auto& distance = json["process"]["distance"];
  EXPECT_EQ(distance["count"], 3);
  EXPECT_EQ(distance["min"], kDistance);
  EXPECT_EQ(distance["median_bucket"]["from"], 2368);
  EXPECT_TRUE(contains(text, "3 resumes: min 2,400, median 2,368..2,431, max 2,400 bytes"));

  const auto& hit = json["hits"]["listed"][0];
  EXPECT_EQ(hit["tid"], kMainTid);
  EXPECT_EQ(hit["signal"], "SIGPROF");
  EXPECT_EQ(hit["class"], "return_address");
  EXPECT_EQ(hit["distance"], kDistance);
  EXPECT_EQ(hit["slot"]["placement"], "inside");
  EXPECT_EQ(hit["resume"]["seq"], 1);
  EXPECT_TRUE(hit["resume_missing"].is_null());
  EXPECT_EQ(hit["ip"], "0x7f00000053d4");
  EXPECT_EQ(json["signal_frame"]["min_bytes"], 2896);
  EXPECT_TRUE(nlohmann::json::parse(render_json(r)).is_object());
}

// Every key path of the JSON ("routines[].listing[].offset"), with the activity objects under
// `process` and `threads[]` folded into "<activity>" as the schema documents them once.
void collect_paths(const nlohmann::json& value, const std::string& path,
                   std::set<std::string>& paths) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      const std::string child_path = path.empty() ? key : path + "." + key;
      paths.insert(child_path);
      const bool activity = child_path == "process";
      collect_paths(child, activity ? "<activity>" : child_path, paths);
    }
  } else if (value.is_array()) {
    for (const auto& element : value)
      collect_paths(element, path == "threads" ? "<activity>" : path + "[]", paths);
  }
}

std::set<std::string> documented_paths() {
  std::ifstream doc(std::string(UT_SOURCE_DIR) + "/docs/report-schema.md");
  EXPECT_TRUE(doc) << "docs/report-schema.md not found";
  const std::regex row(R"(^\| `([^`]+)` \|)");
  std::set<std::string> paths;
  std::smatch match;
  for (std::string line; std::getline(doc, line);)
    if (std::regex_search(line, match, row)) paths.insert(match[1]);
  return paths;
}

TEST(Report, SampledModeScalesResumeRatesAndSaysTheyAreEstimates) {
  const model::Session session = sampled_session();
  const Report r = build_report(session, joined(session, {}, {}));
  ASSERT_TRUE(r.process.resumes_per_s.has_value());
  EXPECT_DOUBLE_EQ(*r.process.resumes_per_s, 60'000 / 1.5);  // per traced second, not per 30 s
  EXPECT_TRUE(r.process.resumes_estimated);
  EXPECT_DOUBLE_EQ(*r.process.resumes_per_s_error, session.resume_periods.estimate()->error_per_s);
  EXPECT_DOUBLE_EQ(*r.threads[0].resumes_per_s, 40'000 / 1.5);
  EXPECT_TRUE(r.threads[0].resumes_per_s_error.has_value());

  const auto json = to_json(r);
  EXPECT_EQ(json["trace"]["mode"], "sampled");
  EXPECT_EQ(json["trace"]["sampling"]["periods"], 3);
  EXPECT_TRUE(json["process"]["resumes"]["estimated"].get<bool>());
  const std::string text = render_text(r);
  EXPECT_TRUE(contains(text, "resume rates are estimates")) << text;
  EXPECT_TRUE(contains(r.verdict, "resumes/s (sampled)")) << r.verdict;
}

TEST(Report, SignalOnlyModeHasNoResumeRateAndNoLoss) {
  model::Session session = exposed_session();
  session.mode = model::TraceMode::SignalOnly;
  session.resume_traced_s = 0;
  session.kernel_resumes.clear();
  ut_signal_event hit = return_address_hit(kMainTid, 0, kTargetSp, kDistance, kStartKtime);
  hit.resume_off = 1;
  const Report r = build_report(session, joined(session, {}, {hit}));

  EXPECT_FALSE(r.process.resumes_per_s.has_value());
  EXPECT_EQ(r.process.hits.total, 1u);
  EXPECT_FALSE(r.lost.any());
  const auto json = to_json(r);
  EXPECT_TRUE(json["process"]["resumes"]["per_s"].is_null());
  EXPECT_EQ(json["process"]["resume_missing"]["untraced"], 1);
  EXPECT_EQ(json["process"]["resume_missing"]["unprobed"], 0);
  const std::string text = render_text(r);
  EXPECT_TRUE(contains(text, "not a loss")) << text;
  EXPECT_TRUE(contains(r.verdict, "EXPOSED: 1 window hit")) << r.verdict;
}

TEST(Report, SchemaDocumentsEveryJsonField) {
  // Hits with and without a resume, so both shapes of the nullable fields appear.
  model::Session session = exposed_session();
  auto signals = three_hits();
  signals[1].resume.ctx += 16;  // an entry the resume probe did not see
  signals.push_back(stuck_hit(kWorkerTid, 1, kTargetSp, kDistance, kStartKtime + 3'000'000'000));
  const Report r = build_report(session, joined(session, main_thread_resumes(), signals));
  // And a sampled trace, for the fields only that mode fills.
  model::Session sampled = sampled_session();
  const Report s = build_report(sampled, joined(sampled, main_thread_resumes(), signals));

  std::set<std::string> in_json;
  collect_paths(to_json(r), "", in_json);
  collect_paths(to_json(s), "", in_json);
  const std::set<std::string> in_doc = documented_paths();
  for (const std::string& path : in_json)
    EXPECT_TRUE(in_doc.count(path)) << "undocumented: " << path;
  for (const std::string& path : in_doc)
    EXPECT_TRUE(in_json.count(path)) << "documented, not in the JSON: " << path;
}

// The main thread's hit at 1 s sent it back into the routine: from 2 s on it loops there.
Report report_with_a_stuck_thread() {
  const model::Session session = exposed_session();
  auto signals = three_hits();
  signals.push_back(stuck_hit(kMainTid, 3, kTargetSp, kDistance, kStartKtime + 2'500'000'000));
  signals.push_back(register_hit(kMainTid, 3, kTargetSp, kDistance, kStartKtime + 2'600'000'000));
  signals.push_back(stuck_hit(kMainTid, 3, kTargetSp, kDistance, kStartKtime + 2'700'000'000));
  signals.push_back(return_address_hit(kWorkerTid, 1, kTargetSp, kDistance, kStartKtime + 2'800'000'000));
  return build_report(session, joined(session, main_thread_resumes(), signals));
}

TEST(Report, AStuckThreadIsReportedAsOneLoopNotAsExposure) {
  const Report r = report_with_a_stuck_thread();
  ASSERT_EQ(r.stuck_threads.size(), 1u);
  const StuckRow& row = r.stuck_threads[0];
  EXPECT_EQ(row.tid, kMainTid);
  EXPECT_DOUBLE_EQ(row.since_s, 2.5);
  EXPECT_DOUBLE_EQ(row.last_hit_s, 2.7);
  EXPECT_EQ(row.cause_s, 1.0) << "its return-address hit before";
  EXPECT_EQ(row.returns_to_symbol, "_Ux86_64_setcontext");
  EXPECT_EQ(r.stuck_hits, 3u);
  EXPECT_EQ(r.process.hits.total, 7u) << "the hit counts themselves are unchanged";
  EXPECT_TRUE(contains(r.verdict, "1 thread stuck looping in the unwinder: 3 of these hits are that loop"))
      << r.verdict;

  const auto json = to_json(r);
  EXPECT_EQ(json["stuck_threads"]["count"], 1);
  EXPECT_EQ(json["stuck_threads"]["hits"], 3);
  const auto& thread = json["stuck_threads"]["threads"][0];
  EXPECT_EQ(thread["tid"], kMainTid);
  EXPECT_EQ(thread["mark"], "return_into_routine");
  EXPECT_EQ(thread["symbol"], "_Ux86_64_setcontext");
  EXPECT_EQ(thread["offset"], 0x52);
  EXPECT_EQ(thread["returns_to"]["address"], "0x7f00000053d4");
  EXPECT_EQ(thread["returns_to"]["symbol"], "_Ux86_64_setcontext");
  EXPECT_EQ(thread["returns_to"]["offset"], 0x52);
  EXPECT_EQ(thread["hits"], 3);
  EXPECT_DOUBLE_EQ(thread["cause_s"].get<double>(), 1.0);

  const std::string text = render_text(r);
  EXPECT_TRUE(contains(text, "thread 4243 is stuck: an earlier window hit (at 1.000000 s) made it return into "
                             "_Ux86_64_setcontext+0x52"))
      << text;
  EXPECT_TRUE(contains(text, "no crash follows while it does")) << text;
  EXPECT_TRUE(contains(text, "its 3 window hits from then on")) << text;
}

TEST(Report, NoStuckThreadWithoutTheMark) {
  const Report r = report_with_hits();
  EXPECT_TRUE(r.stuck_threads.empty());
  EXPECT_EQ(to_json(r)["stuck_threads"]["count"], 0);
  EXPECT_FALSE(contains(render_text(r), "stuck")) << render_text(r);
  EXPECT_FALSE(contains(r.verdict, "stuck"));
}

TEST(Report, ProcessRecordCountsStuckThreadsAndLeavesTheirLoopOutOfTheCorruptions) {
  const Report stuck = report_with_a_stuck_thread();
  const Report plain = report_with_hits();
  const auto record = process_record(stuck, host::HostIdentity{}, ProcessFacts{}, 0);
  EXPECT_EQ(record["hits"]["stuck_threads"], 1);
  EXPECT_EQ(record["hits"]["stuck_loop"], 3);
  // Two of the loop's hits sit at the return-address read inside the frame, like the real ones.
  EXPECT_EQ(estimate_corruptions(stuck).corrupting_hits, estimate_corruptions(plain).corrupting_hits + 1)
      << "only the worker's new hit adds a corruption";
}

TEST(Report, StuckLoopsStayOutOfTheScaledCorruptions) {
  // One hit listed: the rest are counted, not kept, and the stuck ones among them are not scaled up.
  const model::Session session = exposed_session();
  model::Joiner joiner({.max_kept_hits = 1, .frame = session.frame_size,
                        .routines = model::unwinder_routines(session.routines)});
  joiner.add(return_address_hit(kMainTid, 1, kTargetSp, kDistance, kStartKtime + 1));
  joiner.add(return_address_hit(kWorkerTid, 1, kTargetSp, kDistance, kStartKtime + 2));
  for (uint64_t t = 3; t < 103; ++t) joiner.add(stuck_hit(kMainTid, 1, kTargetSp, kDistance, kStartKtime + t));
  const Report r = build_report(session, joiner);
  ASSERT_EQ(r.stuck_hits, 100u);
  EXPECT_EQ(estimate_corruptions(r).corrupting_hits, 2u) << "the listed hit scaled to the two outside the loop";
}

TEST(Report, HitLineSaysWhenWhereAndHowBad) {
  const model::Session session = exposed_session();
  std::string line;
  model::Joiner joiner({.frame = session.frame_size, .on_hit = [&](const model::JoinedSignal& hit) {
                          line = format_hit_line(hit, session);
                        }});
  joiner.add(three_hits()[0]);

  EXPECT_TRUE(contains(line, "0.500000 s")) << line;
  EXPECT_TRUE(contains(line, "tid 4243")) << line;
  EXPECT_TRUE(contains(line, "SIGPROF")) << line;
  EXPECT_TRUE(contains(line, "interrupt")) << line;
  EXPECT_TRUE(contains(line, "_Ux86_64_setcontext+0x52 mov rcx, qword ptr [rdi + 0xa8]")) << line;
  EXPECT_TRUE(contains(line, analysis::to_string(ReadClass::ReturnAddress))) << line;
  EXPECT_TRUE(contains(line, "D=2,400")) << line;
  EXPECT_TRUE(contains(line, "inside the frame, value 0x401234")) << line;
  EXPECT_TRUE(contains(line, "resume #1")) << line;
}

TEST(Report, SignalNames) {
  EXPECT_EQ(host::signal_name(SIGPROF), "SIGPROF");
  EXPECT_EQ(host::signal_name(SIGRTMIN), "SIGRTMIN");
  EXPECT_EQ(host::signal_name(SIGRTMIN + 3), "SIGRTMIN+3");
  EXPECT_EQ(host::signal_name(200), "signal 200");
}

TEST(Report, CompactCounts) {
  EXPECT_EQ(compact_count(0), "0");
  EXPECT_EQ(compact_count(950), "950");
  EXPECT_EQ(compact_count(1234), "1.2k");
  EXPECT_EQ(compact_count(20'000), "20k");
  EXPECT_EQ(compact_count(999'999), "1M");
  EXPECT_EQ(compact_count(1'200'000), "1.2M");
}

}  // namespace
}  // namespace ut::output
