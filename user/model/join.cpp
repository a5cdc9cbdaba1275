#include "model/join.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ut::model {
namespace {

// Gap ranges remembered per thread; losses come in bursts, so a few ranges cover long traces.
constexpr size_t kMaxGapRanges = 1024;

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

void DistanceHistogram::add(int64_t distance) {
  min_ = count_ == 0 ? distance : std::min(min_, distance);
  max_ = count_ == 0 ? distance : std::max(max_, distance);
  ++count_;
  ++buckets_[bucket_start(distance, kBucketBytes)];
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
    case MissingResume::Lost: return "lost";
    case MissingResume::Expired: return "expired";
    case MissingResume::NotSeen: return "not_seen";
    case MissingResume::Unprobed: return "unprobed";
    case MissingResume::Untraced: return "untraced";
  }
  return "?";
}

void HitTally::add(const JoinedSignal& hit) {
  ++total;
  if (hit.window_class == analysis::ReadClass::ReturnAddress) ++return_address;
  if (hit.window_class == analysis::ReadClass::Register) ++register_read;
  if (hit.geometry)
    ++by_placement[static_cast<size_t>(hit.geometry->placement)];
  else
    ++geometry_unknown;
}

void HitTally::merge(const HitTally& other) {
  total += other.total;
  return_address += other.return_address;
  register_read += other.register_read;
  for (size_t i = 0; i < kSlotPlacements; ++i) by_placement[i] += other.by_placement[i];
  geometry_unknown += other.geometry_unknown;
}

Joiner::Joiner(JoinOptions options) : options_(std::move(options)) {}

void Joiner::check_open() const {
  if (finished_) throw std::logic_error("Joiner: event added after finish()");
}

void Joiner::add(const ut_resume_event& event) {
  check_open();
  ThreadTally& tally = tallies_[event.hdr.tid];
  ThreadJoin& join = joins_[event.hdr.tid];
  tally.tgid = event.hdr.tgid;
  ++tally.resume_events;
  tally.distance.add(static_cast<int64_t>(event.target_sp - event.ctx));

  const StoredResume stored{event.seq, {event.seq, event.target_ip, event.target_sp, event.ctx}};
  if (event.seq <= tally.max_resume_seq) {
    store_late_resume(join, tally, stored);
    return;
  }
  if (event.seq > tally.max_resume_seq + 1)
    record_gap(join, tally, tally.max_resume_seq + 1, event.seq - 1);
  tally.max_resume_seq = event.seq;
  join.ring.push_back(stored);
  while (!join.ring.empty() && join.ring.front().seq + options_.resume_ring <= event.seq)
    join.ring.pop_front();

  if (auto waiting = join.waiting.find(event.seq); waiting != join.waiting.end()) {
    join.waiting_count -= waiting->second.size();
    for (const ut_signal_event& signal : waiting->second) emit(tally, signal, &stored.resume, {});
    join.waiting.erase(waiting);
  }
}

// Seqs in [first, last] were skipped: signals waiting for them will never be matched.
void Joiner::record_gap(ThreadJoin& join, ThreadTally& tally, uint64_t first, uint64_t last) {
  join.gaps.emplace_back(first, last);
  if (join.gaps.size() > kMaxGapRanges) join.gaps.pop_front();

  const auto begin = join.waiting.lower_bound(first);
  const auto end = join.waiting.upper_bound(last);
  for (auto it = begin; it != end; ++it) {
    join.waiting_count -= it->second.size();
    for (const ut_signal_event& signal : it->second)
      emit(tally, signal, nullptr, MissingResume::Lost);
  }
  join.waiting.erase(begin, end);
}

// A resume older than the newest one (never expected from one thread's in-order stream, but
// harmless): keep it if it is still within the ring so later signals can match it.
void Joiner::store_late_resume(ThreadJoin& join, const ThreadTally& tally, StoredResume stored) {
  if (stored.seq + options_.resume_ring <= tally.max_resume_seq) return;
  const auto at = std::lower_bound(join.ring.begin(), join.ring.end(), stored.seq,
                                   [](const StoredResume& r, uint64_t seq) { return r.seq < seq; });
  if (at == join.ring.end() || at->seq != stored.seq) join.ring.insert(at, stored);
}

const Joiner::StoredResume* Joiner::find_resume(const ThreadJoin& join, uint64_t seq) const {
  const auto at = std::lower_bound(join.ring.begin(), join.ring.end(), seq,
                                   [](const StoredResume& r, uint64_t s) { return r.seq < s; });
  return at != join.ring.end() && at->seq == seq ? &*at : nullptr;
}

