#include "model/join.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace ut::model {
namespace {

// Floor to a multiple of `width`, negative values included (a context above the target SP).
int64_t bucket_start(int64_t distance, int64_t width) {
  return (distance >= 0 ? distance / width : -((-distance + width - 1) / width)) * width;
}

ut_delivery delivery_of(const ut_signal_event& event) {
  if (event.delivery >= UT_DELIVERY_KINDS)
    throw std::invalid_argument("signal event with unknown delivery kind " +
                                std::to_string(event.delivery) + " (bpf/events.h mismatch?)");
  return static_cast<ut_delivery>(event.delivery);
}

std::optional<analysis::ReadClass> window_class_of(const ut_signal_event& event) {
  switch (event.window_class) {
    case UT_CLASS_NONE: return std::nullopt;
    case UT_CLASS_REGISTER: return analysis::ReadClass::Register;
    case UT_CLASS_RETURN_ADDRESS: return analysis::ReadClass::ReturnAddress;
  }
  throw std::invalid_argument("signal event with unknown window class " +
                              std::to_string(event.window_class) + " (bpf/events.h mismatch?)");
}

// Rejects values outside the wire contract on arrival, not later when a waiting signal is joined.
void check_wire_values(const ut_signal_event& event) {
  delivery_of(event);
  window_class_of(event);
}

}  // namespace

void DistanceHistogram::add(int64_t distance, uint64_t count) {
  if (count == 0) return;
  min_ = count_ == 0 ? distance : std::min(min_, distance);
  max_ = count_ == 0 ? distance : std::max(max_, distance);
  count_ += count;
  buckets_[bucket_start(distance, kBucketBytes)] += count;
}

void DistanceHistogram::merge(const DistanceHistogram& other) {
  if (other.count_ == 0) return;
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
  count_ += other.count_;
  for (const auto& [start, n] : other.buckets_) buckets_[start] += n;
}

std::map<int64_t, uint64_t> DistanceHistogram::buckets(int64_t width) const {
  std::map<int64_t, uint64_t> wider;
  for (const auto& [start, n] : buckets_) wider[bucket_start(start, width)] += n;
  return wider;
}

std::optional<int64_t> DistanceHistogram::min() const {
  return count_ ? std::optional(min_) : std::nullopt;
}

std::optional<int64_t> DistanceHistogram::max() const {
  return count_ ? std::optional(max_) : std::nullopt;
}

std::optional<int64_t> DistanceHistogram::median_bucket() const {
  if (count_ == 0) return std::nullopt;
  const uint64_t median_rank = (count_ - 1) / 2;  // 0-based rank of the lower median
  uint64_t below = 0;
  for (const auto& [start, n] : buckets_) {
    if (median_rank < below + n) return start;
    below += n;
  }
  return buckets_.rbegin()->first;  // unreachable: the counts sum to count_
}

const char* to_string(MissingResume reason) {
  switch (reason) {
    case MissingResume::Unprobed: return "unprobed";
    case MissingResume::Untraced: return "untraced";
  }
  return "?";
}

void HitTally::add(const JoinedSignal& hit) {
  ++total;
  if (hit.delivery == UT_DELIVERY_INTERRUPT) ++interrupt;
  if (hit.window_class == analysis::ReadClass::ReturnAddress) ++return_address;
  if (hit.window_class == analysis::ReadClass::Register) ++register_read;
  if (hit.geometry)
    ++by_placement[static_cast<size_t>(hit.geometry->placement)];
  else
    ++geometry_unknown;
}

void HitTally::merge(const HitTally& other) {
  total += other.total;
  interrupt += other.interrupt;
  return_address += other.return_address;
  register_read += other.register_read;
  for (size_t i = 0; i < kSlotPlacements; ++i) by_placement[i] += other.by_placement[i];
  geometry_unknown += other.geometry_unknown;
}

const char* to_string(StuckMark mark) {
  switch (mark) {
    case StuckMark::ReturnIntoRoutine: return "return_into_routine";
    case StuckMark::WindowAgain: return "window_again";
    case StuckMark::LoopStreak: return "loop_streak";
  }
  return "?";
}

namespace {

// Where a stuck thread's loop runs: the window, and the `ret` that closes it.
bool in_loop(const JoinedSignal& signal, std::span<const UnwinderRoutine> routines) {
  if (signal.is_hit()) return true;
  const UnwinderRoutine* r = routine_at(routines, signal.ip);
  return r && std::find(r->ret_addrs.begin(), r->ret_addrs.end(), signal.ip) != r->ret_addrs.end();
}

}  // namespace

void StuckCheck::follow_loop(const JoinedSignal& signal, std::span<const UnwinderRoutine> routines) {
  const bool return_hit = signal.window_class == analysis::ReadClass::ReturnAddress;
  if (signal.delivery != UT_DELIVERY_INTERRUPT) {
    // At a syscall return (rt_sigreturn's): where the last handled signal was, not a new sample.
    if (loop_.since_ns && signal.is_hit()) count_loop_hit(signal.ktime_ns);
    return;
  }
  const bool looping = in_loop(signal, routines);
  const bool new_resume = signal.resume && loop_.resume_seq && *loop_.resume_seq != signal.resume->seq;
  if (!looping || new_resume || loop_.signals == 0) {
    loop_ = {};
    if (!looping) return;
    // A loop starts at the hit that wrote the routine's address over the slot, or was already on.
    loop_.cause_ns = return_hit ? std::optional(signal.ktime_ns) : last_return_hit_ns_;
    loop_.signals = 1;
    if (signal.resume) loop_.resume_seq = signal.resume->seq;
    if (return_hit) return;
  } else {
    ++loop_.signals;
    if (signal.resume && !loop_.resume_seq) loop_.resume_seq = signal.resume->seq;
  }
  if (!loop_.since_ns) {
    loop_.since_ns = signal.ktime_ns;
    loop_.since_routine = signal.routine;
    loop_.since_offset = signal.offset;
  }
  if (signal.is_hit()) count_loop_hit(signal.ktime_ns);
}

