#include "host/signal_names.h"
#include "output/text_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <numeric>

namespace ut::output {
namespace {

constexpr size_t kHistogramRows = 12;
constexpr size_t kHistogramBarWidth = 30;
constexpr size_t kElideZeroRunsLongerThan = 3;  // in listings of long routines

template <size_t N>
uint64_t total(const std::array<uint64_t, N>& counts) {
  return std::accumulate(counts.begin(), counts.end(), uint64_t{0});
}

std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) digits.insert(at, ",");
  return digits;
}

std::string grouped(int64_t n) {
  return n < 0 ? "-" + grouped(static_cast<uint64_t>(-n)) : grouped(static_cast<uint64_t>(n));
}

std::string placement_text(const model::SlotVerdict& verdict) {
  switch (verdict.placement) {
    case model::SlotPlacement::Inside: return "inside the frame";
    case model::SlotPlacement::Edge: return "at the frame's edge";
    case model::SlotPlacement::BelowFrame:
      return fmt::format("below the frame (handler must use {} B)", grouped(verdict.handler_bytes));
    case model::SlotPlacement::RedZone: return "in the red zone";
    case model::SlotPlacement::AboveSp: return "above SP";
    case model::SlotPlacement::AltStack: return "frame on the alternate stack";
    case model::SlotPlacement::NoFrame: return "no handler, no frame";
  }
  return "?";
}

std::string resume_text(const model::JoinedSignal& hit) {
  if (hit.resume) return fmt::format("resume #{}", hit.resume->seq);
  return fmt::format("resume #{} {}", hit.resume_seq, model::to_string(*hit.resume_missing));
}

std::string hit_line(const HitRow& row) {
  const model::JoinedSignal& hit = row.hit;
  return fmt::format(
      "{:>11.6f} s  tid {:<7} {:<9} {:<9}  {}+{:#x} {:<34} {:<15} D={:<7} slot {:#x} {}, value "
      "{:#x}  {}",
      row.time_s, hit.tid, host::signal_name(hit.sig), delivery_name(hit.delivery), row.routine,
      hit.offset, row.instruction, analysis::to_string(*hit.window_class),
      hit.distance ? grouped(*hit.distance) : "?", hit.slot_addr,
      hit.geometry ? placement_text(*hit.geometry) : "frame size unmeasured", hit.slot_value,
      resume_text(hit));
}

std::string delivery_split(const model::DeliveryCounts& counts) {
  return fmt::format("interrupt {}, syscall {}", grouped(counts[UT_DELIVERY_INTERRUPT]),
                     grouped(counts[UT_DELIVERY_SYSCALL]));
}

std::string hits_split(const model::HitTally& hits) {
  return fmt::format("return address {}, register {}", grouped(hits.return_address),
                     grouped(hits.register_read));
}

constexpr auto kUntraced = static_cast<size_t>(model::MissingResume::Untraced);

// Reasons that are losses or probe gaps; "untraced" is shown apart: the mode chose it.
std::string missing_split(const Activity& activity) {
  std::vector<std::string> parts;
  for (size_t r = 0; r < model::kMissingResumeReasons; ++r)
    if (activity.resume_missing[r] && r != kUntraced)
      parts.push_back(fmt::format("{} {}", grouped(activity.resume_missing[r]),
                                  model::to_string(static_cast<model::MissingResume>(r))));
  return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}

std::string mode_line(const Report& r) {
  switch (r.mode) {
    case model::TraceMode::SignalOnly: return "signal-only (resumes not traced)";
    case model::TraceMode::Full: return fmt::format("full (resumes traced {:.1f} s)", r.resume_traced_s);
    case model::TraceMode::Sampled:
      return fmt::format("sampled, {:g}% of every {:g} s: resumes traced {:.1f} s in {} periods; "
                         "resume rates are estimates",
                         r.duty_cycle ? r.duty_cycle->fraction * 100 : 0,
                         r.duty_cycle ? r.duty_cycle->period_s : 0, r.resume_traced_s,
                         r.sampled_periods);
  }
  return "?";
}

