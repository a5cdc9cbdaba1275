// Joins what a trace saw per thread: every signal delivered inside a hazardous routine with the
// resume it interrupted. The kernel does the matching (a signal's event carries its thread's last
// resume, bpf/events.h), so it is exact and cannot lose a resume; this checks it (a window hit
// whose context differs from the resume's was an entry the probe never saw), classifies the hit's
// geometry, and keeps the tallies. Every resume's shape comes from the kernel's counts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "analysis/routine_window.h"
#include "events.h"
#include "model/crash_signature.h"
#include "model/geometry.h"
#include "model/resume_shapes.h"

namespace ut::model {

// D = target SP - ucontext address, bucketed; min and max exact, the median to a bucket.
class DistanceHistogram {
 public:
  static constexpr int64_t kBucketBytes = 64;

  void add(int64_t distance, uint64_t count = 1);
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
  Unprobed,  // resume_seq 0, or the thread's last resume has another context: the routine was
             // entered without passing the resume probe
  Untraced,  // resumes were not traced then (signal-only mode, off-time of sampled mode): not a loss
};
inline constexpr size_t kMissingResumeReasons = 2;
// "unprobed", "untraced"
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
  size_t max_kept_hits = 1000;        // hits kept for the report; all are counted and called back
  std::optional<FrameSize> frame{};   // measured on this host; without it, no Inside/Edge/Below
  HitCallback on_hit{};               // called once per window hit, when it is joined
  // The process's traced routines (unwinder_routines.h), for the stuck-thread check; without
  // them no thread is found stuck.
  std::vector<UnwinderRoutine> routines{};
};

using DeliveryCounts = std::array<uint64_t, UT_DELIVERY_KINDS>;  // indexed by ut_delivery

struct HitTally {
  uint64_t total = 0;
  // Delivered by an interrupt: a fresh sample of where the thread was, what the exposure model
  // predicts. The rest came at a syscall return: rt_sigreturn's, right after an earlier hit's
  // handler, at the same instruction (bpf/trace.bpf.c, delivery_of).
  uint64_t interrupt = 0;
  uint64_t return_address = 0;  // by ReadClass
  uint64_t register_read = 0;
  std::array<uint64_t, kSlotPlacements> by_placement{};  // indexed by SlotPlacement
  uint64_t geometry_unknown = 0;                         // needed a frame size, none measured

  void add(const JoinedSignal& hit);
  void merge(const HitTally& other);
};

// A thread an earlier window hit sent back into the routine for good (docs/model.md, "Stuck
// threads"): that hit's frame wrote an address inside the routine (its saved %rip) over the stale
// return-address slot, so the routine returns into itself and loops without faulting, and every
// later signal to the thread lands in the window. Three marks, each impossible for a thread that
// resumes normally:
enum class StuckMark {
  // A hit at a return-address read whose slot points into a traced routine: a real resume
  // target is a landing pad in user code. Any mode, but signals rarely land right after the
  // loop's `ret`, so this may come late.
  ReturnIntoRoutine,
  // Two hits of one resume (the same matched resume), the later at an earlier window
  // instruction: the straight-line window ran again without a new entry. Needs traced resumes.
  WindowAgain,
  // kLoopSignals interrupt-delivered signals in a row landed in the window or at the routine's
  // `ret`, with no new traced resume among them: where the loop spends all its time, and a
  // resuming thread a small fraction of its time in the routine. Needs no traced resumes.
  LoopStreak,
};
const char* to_string(StuckMark mark);  // "return_into_routine", "window_again", "loop_streak"

// Where a stuck thread's routine returns to, from a return-address hit whose slot points into a
// traced routine.
struct StuckTarget {
  uint64_t address = 0;  // the slot's value
  uint32_t routine = 0;  // the routine it lies in (index into the routines)
  uint64_t offset = 0;   // address - that routine's start
};

