#include "validate/site_outcome.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "host/signal_names.h"

namespace ut::validate {

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::Crashed:
      return "crashed";
    case Outcome::Corrupted:
      return "corrupted";
    case Outcome::Survived:
      return "survived";
    case Outcome::NotReached:
      return "not_reached";
    case Outcome::Inconclusive:
      return "inconclusive";
  }
  return "?";
}

bool is_corruption(Outcome outcome) { return outcome == Outcome::Crashed || outcome == Outcome::Corrupted; }

bool Injection::corrupted() const {
  return std::any_of(slots.begin(), slots.end(), [](const SlotEvidence& s) { return s.overwritten(); });
}

double SiteResult::landing_ratio() const {
  return delivered() ? static_cast<double>(landed()) / static_cast<double>(delivered()) : 0.0;
}

namespace {

std::optional<double> seconds_since(uint64_t start_ns, uint64_t ktime_ns) {
  if (ktime_ns < start_ns) return 0.0;
  return static_cast<double>(ktime_ns - start_ns) / 1e9;
}

std::string slot_name(const PendingSlot& slot) {
  return fmt::format("ctx{:+#x} ({})", slot.disp,
                     slot.cls == analysis::ReadClass::ReturnAddress ? "return address" : "register");
}

// `handler_stack`: what the target's handler uses, when known.
std::string placement_phrase(const model::SlotVerdict& verdict,
                             const std::optional<uint64_t>& handler_stack) {
  using model::SlotPlacement;
  switch (verdict.placement) {
    case SlotPlacement::Inside:
      return "inside the signal frame";
    case SlotPlacement::Edge:
      return "at the edge of the signal frame (reached by the larger frames)";
    case SlotPlacement::BelowFrame:
      return fmt::format("below the signal frame (a handler must use {} B of stack to reach it{})",
                         verdict.handler_bytes,
                         handler_stack ? fmt::format("; this handler uses {} B", *handler_stack) : "");
    case SlotPlacement::RedZone:
      return "in the red zone, which the kernel never writes";
    case SlotPlacement::AboveSp:
      return "at or above the stack pointer (live stack)";
    case SlotPlacement::AltStack:
      return "on the thread's stack while the frame went to the alternate stack";
    case SlotPlacement::NoFrame:
      return "untouched: no handler ran, so no frame was written";
  }
  return "?";
}

// "ctx+0xa8 (return address) lay inside the signal frame, 1928 B below the target SP; it held
// 0x... before the frame and 0x0 when the routine read it"
std::string slot_evidence(const Injection& injection, const SlotEvidence& slot,
                          const std::optional<uint64_t>& handler_stack) {
  std::string where = slot.geometry ? placement_phrase(*slot.geometry, handler_stack)
                                    : "somewhere unmeasured (no frame size)";
  std::string text = fmt::format("{} lay {}, {} B below the target SP; it held {:#x} before the frame",
                                 slot_name(slot.slot), where, injection.target_sp - slot.addr, slot.before);
  if (slot.after) text += fmt::format(" and {:#x} when the routine read it", *slot.after);
  return text;
}

// The slot that explains a corruption: the first one overwritten, else the return address.
const SlotEvidence* telling_slot(const Injection& injection) {
  for (const auto& slot : injection.slots)
    if (slot.overwritten()) return &slot;
  for (const auto& slot : injection.slots)
    if (slot.slot.cls == analysis::ReadClass::ReturnAddress) return &slot;
  return injection.slots.empty() ? nullptr : &injection.slots.front();
}

model::SlotPlacement most_common_placement(const SlotSummary& summary) {
  auto it = std::max_element(summary.placements.begin(), summary.placements.end());
  return static_cast<model::SlotPlacement>(it - summary.placements.begin());
}

// Where each slot that no frame overwrote lay: why it survived.
std::vector<std::string> untouched_slots(const SiteResult& r, const std::optional<uint64_t>& handler_stack) {
  std::vector<std::string> parts;
  for (const auto& summary : r.slots) {
    if (summary.overwritten > 0) continue;
    if (summary.unclassified == r.landing_events) {
      parts.push_back(fmt::format("{} never changed", slot_name(summary.slot)));
      continue;
    }
    model::SlotVerdict verdict{most_common_placement(summary), 0, summary.max_handler_bytes};
    std::string phrase = placement_phrase(verdict, handler_stack);
    if (verdict.placement == model::SlotPlacement::Inside || verdict.placement == model::SlotPlacement::Edge)
      phrase += ", but in bytes the kernel did not write: its value never changed";
    parts.push_back(fmt::format("{} lay {}", slot_name(summary.slot), phrase));
  }
  return parts;
}

// A return into the routine itself, at or before the landing instruction (the frame's saved %rip
// is the landing instruction's address): the thread loops there and never faults (docs/model.md,
// "Stuck threads").
std::string wild_return(const SiteResult& r, uint64_t target) {
  std::string text = fmt::format("wild return to {:#x}", target);
  if (target >= r.routine_start && target - r.routine_start <= r.site.offset)
    text += fmt::format(" (+{:#x} of this routine: the thread loops in it, without a crash)", target - r.routine_start);
  return text;
}

std::string corruption_reason(const SiteResult& r, const std::optional<uint64_t>& handler_stack) {
  const Injection& first = *r.first_corruption;
  const SlotEvidence& slot = *telling_slot(first);
  std::string text =
      fmt::format("{} of {} injection(s) overwrote a pending slot; first #{}: {}: {}", r.corrupted,
                  r.landing_events, first.seq, slot_evidence(first, slot, handler_stack),
                  slot.slot.cls == analysis::ReadClass::ReturnAddress ? wild_return(r, slot.after.value_or(0))
                                                                       : std::string("silent register corruption"));
  auto untouched = untouched_slots(r, handler_stack);
  if (!untouched.empty()) text += fmt::format("; never overwritten: {}", fmt::join(untouched, "; "));
  return text;
}

std::string crash_reason(const SiteResult& r, const Crash& crash,
                         const std::optional<uint64_t>& handler_stack) {
  std::string what = fmt::format("{} at IP {:#x}{}", host::signal_name(crash.sig), crash.ip,
                                 crash.ip == 0 ? " (return to 0)" : "");
  if (!crash.after) return what + ", before any injection landed on that thread";
  const Injection& injection = *crash.after;
  std::string text = fmt::format("{} after injection #{} at +{:#x}", what, injection.seq, r.site.offset);
  const SlotEvidence* slot = telling_slot(injection);
  if (!slot) return text;
  text += ": " + slot_evidence(injection, *slot, handler_stack);
  if (!injection.corrupted()) text += "; no pending slot changed, so the frame did not cause this crash";
  return text;
}

}  // namespace