// "12k/s", "~12k/s ±300" (sampled), "-" (not traced).
std::string resume_rate(const Activity& a) {
  if (!a.resumes_per_s) return "-";
  if (!a.resumes_estimated) return compact_count(*a.resumes_per_s) + "/s";
  return fmt::format("~{}/s ±{}", compact_count(*a.resumes_per_s),
                     compact_count(a.resumes_per_s_error.value_or(0)));
}

void render_header(std::string& out, const Report& r) {
  fmt::format_to(std::back_inserter(out), "unwindtrace: pid {} ({}) {}\n", r.pid, r.comm, r.exe);
  fmt::format_to(std::back_inserter(out), "traced {:.1f} s from {}{}\n", r.duration_s, r.started_at,
                 r.target_exited ? " (the target exited during tracing)" : "");
  fmt::format_to(std::back_inserter(out), "mode: {}\n", mode_line(r));
  if (!r.target_change.empty())
    fmt::format_to(std::back_inserter(out), "tracing stopped early: {}; counts cover the time before\n",
                   r.target_change);
  fmt::format_to(std::back_inserter(out), "host: {}, {}, Linux {}\n", r.host.hostname,
                 r.host.cpu_model, r.host.kernel_release);
  if (!r.unwinder.empty()) fmt::format_to(std::back_inserter(out), "unwinder: {}\n", r.unwinder);
  fmt::format_to(std::back_inserter(out), "\n{}\n", r.verdict);
}

void render_lost(std::string& out, const LostEvents& lost) {
  if (!lost.any()) {
    out += "\nLost events: none\n";
    return;
  }
  fmt::format_to(std::back_inserter(out),
                 "\nLOST EVENTS: {} signal events (ring buffer full)\n", grouped(lost.kernel[UT_LOST_SIGNAL]));
  if (lost.kernel[UT_LOST_COUNTER])
    fmt::format_to(std::back_inserter(out),
                   "UNCOUNTED: {} signals, resumes or resume shapes (the kernel's counter maps were full)\n",
                   grouped(lost.kernel[UT_LOST_COUNTER]));
}

void render_process(std::string& out, const Report& r) {
  const Activity& p = r.process;
  auto line = [&out](const char* label, uint64_t count, const std::string& rate,
                     const std::string& detail) {
    fmt::format_to(std::back_inserter(out), "  {:<15}{:>12}  {:>8}  {}\n", label, grouped(count),
                   rate, detail);
  };
  out += "\nProcess\n";
  line("resumes", p.resumes, resume_rate(p),
       p.resumes_estimated ? "rate estimated from the sampled time" : "counted in the kernel");
  line("signals", p.signals_total, compact_count(p.signals_per_s) + "/s",
       fmt::format("interrupt-delivered {}/s", compact_count(p.interrupt_signals_per_s)));
  line("in routine", total(p.routine_signals), "", delivery_split(p.routine_signals));
  line("window hits", p.hits.total, "", hits_split(p.hits));
  line("resume missing", total(p.resume_missing) - p.resume_missing[kUntraced], "", missing_split(p));
  if (p.resume_missing[kUntraced])
    line("resume untraced", p.resume_missing[kUntraced], "",
         "in-routine signals while resumes were not traced (the mode's choice, not a loss)");
}

void render_signals(std::string& out, const Activity& process) {
  if (process.signals.empty()) return;
  out += "\nSignals\n";
  fmt::format_to(std::back_inserter(out), "  {:<14}{:>14}{:>14}{:>14}{:>9}\n", "signal",
                 "interrupt", "syscall", "total", "/s");
  for (const SignalRow& row : process.signals)
    fmt::format_to(std::back_inserter(out), "  {:<14}{:>14}{:>14}{:>14}{:>9}\n", row.name,
                   grouped(row.by_delivery[UT_DELIVERY_INTERRUPT]),
                   grouped(row.by_delivery[UT_DELIVERY_SYSCALL]), grouped(row.total),
                   compact_count(row.per_s));
}