struct StuckThread {
  StuckMark mark = StuckMark::ReturnIntoRoutine;
  uint64_t since_ns = 0;  // the hit that showed the mark
  uint32_t routine = 0;   // that hit's routine and offset
  uint32_t offset = 0;
  std::optional<uint64_t> cause_ns;        // the thread's last return-address hit before: the one that did it
  std::optional<StuckTarget> returns_to;   // from the first hit that showed it, possibly later
  uint64_t hits = 0;                       // window hits from since_ns on, that one included
  uint64_t last_hit_ns = 0;
};

// Watches one thread's signals in its routines, in order, for any mark.
class StuckCheck {
 public:
  // A resuming thread's interrupt-delivered signals land in the window or at the `ret` a few
  // times in a hundred of those landing in the routine (calibrate --landing): 32 in a row is
  // beyond chance, and a looping thread at a 100 Hz timer takes them in a third of a second.
  static constexpr uint32_t kLoopSignals = 32;

  void add(const JoinedSignal& signal, std::span<const UnwinderRoutine> routines);
  const std::optional<StuckThread>& stuck() const { return stuck_; }

 private:
  struct Pass {
    uint64_t resume_seq = 0;
    uint32_t routine = 0;
    uint32_t offset = 0;
  };
  // The thread's latest run of signals where the loop runs (LoopStreak).
  struct Loop {
    uint32_t signals = 0;                // interrupt-delivered ones
    std::optional<uint64_t> resume_seq;  // the resume its traced hits matched
    std::optional<uint64_t> cause_ns;    // the return-address hit it started at, or the one before
    std::optional<uint64_t> since_ns;    // its first signal after that hit, and where it was
    uint32_t since_routine = 0;
    uint32_t since_offset = 0;
    uint64_t hits = 0;                   // window hits from `since` on
    uint64_t last_hit_ns = 0;
  };
  void follow_loop(const JoinedSignal& signal, std::span<const UnwinderRoutine> routines);
  void count_loop_hit(uint64_t ktime_ns) {
    ++loop_.hits;
    loop_.last_hit_ns = ktime_ns;
  }

  std::optional<StuckThread> stuck_;
  std::optional<uint64_t> last_return_hit_ns_;  // until it is stuck
  std::optional<Pass> last_pass_;               // the last hit, if its resume was matched
  Loop loop_;
};

// Per-thread aggregates, kept incrementally from the events.
struct ThreadTally {
  uint32_t tgid = 0;
  DeliveryCounts routine_signals{};  // signals inside a hazardous routine
  HitTally hits;
  std::array<uint64_t, kMissingResumeReasons> resume_missing{};  // indexed by MissingResume
  StuckCheck stuck_check;
};

struct RoutineOffset {
  uint32_t routine = 0;
  uint32_t offset = 0;
  auto operator<=>(const RoutineOffset&) const = default;
};

class Joiner {
 public:
  explicit Joiner(JoinOptions options = {});

  void add(const ut_signal_event& event);
  // The kernel's counts of the process's resumes by shape (bpf/trace.bpf.c `resume_shapes`).
  void add_shapes(const ResumeShapes& shapes) { shapes_.merge(shapes); }

  const std::map<uint32_t, ThreadTally>& threads() const { return tallies_; }
  const std::map<RoutineOffset, DeliveryCounts>& routine_offsets() const { return offsets_; }
  const std::vector<JoinedSignal>& kept_hits() const { return kept_hits_; }
  HitTally hits() const;                                    // over all threads
  const ResumeShapes& shapes() const { return shapes_; }    // every traced resume, exact
  DistanceHistogram distance() const;                       // D of every traced resume
  const JoinOptions& options() const { return options_; }

 private:
  JoinOptions options_;
  std::map<uint32_t, ThreadTally> tallies_;
  std::map<RoutineOffset, DeliveryCounts> offsets_;
  std::vector<JoinedSignal> kept_hits_;
  ResumeShapes shapes_;
};

}  // namespace ut::model
