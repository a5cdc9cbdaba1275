// The one report structure every renderer draws from: built once from the session (what was
// traced, the kernel's counters) and the joiner (what the events showed), numbers and verdict
// decided here so the text and JSON outputs cannot disagree.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/routine_window.h"
#include "model/join.h"
#include "model/session.h"
#include "output/model_report.h"

namespace ut::output {

struct SignalRow {
  int32_t sig = 0;
  std::string name;  // "SIGPROF"
  model::DeliveryCounts by_delivery{};
  uint64_t total = 0;
  double per_s = 0;
};

// One thread, or the whole process (tid 0: the sum over its threads).
struct Activity {
  uint32_t tid = 0;
  uint64_t resumes = 0;  // the kernel's count over the resume-traced time: authoritative
  // resumes / resume-traced time; unset when resumes were not traced (signal-only mode).
  std::optional<double> resumes_per_s;
  std::optional<double> resumes_per_s_error;  // sampled mode: one standard error
  bool resumes_estimated = false;             // sampled mode: per_s is scaled from the on-time
  std::vector<SignalRow> signals;  // every signal the kernel counted, by number
  uint64_t signals_total = 0;
  double signals_per_s = 0;
  double interrupt_signals_per_s = 0;       // the ones that can land inside the window
  model::DeliveryCounts routine_signals{};  // inside a hazardous routine
  model::HitTally hits;
  std::array<uint64_t, model::kMissingResumeReasons> resume_missing{};  // signals without resume
};

// One instruction of a routine with the signals that interrupted it.
struct ListingRow {
  uint64_t offset = 0;
  std::string text;  // "" for an offset the listing does not have (signals there are still shown)
  bool stack_switch = false;
  std::optional<analysis::ReadClass> window_class;  // set for window instructions
  model::DeliveryCounts signals{};
};

struct RoutineSection {
  uint32_t index = 0;
  std::string symbol;
  std::string object_path;
  std::string build_id;
  uint64_t start = 0;
  size_t window_instructions = 0;
  std::vector<analysis::ProbePoint> probes;
  std::vector<ListingRow> listing;  // by offset
  model::DeliveryCounts signals{};  // over the whole routine
};

// A joined window hit with what the renderers need to show it.
struct HitRow {
  model::JoinedSignal hit;
  double time_s = 0;        // since the trace started
  std::string routine;      // symbol
  std::string instruction;  // at hit.offset, from the routine's listing
};

// A thread the joiner found stuck (model::StuckThread), with what the renderers need to show it.
struct StuckRow {
  uint32_t tid = 0;
  model::StuckThread stuck;
  double since_s = 0;             // since the trace started
  std::optional<double> cause_s;  // the hit that sent it back, if seen
  double last_hit_s = 0;
  std::string symbol;             // of the routine it was seen stuck in
  std::string returns_to_symbol;  // of the routine its return-address slot points into, if seen
};

struct LostEvents {
  std::array<uint64_t, UT_LOST_KINDS> kernel{};  // what the programs could not record, by kind
  bool any() const { return kernel[UT_LOST_SIGNAL] || kernel[UT_LOST_COUNTER]; }
};

enum class Exposure {
  NotExposed,  // no hazardous routine, or its window is empty (fixed unwinder)
  Exposed,     // a window exists, no hit seen
  Hit,         // window hits seen
};
const char* to_string(Exposure exposure);  // "not_exposed", "exposed", "hit"

struct Report {
  int32_t pid = 0;
  std::string comm;
  std::string exe;
  std::string unwinder;
  std::string started_at;  // ISO 8601, UTC
  std::string ended_at;
  double duration_s = 0;
  bool target_exited = false;
  std::string target_change;  // model::Session::target_change
  host::HostInfo host;
  model::TraceMode mode = model::TraceMode::Full;
  std::optional<model::DutyCycle> duty_cycle;  // sampled mode
  double resume_traced_s = 0;                  // seconds resumes were counted
  uint32_t sampled_periods = 0;                // sampled mode: on-periods
  double load_ms = 0;                          // open + load + signal hook
  double attach_ms = 0;                        // analysis + registration + resume probes

  Exposure exposure = Exposure::NotExposed;
  std::string verdict;  // one line

  Activity process;
  model::DistanceHistogram distance;  // D of every traced resume (the kernel's shape counts)
  std::vector<Activity> threads;  // by tid
  std::vector<RoutineSection> routines;
  std::vector<HitRow> hits;      // the joiner's kept hits, in join order
  uint64_t hits_not_listed = 0;  // beyond JoinOptions::max_kept_hits
  std::vector<StuckRow> stuck_threads;  // by tid
  uint64_t stuck_hits = 0;  // their hits from when they were stuck on: a loop, not exposure
  std::optional<model::FrameSize> frame_size;
  LostEvents lost;
  std::optional<ModelSection> model;  // geometry per handler, predicted vs observed (model_report.h)
};

// The joiner should be finished: signals still waiting for their resume are not in it yet.
Report build_report(const model::Session& session, const model::Joiner& joiner);

// Shared by the builder and the renderers.
const char* delivery_name(ut_delivery delivery);  // "interrupt", "syscall"
std::string compact_count(double value);          // 950, 1.2k, 20k, 1.2M
std::string iso8601_utc(std::chrono::system_clock::time_point t);  // 2026-11-25T21:00:00Z
HitRow make_hit_row(const model::JoinedSignal& hit, const model::Session& session);

}  // namespace ut::output