void render_threads(std::string& out, const std::vector<Activity>& threads) {
  if (threads.empty()) return;
  out += "\nThreads\n";
  fmt::format_to(std::back_inserter(out),
                 "  {:<8}{:>13}{:>8}{:>12}{:>8}{:>11}{:>6}\n", "tid", "resumes", "/s", "signals", "/s",
                 "in routine", "hits");
  for (const Activity& t : threads)
    fmt::format_to(std::back_inserter(out), "  {:<8}{:>13}{:>8}{:>12}{:>8}{:>11}{:>6}\n", t.tid,
                   grouped(t.resumes), t.resumes_per_s ? compact_count(*t.resumes_per_s) : "-",
                   grouped(t.signals_total), compact_count(t.signals_per_s),
                   grouped(total(t.routine_signals)), grouped(t.hits.total));
}

std::string window_label(const ListingRow& row) {
  if (row.window_class) return analysis::to_string(*row.window_class);
  return row.stack_switch ? "stack switch" : "";
}

bool quiet(const ListingRow& row) {
  return !row.window_class && !row.stack_switch && total(row.signals) == 0;
}

void render_routine(std::string& out, const RoutineSection& routine) {
  fmt::format_to(std::back_inserter(out), "\nRoutine {}: {} in {} at {:#x}\n", routine.index,
                 routine.symbol, routine.object_path, routine.start);
  fmt::format_to(std::back_inserter(out),
                 "  build-id {}, window of {} instructions, {} signals inside ({})\n",
                 routine.build_id.empty() ? "none" : routine.build_id, routine.window_instructions,
                 grouped(total(routine.signals)), delivery_split(routine.signals));
  for (const analysis::ProbePoint& probe : routine.probes)
    fmt::format_to(std::back_inserter(out),
                   "  resume probe: {} at {:#x} (file offset {:#x}): {}, {}\n", probe.function,
                   probe.vaddr, probe.file_offset, probe.text,
                   probe.emulated ? "emulated" : "single-stepped");
  fmt::format_to(std::back_inserter(out), "  {:<8}{:<40}{:<16}{:>12}{:>10}\n", "offset",
                 "instruction", "window", "interrupt", "syscall");
  const auto& rows = routine.listing;
  for (size_t i = 0; i < rows.size();) {
    // Long runs of instructions nobody landed on say nothing: fold them.
    size_t run = 0;
    while (i + run < rows.size() && quiet(rows[i + run])) ++run;
    if (run > kElideZeroRunsLongerThan) {
      fmt::format_to(std::back_inserter(out), "  {:<8}({} instructions without signals)\n", "...",
                     run);
      i += run;
      continue;
    }
    const ListingRow& row = rows[i++];
    fmt::format_to(std::back_inserter(out), "  {:<8}{:<40}{:<16}{:>12}{:>10}\n",
                   fmt::format("+{:#x}", row.offset),
                   row.text.empty() ? "(not an instruction start)" : row.text, window_label(row),
                   grouped(row.signals[UT_DELIVERY_INTERRUPT]),
                   grouped(row.signals[UT_DELIVERY_SYSCALL]));
  }
}

// The widest-resolution histogram that still fits in a few rows.
int64_t display_width(const model::DistanceHistogram& histogram) {
  int64_t width = model::DistanceHistogram::kBucketBytes;
  while (histogram.buckets(width).size() > kHistogramRows) width *= 2;
  return width;
}

void render_distance(std::string& out, const model::DistanceHistogram& d) {
  if (d.count() == 0) {
    out += "\nDistance D = target SP - ucontext: no resume events\n";
    return;
  }
  const int64_t width = display_width(d);
  const auto rows = d.buckets(width);
  fmt::format_to(
      std::back_inserter(out),
      "\nDistance D = target SP - ucontext, {} resumes: min {}, median {}..{}, max {} bytes\n",
      grouped(d.count()), grouped(*d.min()), grouped(*d.median_bucket()),
      grouped(*d.median_bucket() + model::DistanceHistogram::kBucketBytes - 1), grouped(*d.max()));
  uint64_t tallest = 0;
  for (const auto& [start, n] : rows) tallest = std::max(tallest, n);
  for (const auto& [start, n] : rows) {
    const size_t bar = std::max<size_t>(1, n * kHistogramBarWidth / tallest);
    fmt::format_to(std::back_inserter(out), "  {:>8}..{:<8} {:<{}} {}\n", grouped(start),
                   grouped(start + width - 1), std::string(bar, '#'), kHistogramBarWidth,
                   grouped(n));
  }
}