SiteAccumulator::SiteAccumulator(Context context) : context_(std::move(context)) {
  result_.site = context_.site;
  result_.routine = context_.routine;
  result_.routine_start = context_.routine_start;
  result_.limit = context_.limit;
  result_.start_ktime_ns = context_.start_ktime_ns;
  for (const auto& slot : context_.site.slots) result_.slots.push_back({slot});
}

void SiteAccumulator::add_landing(const ut_inject_event& e) {
  uint64_t landing_ip = context_.routine_start + context_.site.offset;
  if (e.ip != landing_ip) {
    ++result_.elsewhere[e.ip];
    return;
  }
  ++result_.landing_events;
  Injection injection{e.seq,   e.hdr.tid, e.hdr.ktime_ns, e.sp,        e.ctx, e.target_sp,
                      e.flags, {},        false,          std::nullopt};
  if (context_.ctx_known) injection.distance = e.target_sp - e.ctx;
  for (size_t i = 0; i < context_.site.slots.size() && i < e.n_slots && i < UT_INJECT_MAX_SLOTS; ++i) {
    if (e.unreadable & (1u << i)) continue;
    SlotEvidence slot{context_.site.slots[i], e.slot_addr[i], e.slot_value[i], std::nullopt,
                      model::classify_slot(e.sp, e.slot_addr[i], e.flags, context_.frame)};
    injection.slots.push_back(slot);
  }
  last_by_thread_[injection.tid] = injection;
  open_[injection.seq] = std::move(injection);
}

void SiteAccumulator::add_check(const ut_inject_event& e) {
  auto it = open_.find(e.seq);
  if (it == open_.end()) return;  // its landing event was lost
  Injection injection = std::move(it->second);
  open_.erase(it);
  injection.resumed = true;
  for (auto& slot : injection.slots)
    for (size_t i = 0; i < e.n_slots && i < UT_INJECT_MAX_SLOTS; ++i)
      if (e.slot_addr[i] == slot.addr && !(e.unreadable & (1u << i))) slot.after = e.slot_value[i];
  last_by_thread_[injection.tid] = injection;
  close(std::move(injection));
}

void SiteAccumulator::add_crash(const ut_inject_event& e) {
  Crash crash{e.sig, e.hdr.tid, e.ip, e.sp, e.fault_addr, e.hdr.ktime_ns, std::nullopt};
  if (auto it = last_by_thread_.find(e.hdr.tid); it != last_by_thread_.end()) crash.after = it->second;
  result_.crash = crash;
}

void SiteAccumulator::close(Injection injection) {
  if (auto d = injection.distance) {
    result_.d_min = std::min(result_.d_min.value_or(*d), *d);
    result_.d_max = std::max(result_.d_max.value_or(*d), *d);
  }
  for (size_t i = 0; i < injection.slots.size(); ++i) {
    const SlotEvidence& slot = injection.slots[i];
    auto summary = std::find_if(result_.slots.begin(), result_.slots.end(),
                                [&](const SlotSummary& s) { return s.slot.disp == slot.slot.disp; });
    if (summary == result_.slots.end()) continue;
    if (slot.overwritten()) ++summary->overwritten;
    if (!slot.geometry) {
      ++summary->unclassified;
      continue;
    }
    ++summary->placements[static_cast<size_t>(slot.geometry->placement)];
    summary->max_handler_bytes = std::max(summary->max_handler_bytes, slot.geometry->handler_bytes);
  }
  if (injection.corrupted()) {
    ++result_.corrupted;
    if (!result_.first_corruption) result_.first_corruption = injection;
  }
  if (!result_.first) result_.first = std::move(injection);
}