// For a seq at or below the newest resume seen that is not in the ring.
MissingResume Joiner::missing_reason(const ThreadJoin& join, const ThreadTally& tally,
                                     uint64_t seq) const {
  const bool within_ring = seq + options_.resume_ring > tally.max_resume_seq;
  if (within_ring) return MissingResume::Lost;  // the ring holds every seq received in its range
  const bool in_gap = std::any_of(join.gaps.begin(), join.gaps.end(), [seq](const auto& gap) {
    return gap.first <= seq && seq <= gap.second;
  });
  return in_gap ? MissingResume::Lost : MissingResume::Expired;
}

void Joiner::add(const ut_signal_event& event) {
  check_open();
  check_wire_values(event);
  const ut_delivery delivery = delivery_of(event);
  ThreadTally& tally = tallies_[event.hdr.tid];
  ThreadJoin& join = joins_[event.hdr.tid];
  tally.tgid = event.hdr.tgid;
  ++tally.routine_signals[delivery];
  ++offsets_[{event.routine, event.routine_offset}][delivery];

  if (event.resume_off) {
    emit(tally, event, nullptr, MissingResume::Untraced);
  } else if (event.resume_seq == 0) {
    emit(tally, event, nullptr, MissingResume::Unprobed);
  } else if (const StoredResume* stored = find_resume(join, event.resume_seq)) {
    emit(tally, event, &stored->resume, {});
  } else if (event.resume_seq > tally.max_resume_seq) {
    wait_for_resume(join, tally, event);
  } else {
    emit(tally, event, nullptr, missing_reason(join, tally, event.resume_seq));
  }
}

void Joiner::wait_for_resume(ThreadJoin& join, ThreadTally& tally, const ut_signal_event& event) {
  join.waiting[event.resume_seq].push_back(event);
  if (++join.waiting_count <= options_.max_waiting_signals) return;
  // Too many waiting: give up on the oldest, whose resume is the least likely still to come.
  auto oldest = join.waiting.begin();
  emit(tally, oldest->second.front(), nullptr, MissingResume::NotSeen);
  oldest->second.erase(oldest->second.begin());
  if (oldest->second.empty()) join.waiting.erase(oldest);
  --join.waiting_count;
}

void Joiner::emit(ThreadTally& tally, const ut_signal_event& event, const MatchedResume* resume,
                  std::optional<MissingResume> missing) {
  JoinedSignal s;
  s.tid = event.hdr.tid;
  s.tgid = event.hdr.tgid;
  s.ktime_ns = event.hdr.ktime_ns;
  s.sig = event.sig;
  s.delivery = delivery_of(event);
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

  // In the window the context register still holds the routine's argument: a resume with
  // another context is an earlier entry, so this entry was never seen by the resume probe.
  if (resume && s.is_hit() && resume->ctx != event.ctx) {
    resume = nullptr;
    missing = MissingResume::Unprobed;
  }
  if (resume) {
    s.resume = *resume;
    s.distance = static_cast<int64_t>(resume->target_sp - resume->ctx);
  } else {
    s.resume_missing = missing;
    ++tally.resume_missing[static_cast<size_t>(*missing)];
    if (s.is_hit()) s.distance = static_cast<int64_t>(event.sp - event.ctx);
  }
  if (!s.is_hit()) return;

  s.geometry = classify_slot(event.sp, event.slot_addr, event.flags, options_.frame);
  tally.hits.add(s);
  if (options_.on_hit) options_.on_hit(s);
  if (kept_hits_.size() < options_.max_kept_hits) kept_hits_.push_back(std::move(s));
}

void Joiner::finish() {
  if (finished_) return;
  for (auto& [tid, tally] : tallies_) {  // ordered by tid: deterministic callback order
    ThreadJoin& join = joins_[tid];
    for (const auto& [seq, signals] : join.waiting)
      for (const ut_signal_event& signal : signals)
        emit(tally, signal, nullptr, MissingResume::NotSeen);
    join.waiting.clear();
    join.waiting_count = 0;
  }
  finished_ = true;
}

HitTally Joiner::hits() const {
  HitTally all;
  for (const auto& [tid, tally] : tallies_) all.merge(tally.hits);
  return all;
}

DistanceHistogram Joiner::distance() const {
  DistanceHistogram all;
  for (const auto& [tid, tally] : tallies_) all.merge(tally.distance);
  return all;
}

}  // namespace ut::model