void StuckCheck::add(const JoinedSignal& signal, std::span<const UnwinderRoutine> routines) {
  std::optional<StuckTarget> target;
  if (signal.window_class == analysis::ReadClass::ReturnAddress)
    if (const UnwinderRoutine* r = routine_at(routines, signal.slot_value))
      target = StuckTarget{signal.slot_value, static_cast<uint32_t>(r - routines.data()), signal.slot_value - r->start};

  if (stuck_) {
    if (!signal.is_hit()) return;
    ++stuck_->hits;
    stuck_->last_hit_ns = signal.ktime_ns;
    if (!stuck_->returns_to) stuck_->returns_to = target;
    return;
  }
  if (routines.empty()) return;
  follow_loop(signal, routines);

  if (signal.is_hit()) {
    const bool window_again = signal.resume && last_pass_ && last_pass_->resume_seq == signal.resume->seq &&
                              last_pass_->routine == signal.routine && signal.offset < last_pass_->offset;
    last_pass_ = signal.resume ? std::optional(Pass{signal.resume->seq, signal.routine, signal.offset}) : std::nullopt;
    if (target || window_again) {
      stuck_ = StuckThread{.mark = target ? StuckMark::ReturnIntoRoutine : StuckMark::WindowAgain,
                           .since_ns = signal.ktime_ns,
                           .routine = signal.routine,
                           .offset = signal.offset,
                           .cause_ns = last_return_hit_ns_,
                           .returns_to = target,
                           .hits = 1,
                           .last_hit_ns = signal.ktime_ns};
      return;
    }
    if (signal.window_class == analysis::ReadClass::ReturnAddress) last_return_hit_ns_ = signal.ktime_ns;
  }
  if (loop_.signals >= kLoopSignals && loop_.since_ns)
    stuck_ = StuckThread{.mark = StuckMark::LoopStreak,
                         .since_ns = *loop_.since_ns,
                         .routine = loop_.since_routine,
                         .offset = loop_.since_offset,
                         .cause_ns = loop_.cause_ns,
                         .returns_to = std::nullopt,
                         .hits = loop_.hits,
                         .last_hit_ns = loop_.last_hit_ns};
}

Joiner::Joiner(JoinOptions options) : options_(std::move(options)) {}

void Joiner::add(const ut_signal_event& event) {
  check_wire_values(event);
  const ut_delivery delivery = delivery_of(event);
  ThreadTally& tally = tallies_[event.hdr.tid];
  tally.tgid = event.hdr.tgid;
  ++tally.routine_signals[delivery];
  ++offsets_[{event.routine, event.routine_offset}][delivery];

  JoinedSignal s;
  s.tid = event.hdr.tid;
  s.tgid = event.hdr.tgid;
  s.ktime_ns = event.hdr.ktime_ns;
  s.sig = event.sig;
  s.delivery = delivery;
  s.routine = event.routine;
  s.offset = event.routine_offset;
  s.ip = event.ip;
  s.sp = event.sp;
  s.ctx = event.ctx;
  s.flags = event.flags;
  s.window_class = window_class_of(event);
  s.slot_addr = event.slot_addr;
  s.slot_value = event.slot_value;
  s.resume_seq = event.resume_seq;

  if (event.resume_off)
    s.resume_missing = MissingResume::Untraced;
  else if (event.resume_seq == 0 || (s.is_hit() && event.resume.ctx != event.ctx))
    // In the window the context register still holds the routine's argument: a last resume
    // with another context is an earlier entry, so this one never passed the resume probe.
    s.resume_missing = MissingResume::Unprobed;
  else
    s.resume = MatchedResume{event.resume_seq, event.resume.target_ip, event.resume.target_sp, event.resume.ctx};

  if (s.resume) {
    s.distance = static_cast<int64_t>(s.resume->target_sp - s.resume->ctx);
  } else {
    ++tally.resume_missing[static_cast<size_t>(*s.resume_missing)];
    if (s.is_hit()) s.distance = static_cast<int64_t>(event.sp - event.ctx);
  }
  if (s.is_hit()) {
    s.geometry = classify_slot(event.sp, event.slot_addr, event.flags, options_.frame);
    tally.hits.add(s);
  }
  tally.stuck_check.add(s, options_.routines);
  if (!s.is_hit()) return;
  if (options_.on_hit) options_.on_hit(s);
  if (kept_hits_.size() < options_.max_kept_hits) kept_hits_.push_back(std::move(s));
}

HitTally Joiner::hits() const {
  HitTally all;
  for (const auto& [tid, tally] : tallies_) all.merge(tally.hits);
  return all;
}

DistanceHistogram Joiner::distance() const {
  DistanceHistogram all;
  for (const auto& [shape, count] : shapes_.counts()) all.add(shape.distance, count);
  return all;
}

}  // namespace ut::model