SiteResult SiteAccumulator::finish(const InjectCounters& counters, const InjectCounters& process,
                                   const TargetEnd& end, bool run_crashed) {
  // Landed but never resumed at the landing instruction (the thread died or never came back).
  while (!open_.empty()) {
    close(std::move(open_.begin()->second));
    open_.erase(open_.begin());
  }
  SiteResult& r = result_;
  r.counters = counters;
  r.process_counters = process;
  r.end = end;
  const auto& site = r.site;
  // Died of a signal no fatal-signal event explains (the injected one without a handler, a kill).
  bool died_unexplained = end.exited && end.status > 128 && !end.stopped_by_validate && !run_crashed;

  if (r.delivered() == 0) {
    r.outcome = Outcome::NotReached;
    r.reason =
        counters[UT_INJ_SENT] > 0
            ? fmt::format("{} signal(s) sent, none delivered (blocked in the target?)", counters[UT_INJ_SENT])
            : fmt::format("the instruction at +{:#x} never ran in this target", site.inject_offset);
    if (r.crash)
      r.reason +=
          fmt::format("; the target crashed first: {}", crash_reason(r, *r.crash, context_.handler_stack));
  } else if (r.crash) {
    r.outcome = Outcome::Crashed;
    r.reason = crash_reason(r, *r.crash, context_.handler_stack);
  } else if (died_unexplained && end.status - 128 == context_.sig && r.first &&
             !(r.first->flags & UT_SIG_HANDLER)) {
    r.outcome = Outcome::Inconclusive;
    r.reason = fmt::format(
        "the target has no handler for {}: the injected signal itself killed it "
        "(choose a --signal it handles)",
        host::signal_name(context_.sig));
  } else if (died_unexplained) {
    r.outcome = Outcome::Crashed;
    r.reason = fmt::format("the target died of {} (status {})", host::signal_name(end.status - 128), end.status);
  } else if (r.corrupted > 0) {
    r.outcome = Outcome::Corrupted;
    r.reason = corruption_reason(r, context_.handler_stack);
  } else if (r.landing_ratio() < kMinLandingRatio) {
    r.outcome = Outcome::Inconclusive;
    r.reason = fmt::format(
        "only {} of {} injected signals landed at +{:#x} (need {:.0f}%): the instruction "
        "at +{:#x} is not always the one run before it",
        r.landed(), r.delivered(), site.offset, kMinLandingRatio * 100, site.inject_offset);
  } else {
    r.outcome = Outcome::Survived;
    r.reason = site.kind == SiteKind::AfterSwitch
                   ? fmt::format(
                         "no window: nothing reads the abandoned stack after the switch; {} "
                         "injection(s) right after it survived",
                         r.landing_events)
                   : fmt::format("{} injection(s), no pending slot overwritten: {}", r.landing_events,
                                 fmt::join(untouched_slots(r, context_.handler_stack), "; "));
  }
  return std::move(r);
}

RunAccumulator::RunAccumulator(std::vector<SiteAccumulator::Context> sites) {
  for (auto& context : sites) sites_.emplace_back(std::move(context));
}

void RunAccumulator::add(const ut_inject_event& e) {
  if (e.hdr.kind == UT_EVENT_FATAL_SIGNAL) {
    if (std::exchange(crashed_, true)) return;
    if (auto it = last_site_by_thread_.find(e.hdr.tid); it != last_site_by_thread_.end()) {
      sites_[it->second].add_crash(e);
    } else {
      for (auto& site : sites_) site.add_crash(e);  // nothing to blame it on but the run
    }
    return;
  }
  if (e.site >= sites_.size()) return;
  if (e.hdr.kind == UT_EVENT_INJECT_LANDING) {
    sites_[e.site].add_landing(e);
    last_site_by_thread_[e.hdr.tid] = e.site;
  } else if (e.hdr.kind == UT_EVENT_INJECT_CHECK) {
    sites_[e.site].add_check(e);
  }
}

std::vector<SiteResult> RunAccumulator::finish(const std::vector<InjectCounters>& counters,
                                               const InjectCounters& process, const TargetEnd& end) {
  std::vector<SiteResult> results;
  for (size_t i = 0; i < sites_.size(); ++i)
    results.push_back(
        sites_[i].finish(i < counters.size() ? counters[i] : InjectCounters{}, process, end, crashed_));
  return results;
}

std::optional<double> SiteResult::first_injection_s() const {
  if (!first) return std::nullopt;
  return seconds_since(start_ktime_ns, first->ktime_ns);
}

std::optional<double> SiteResult::crash_s() const {
  if (!crash) return std::nullopt;
  return seconds_since(start_ktime_ns, crash->ktime_ns);
}

}  // namespace ut::validate