void render_frame(std::string& out, const std::optional<model::FrameSize>& frame) {
  if (frame)
    fmt::format_to(std::back_inserter(out),
                   "\nSignal frame: {}..{} bytes below SP-128 (measured on this host)\n",
                   grouped(uint64_t{frame->min_bytes}), grouped(uint64_t{frame->max_bytes}));
  else
    out += "\nSignal frame: not measured; hits are not classified inside/edge/below the frame\n";
}

void render_hits(std::string& out, const Report& r) {
  if (r.process.hits.total == 0) return;
  fmt::format_to(std::back_inserter(out), "\nWindow hits: {}", grouped(r.process.hits.total));
  if (r.hits_not_listed)
    fmt::format_to(std::back_inserter(out), " (first {} listed)", r.hits.size());
  out += "\n";
  for (const HitRow& row : r.hits) out += "  " + hit_line(row) + "\n";
}

// How the thread was seen stuck, and where its routine returns to when known.
std::string stuck_how(const StuckRow& row) {
  const std::string cause = row.cause_s ? fmt::format(" (at {:.6f} s)", *row.cause_s) : "";
  std::string text;
  if (const auto& target = row.stuck.returns_to)
    text = fmt::format("an earlier window hit{} made it return into {}+{:#x} (slot value {:#x})", cause,
                       row.returns_to_symbol, target->offset, target->address);
  else
    text = fmt::format("an earlier window hit{} sent it back into {}", cause, row.symbol);
  switch (row.stuck.mark) {
    case model::StuckMark::WindowAgain:
      text += fmt::format("; at {:.6f} s it was at +{:#x} again within one resume", row.since_s, row.stuck.offset);
      break;
    case model::StuckMark::LoopStreak:
      text += fmt::format("; from {:.6f} s on, {} of its signals in a row landed in the loop", row.since_s,
                          model::StuckCheck::kLoopSignals);
      break;
    case model::StuckMark::ReturnIntoRoutine:
      text += fmt::format("; seen at {:.6f} s", row.since_s);
      break;
  }
  return text;
}

// A stuck thread's hits look like a storm of exposure: say plainly that they are one dead thread.
void render_stuck(std::string& out, const Report& r) {
  if (r.stuck_threads.empty()) return;
  fmt::format_to(std::back_inserter(out), "\nStuck threads: {}\n", r.stuck_threads.size());
  for (const StuckRow& row : r.stuck_threads) {
    fmt::format_to(std::back_inserter(out),
                   "  thread {} is stuck: {}; it loops there instead of resuming, and no crash follows while it does\n",
                   row.tid, stuck_how(row));
    fmt::format_to(std::back_inserter(out),
                   "    its {} window hits from then on (the last at {:.6f} s) are that loop, not exposure\n",
                   grouped(row.stuck.hits), row.last_hit_s);
  }
  fmt::format_to(std::back_inserter(out),
                 "  the hit counts and the model's observed hits include these {} hits\n",
                 grouped(r.stuck_hits));
}

}  // namespace

std::string render_text(const Report& report) {
  std::string out;
  render_header(out, report);
  render_lost(out, report.lost);
  render_process(out, report);
  render_signals(out, report.process);
  render_threads(out, report.threads);
  for (const RoutineSection& routine : report.routines) render_routine(out, routine);
  render_distance(out, report.distance);
  render_frame(out, report.frame_size);
  render_hits(out, report);
  render_stuck(out, report);
  if (report.model) render_model(out, *report.model);
  return out;
}

std::string format_hit_line(const model::JoinedSignal& hit, const model::Session& session) {
  return hit_line(make_hit_row(hit, session));
}

}  // namespace ut::output
