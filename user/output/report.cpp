#include "output/report.h"

#include "host/signal_names.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>

namespace ut::output {
namespace {

using model::DeliveryCounts;

double per_second(uint64_t count, double duration_s) {
  return duration_s > 0 ? static_cast<double>(count) / duration_s : 0;
}

std::string plural(uint64_t n, const char* singular, const char* plural_form) {
  return fmt::format("{} {}", n, n == 1 ? singular : plural_form);
}

const analysis::Instruction* instruction_at(const analysis::RoutineWindow& window,
                                            uint64_t offset) {
  const auto it =
      std::find_if(window.listing.begin(), window.listing.end(),
                   [offset](const analysis::Instruction& i) { return i.offset == offset; });
  return it != window.listing.end() ? &*it : nullptr;
}

ut_delivery checked_delivery(uint32_t delivery) {
  if (delivery >= UT_DELIVERY_KINDS)
    throw std::invalid_argument(fmt::format(
        "signal_counts entry with unknown delivery kind {} (bpf/events.h mismatch?)", delivery));
  return static_cast<ut_delivery>(delivery);
}

void add_signals(Activity& activity, int32_t sig, const DeliveryCounts& counts) {
  auto row = std::lower_bound(activity.signals.begin(), activity.signals.end(), sig,
                              [](const SignalRow& r, int32_t s) { return r.sig < s; });
  if (row == activity.signals.end() || row->sig != sig)
    row = activity.signals.insert(row, SignalRow{sig, host::signal_name(sig)});
  for (size_t d = 0; d < UT_DELIVERY_KINDS; ++d) row->by_delivery[d] += counts[d];
}

void accumulate(Activity& total, const Activity& thread) {
  total.resumes += thread.resumes;
  for (const SignalRow& row : thread.signals) add_signals(total, row.sig, row.by_delivery);
  for (size_t d = 0; d < UT_DELIVERY_KINDS; ++d)
    total.routine_signals[d] += thread.routine_signals[d];
  total.hits.merge(thread.hits);
  for (size_t r = 0; r < model::kMissingResumeReasons; ++r)
    total.resume_missing[r] += thread.resume_missing[r];
}

// Resume rates cover the resume-traced time only; in sampled mode they are estimates.
void set_resume_rate(Activity& activity, const model::Session& session,
                     std::optional<model::RateEstimate> estimate) {
  if (session.mode == model::TraceMode::SignalOnly || session.resume_traced_s <= 0) return;
  if (session.mode != model::TraceMode::Sampled) {
    activity.resumes_per_s = per_second(activity.resumes, session.resume_traced_s);
    return;
  }
  if (!estimate) estimate = model::poisson_rate(activity.resumes, session.resume_traced_s);
  activity.resumes_per_s = estimate->per_s;
  activity.resumes_per_s_error = estimate->error_per_s;
  activity.resumes_estimated = true;
}

void set_rates(Activity& activity, double duration_s) {
  activity.signals_total = 0;
  uint64_t interrupt_signals = 0;
  for (SignalRow& row : activity.signals) {
    row.total = row.by_delivery[UT_DELIVERY_INTERRUPT] + row.by_delivery[UT_DELIVERY_SYSCALL];
    row.per_s = per_second(row.total, duration_s);
    activity.signals_total += row.total;
    interrupt_signals += row.by_delivery[UT_DELIVERY_INTERRUPT];
  }
  activity.signals_per_s = per_second(activity.signals_total, duration_s);
  activity.interrupt_signals_per_s = per_second(interrupt_signals, duration_s);
}

// Threads known to the kernel's maps or to the events, with both views side by side.
std::vector<Activity> thread_activities(const model::Session& session,
                                        const model::Joiner& joiner) {
  std::map<uint32_t, Activity> by_tid;
  auto thread = [&by_tid](uint32_t tid) -> Activity& {
    Activity& activity = by_tid[tid];
    activity.tid = tid;
    return activity;
  };
  for (const auto& [tid, resumes] : session.kernel_resumes) thread(tid).resumes = resumes;
  for (const model::KernelSignalCount& entry : session.signal_counts) {
    DeliveryCounts counts{};
    counts[checked_delivery(entry.key.delivery)] = entry.count;
    add_signals(thread(entry.key.tid), entry.key.sig, counts);
  }
  for (const auto& [tid, tally] : joiner.threads()) {
    Activity& activity = thread(tid);
    activity.routine_signals = tally.routine_signals;
    activity.hits = tally.hits;
    activity.resume_missing = tally.resume_missing;
  }
  std::vector<Activity> threads;
  for (auto& [tid, activity] : by_tid) {
    set_rates(activity, session.duration_s);
    set_resume_rate(activity, session, std::nullopt);  // per thread: Poisson error only
    threads.push_back(std::move(activity));
  }
  return threads;
}

RoutineSection routine_section(uint32_t index, const model::Session& session) {
  RoutineSection section;
  section.index = index;
  if (index >= session.routines.size()) {
    section.symbol = fmt::format("routine #{} (not in the session)", index);
    return section;
  }
  const model::TracedRoutine& routine = session.routines[index];
  section.symbol = routine.symbol;
  section.object_path = routine.object_path;
  section.build_id = routine.build_id;
  section.start = routine.start;
  section.window_instructions = routine.window.window.size();
  section.probes = routine.probes;
  for (const analysis::Instruction& insn : routine.window.listing) {
    ListingRow row;
    row.offset = insn.offset;
    row.text = insn.text;
    row.stack_switch = routine.window.switch_offset == insn.offset;
    for (const analysis::WindowInsn& w : routine.window.window)
      if (w.offset == insn.offset) row.window_class = w.cls;
    section.listing.push_back(std::move(row));
  }
  return section;
}

// Every routine of the session, plus any index the events name that the session lacks.
std::vector<RoutineSection> routine_sections(const model::Session& session,
                                             const model::Joiner& joiner) {
  std::map<uint32_t, RoutineSection> sections;
  for (uint32_t i = 0; i < session.routines.size(); ++i) sections[i] = routine_section(i, session);
  for (const auto& [where, counts] : joiner.routine_offsets()) {
    auto section = sections.find(where.routine);
    if (section == sections.end())
      section = sections.emplace(where.routine, routine_section(where.routine, session)).first;
    auto& listing = section->second.listing;
    auto row = std::lower_bound(listing.begin(), listing.end(), where.offset,
                                [](const ListingRow& r, uint64_t off) { return r.offset < off; });
    if (row == listing.end() || row->offset != where.offset) {
      ListingRow unlisted;
      unlisted.offset = where.offset;
      row = listing.insert(row, std::move(unlisted));
    }
    for (size_t d = 0; d < UT_DELIVERY_KINDS; ++d) {
      row->signals[d] += counts[d];
      section->second.signals[d] += counts[d];
    }
  }
  std::vector<RoutineSection> result;
  for (auto& [index, section] : sections) result.push_back(std::move(section));
  return result;
}

std::string object_name(const RoutineSection& routine) {
  return std::filesystem::path(routine.object_path).filename().string();
}

std::string not_exposed_verdict(const Report& report) {
  if (report.routines.empty()) {
    std::string text =
        fmt::format("not exposed: no hazardous routine mapped in pid {}", report.pid);
    if (!report.unwinder.empty())
      text += fmt::format("; exceptions unwind through {}", report.unwinder);
    return text;
  }
  std::vector<std::string> names;
  for (const RoutineSection& r : report.routines)
    names.push_back(fmt::format("{} ({})", r.symbol, object_name(r)));
  return fmt::format("not exposed: no stale read after the stack switch in {}",
                     fmt::join(names, ", "));
}

std::string hits_verdict(const Report& report) {
  const model::HitTally& hits = report.process.hits;
  auto placed = [&hits](model::SlotPlacement p) {
    return hits.by_placement[static_cast<size_t>(p)];
  };
  const uint64_t harmless =
      placed(model::SlotPlacement::RedZone) + placed(model::SlotPlacement::AboveSp) +
      placed(model::SlotPlacement::AltStack) + placed(model::SlotPlacement::NoFrame);
  std::vector<std::string> details;
  if (hits.return_address)
    details.push_back(fmt::format("{} at the return-address read", hits.return_address));
  if (uint64_t n = placed(model::SlotPlacement::Inside))
    details.push_back(fmt::format("{} with the slot inside the signal frame", n));
  if (uint64_t n = placed(model::SlotPlacement::Edge))
    details.push_back(fmt::format("{} at the frame's edge", n));
  if (uint64_t n = placed(model::SlotPlacement::BelowFrame))
    details.push_back(fmt::format("{} below the frame", n));
  if (harmless) details.push_back(fmt::format("{} out of the frame's reach", harmless));
  if (hits.geometry_unknown)
    details.push_back(fmt::format("{} with the frame size unmeasured", hits.geometry_unknown));

  std::string text =
      fmt::format("EXPOSED: {} in {:.1f} s", plural(hits.total, "window hit", "window hits"),
                  report.duration_s);
  if (!details.empty()) text += fmt::format(" ({})", fmt::join(details, ", "));
  return text;
}

std::string resumes_text(const Report& report) {
  const Activity& p = report.process;
  if (!p.resumes_per_s) return "resumes not traced";
  if (p.resumes_estimated)
    return fmt::format("~{} resumes/s (sampled)", compact_count(*p.resumes_per_s));
  return fmt::format("{} resumes", compact_count(static_cast<double>(p.resumes)));
}

std::string no_hits_verdict(const Report& report) {
  size_t window = 0;
  for (const RoutineSection& r : report.routines) window += r.window_instructions;
  return fmt::format("EXPOSED, no hits seen in {:.1f} s: window of {}, {}, {} interrupt-delivered "
                     "signals/s",
                     report.duration_s, plural(window, "instruction", "instructions"),
                     resumes_text(report), compact_count(report.process.interrupt_signals_per_s));
}

Exposure exposure_of(const Report& report) {
  if (report.process.hits.total) return Exposure::Hit;
  const bool has_window =
      std::any_of(report.routines.begin(), report.routines.end(),
                  [](const RoutineSection& r) { return r.window_instructions > 0; });
  return has_window ? Exposure::Exposed : Exposure::NotExposed;
}

double seconds_into(const model::Session& session, uint64_t ktime_ns) {
  return static_cast<double>(static_cast<int64_t>(ktime_ns - session.start_ktime_ns)) / 1e9;
}

std::string routine_symbol(const model::Session& session, uint32_t index) {
  return index < session.routines.size() ? session.routines[index].symbol : fmt::format("routine #{}", index);
}

std::vector<StuckRow> stuck_rows(const model::Session& session, const model::Joiner& joiner) {
  std::vector<StuckRow> rows;
  for (const auto& [tid, tally] : joiner.threads()) {
    const auto& stuck = tally.stuck_check.stuck();
    if (!stuck) continue;
    StuckRow row{.tid = tid,
                 .stuck = *stuck,
                 .since_s = seconds_into(session, stuck->since_ns),
                 .cause_s = std::nullopt,
                 .last_hit_s = seconds_into(session, stuck->last_hit_ns),
                 .symbol = routine_symbol(session, stuck->routine),
                 .returns_to_symbol = {}};
    if (stuck->cause_ns) row.cause_s = seconds_into(session, *stuck->cause_ns);
    if (stuck->returns_to) row.returns_to_symbol = routine_symbol(session, stuck->returns_to->routine);
    rows.push_back(std::move(row));
  }
  return rows;
}

// Stuck threads keep landing in the window: say how much of the hit count is such a loop.
std::string stuck_verdict(const Report& report) {
  if (report.stuck_threads.empty()) return "";
  return fmt::format("; {} stuck looping in the unwinder: {} of these hits are that loop, not exposure",
                     plural(report.stuck_threads.size(), "thread", "threads"), report.stuck_hits);
}

std::string verdict_of(const Report& report) {
  std::string text;
  switch (report.exposure) {
    case Exposure::NotExposed: text = not_exposed_verdict(report); break;
    case Exposure::Exposed: text = no_hits_verdict(report); break;
    case Exposure::Hit: text = hits_verdict(report) + stuck_verdict(report); break;
  }
  // Lost signal events may have been hits: the count above is a lower bound.
  if (report.exposure != Exposure::NotExposed && report.lost.kernel[UT_LOST_SIGNAL])
    text += fmt::format("; {} signal events lost, hits may be missing",
                        report.lost.kernel[UT_LOST_SIGNAL]);
  return text;
}

}  // namespace

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

const char* to_string(Exposure exposure) {
  switch (exposure) {
    case Exposure::NotExposed: return "not_exposed";
    case Exposure::Exposed: return "exposed";
    case Exposure::Hit: return "hit";
  }
  return "?";
}

const char* delivery_name(ut_delivery delivery) {
  return delivery == UT_DELIVERY_SYSCALL ? "syscall" : "interrupt";
}

std::string compact_count(double value) {
  auto trimmed = [](double x) {
    std::string s = x < 9.95 ? fmt::format("{:.1f}", x) : fmt::format("{:.0f}", x);
    if (s.ends_with(".0")) s.resize(s.size() - 2);
    return s;
  };
  // Switch unit where rounding would print 1000 of the smaller one.
  for (auto [scale, suffix] : {std::pair{1e9, "G"}, std::pair{1e6, "M"}, std::pair{1e3, "k"}})
    if (value >= scale * 0.9995) return trimmed(value / scale) + suffix;
  return trimmed(value);
}

HitRow make_hit_row(const model::JoinedSignal& hit, const model::Session& session) {
  HitRow row;
  row.hit = hit;
  row.time_s = seconds_into(session, hit.ktime_ns);
  if (hit.routine < session.routines.size()) {
    const model::TracedRoutine& routine = session.routines[hit.routine];
    row.routine = routine.symbol;
    if (const analysis::Instruction* insn = instruction_at(routine.window, hit.offset))
      row.instruction = insn->text;
  } else {
    row.routine = routine_symbol(session, hit.routine);
  }
  return row;
}

Report build_report(const model::Session& session, const model::Joiner& joiner) {
  Report report;
  report.pid = session.pid;
  report.comm = session.comm;
  report.exe = session.exe;
  report.unwinder = session.unwinder;
  report.started_at = iso8601_utc(session.started_at);
  report.ended_at = iso8601_utc(session.ended_at);
  report.duration_s = session.duration_s;
  report.target_exited = session.target_exited;
  report.target_change = session.target_change;
  report.host = session.host;
  report.frame_size = session.frame_size;
  report.mode = session.mode;
  report.duty_cycle = session.duty_cycle;
  report.resume_traced_s = session.resume_traced_s;
  report.sampled_periods = session.resume_periods.periods();
  report.load_ms = session.load_ms;
  report.attach_ms = session.attach_ms;

  report.threads = thread_activities(session, joiner);
  for (const Activity& thread : report.threads) accumulate(report.process, thread);
  set_rates(report.process, session.duration_s);
  set_resume_rate(report.process, session, session.resume_periods.estimate());
  report.distance = joiner.distance();

  report.routines = routine_sections(session, joiner);
  for (const model::JoinedSignal& hit : joiner.kept_hits())
    report.hits.push_back(make_hit_row(hit, session));
  report.hits_not_listed = report.process.hits.total - report.hits.size();
  report.stuck_threads = stuck_rows(session, joiner);
  for (const StuckRow& row : report.stuck_threads) report.stuck_hits += row.stuck.hits;

  report.lost.kernel = session.lost_events;
  report.model = build_model_section(session, joiner);

  report.exposure = exposure_of(report);
  report.verdict = verdict_of(report);
  return report;
}

}  // namespace ut::output
