// Joins the two event streams of a trace per thread: every signal delivered inside a hazardous
// routine is matched to the resume it interrupted by (tid, resume_seq), exactly, never by time.
// Events arrive in any order across threads, a signal may arrive before its resume, and either
// kind can be lost; memory stays bounded by keeping only each thread's most recent resumes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "analysis/routine_window.h"
#include "events.h"
#include "model/geometry.h"

namespace ut::model {

// D = target SP - ucontext address, bucketed; min and max exact, the median to a bucket.
class DistanceHistogram {
 public:
  static constexpr int64_t kBucketBytes = 64;

  void add(int64_t distance);
  void merge(const DistanceHistogram& other);

  uint64_t count() const { return count_; }
  std::optional<int64_t> min() const;
  std::optional<int64_t> max() const;
  std::optional<int64_t> median_bucket() const;  // start of the bucket holding the (lower) median
  const std::map<int64_t, uint64_t>& buckets() const { return buckets_; }  // start -> count
  // The same counts in wider buckets; `width` is a multiple of kBucketBytes.
  std::map<int64_t, uint64_t> buckets(int64_t width) const;

 private:
  std::map<int64_t, uint64_t> buckets_;
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
};

// Why a signal has no matched resume. Its own data (SP, context register) still give D.
enum class MissingResume {
  Lost,      // later resumes of the thread arrived, this one never did (ring buffer full)
  Expired,   // it arrived but was older than the kept ring when the signal came
  NotSeen,   // not received by finish(), or too many signals waited for it
  Unprobed,  // resume_seq 0, or the resume at that seq has another context: the routine was
             // entered without passing the resume probe
  Untraced,  // resumes were not traced then (signal-only mode, off-time of sampled mode): not a loss
};
inline constexpr size_t kMissingResumeReasons = 5;
// "lost", "expired", "not_seen", "unprobed", "untraced"
const char* to_string(MissingResume reason);

struct MatchedResume {
  uint64_t seq = 0;
  uint64_t target_ip = 0;
  uint64_t target_sp = 0;
  uint64_t ctx = 0;
};

struct JoinedSignal {
  uint32_t tid = 0;
  uint32_t tgid = 0;
  uint64_t ktime_ns = 0;  // CLOCK_MONOTONIC, as bpf_ktime_get_ns()
  int32_t sig = 0;
  ut_delivery delivery = UT_DELIVERY_INTERRUPT;
  uint32_t routine = 0;  // index into Session::routines
  uint32_t offset = 0;   // interrupted IP - routine start
  uint64_t ip = 0;
  uint64_t sp = 0;                                  // interrupted SP
  uint64_t ctx = 0;                                 // context register's value
  uint8_t flags = 0;                                // UT_SIG_*
  std::optional<analysis::ReadClass> window_class;  // set for window hits only
  uint64_t slot_addr = 0;                           // window hits: the first stale read's address
  uint64_t slot_value = 0;                          // and its value before the frame was written

  uint64_t resume_seq = 0;
  std::optional<MatchedResume> resume;  // exactly one of resume / resume_missing is set
  std::optional<MissingResume> resume_missing;
  // From the matched resume; without one, from SP - ctx for window hits (SP is then the target SP,
  // less 8 after the routine's push). Unset for other signals without a resume.
  std::optional<int64_t> distance;
  std::optional<SlotVerdict> geometry;  // window hits with a frame size (or a frame-free verdict)

  bool is_hit() const { return window_class.has_value(); }
};

using HitCallback = std::function<void(const JoinedSignal&)>;

struct JoinOptions {
  size_t resume_ring = 4096;          // resumes kept per thread for matching late signals
  size_t max_waiting_signals = 4096;  // per thread, signals whose resume has not arrived yet
  size_t max_kept_hits = 1000;        // hits kept for the report; all are counted and called back
  std::optional<FrameSize> frame{};   // measured on this host; without it, no Inside/Edge/Below
  HitCallback on_hit{};               // called once per window hit, when it is joined
};

using DeliveryCounts = std::array<uint64_t, UT_DELIVERY_KINDS>;  // indexed by ut_delivery

struct HitTally {
  uint64_t total = 0;
  uint64_t return_address = 0;  // by ReadClass
  uint64_t register_read = 0;
  std::array<uint64_t, kSlotPlacements> by_placement{};  // indexed by SlotPlacement
  uint64_t geometry_unknown = 0;                         // needed a frame size, none measured

  void add(const JoinedSignal& hit);
  void merge(const HitTally& other);
};

// Per-thread aggregates, kept incrementally from the events.
struct ThreadTally {
  uint32_t tgid = 0;
  uint64_t resume_events = 0;
  uint64_t max_resume_seq = 0;
  DistanceHistogram distance;        // of every resume event
  DeliveryCounts routine_signals{};  // signals inside a hazardous routine
  HitTally hits;
  std::array<uint64_t, kMissingResumeReasons> resume_missing{};  // indexed by MissingResume

  // Resume events never received though a later seq was: losses detected from the events alone.
  uint64_t resume_seq_gaps() const {
    return max_resume_seq > resume_events ? max_resume_seq - resume_events : 0;
  }
};

struct RoutineOffset {
  uint32_t routine = 0;
  uint32_t offset = 0;
  auto operator<=>(const RoutineOffset&) const = default;
};

class Joiner {
 public:
  explicit Joiner(JoinOptions options = {});

  void add(const ut_resume_event& event);
  void add(const ut_signal_event& event);
  // End of the trace: signals still waiting are joined with resume_missing = NotSeen.
  // Adding events afterwards throws std::logic_error.
  void finish();

  const std::map<uint32_t, ThreadTally>& threads() const { return tallies_; }
  const std::map<RoutineOffset, DeliveryCounts>& routine_offsets() const { return offsets_; }
  const std::vector<JoinedSignal>& kept_hits() const { return kept_hits_; }
  HitTally hits() const;               // over all threads
  DistanceHistogram distance() const;  // over all threads
  const JoinOptions& options() const { return options_; }

 private:
  struct StoredResume {
    uint64_t seq = 0;
    MatchedResume resume;
  };
  // Matching state of one thread: recent resumes by seq, signals waiting for a later seq,
  // and recent seq ranges never received (to tell a lost resume from an expired one).
  struct ThreadJoin {
    std::deque<StoredResume> ring;  // ascending seq, all > max_resume_seq - resume_ring
    std::map<uint64_t, std::vector<ut_signal_event>> waiting;  // by resume_seq
    size_t waiting_count = 0;
    std::deque<std::pair<uint64_t, uint64_t>> gaps;  // [first, last] seqs never received
  };

  void check_open() const;
  void record_gap(ThreadJoin& join, ThreadTally& tally, uint64_t first, uint64_t last);
  void store_late_resume(ThreadJoin& join, const ThreadTally& tally, StoredResume stored);
  MissingResume missing_reason(const ThreadJoin& join, const ThreadTally& tally,
                               uint64_t seq) const;
  const StoredResume* find_resume(const ThreadJoin& join, uint64_t seq) const;
  void wait_for_resume(ThreadJoin& join, ThreadTally& tally, const ut_signal_event& event);
  void emit(ThreadTally& tally, const ut_signal_event& event, const MatchedResume* resume,
            std::optional<MissingResume> missing);

  JoinOptions options_;
  std::map<uint32_t, ThreadTally> tallies_;
  std::unordered_map<uint32_t, ThreadJoin> joins_;
  std::map<RoutineOffset, DeliveryCounts> offsets_;
  std::vector<JoinedSignal> kept_hits_;
  bool finished_ = false;
};

}  // namespace ut::model
