// What the injections at each site of a run did: the kernel's events (where each signal landed,
// the pending slots before the frame and after the handler, fatal signals) joined per injection
// and summed up into an outcome with its evidence. Pure logic: events in, results out.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "events.h"
#include "model/geometry.h"
#include "validate/injection_plan.h"

namespace ut::validate {

// One pending slot as one injection found it.
struct SlotEvidence {
  PendingSlot slot;
  uint64_t addr = 0;
  uint64_t before = 0;                         // when the signal was delivered, before its frame
  std::optional<uint64_t> after;               // when the thread resumed at the landing instruction
  std::optional<model::SlotVerdict> geometry;  // nullopt: no frame size measured
  bool overwritten() const { return after && *after != before; }
};

// One injected signal that landed at the intended instruction.
struct Injection {
  uint64_t seq = 0;
  uint32_t tid = 0;
  uint64_t ktime_ns = 0;
  uint64_t sp = 0;         // interrupted SP
  uint64_t ctx = 0;        // the context pointer
  uint64_t target_sp = 0;  // the SP the routine switches to
  uint8_t flags = 0;       // UT_SIG_*
  std::vector<SlotEvidence> slots;
  bool resumed = false;  // the thread came back to the landing instruction

  std::optional<uint64_t> distance;  // D = target SP - context, when the routine has a context
  bool corrupted() const;            // a pending slot changed under the frame
};

struct Crash {
  int sig = 0;
  uint32_t tid = 0;
  uint64_t ip = 0, sp = 0, fault_addr = 0, ktime_ns = 0;
  std::optional<Injection> after;  // the thread's last injection before it
};

enum class Outcome {
  Crashed,       // a fatal signal, or the target died of one
  Corrupted,     // a pending slot was overwritten; the target survived (so far)
  Survived,      // injections landed, nothing pending was overwritten
  NotReached,    // no injection was delivered: the instruction never ran in this target
  Inconclusive,  // too few injections landed at the intended instruction
};
const char* to_string(Outcome outcome);  // "crashed", "corrupted", ...
bool is_corruption(Outcome outcome);     // Crashed or Corrupted

inline constexpr double kMinLandingRatio = 0.99;

// How a pending slot fared over all injections.
struct SlotSummary {
  PendingSlot slot;
  uint64_t overwritten = 0;
  std::array<uint64_t, model::kSlotPlacements> placements{};  // by model::SlotPlacement
  uint64_t unclassified = 0;                                  // no frame size measured
  uint64_t max_handler_bytes = 0;  // BelowFrame: most handler stack that would have been needed
};

using InjectCounters = std::array<uint64_t, UT_INJ_COUNTERS>;  // by enum ut_inject_counter

// How the target's run ended.
struct TargetEnd {
  bool exited = false;
  int status = 0;  // as a shell reports it (128 + signal when killed)
  bool stopped_by_validate = false;
  double duration_s = 0;  // from the start of injection to the end
};

struct SiteResult {
  InjectionSite site;
  size_t routine = 0;  // index of the routine in the validated target
  uint64_t routine_start = 0;
  uint64_t limit = 0;
  InjectCounters counters{};          // the kernel's for this site, authoritative
  InjectCounters process_counters{};  // the kernel's for the whole run (UT_INJ_FATAL, UT_INJ_LOST)
  uint64_t landing_events = 0;        // landing events received (less than delivered if events were lost)
  std::map<uint64_t, uint64_t> elsewhere;  // interrupted IP -> injected signals delivered there
  uint64_t corrupted = 0;                  // injections that overwrote a pending slot
  std::optional<uint64_t> d_min, d_max;
  std::vector<SlotSummary> slots;
  std::optional<Injection> first;             // evidence for survivors
  std::optional<Injection> first_corruption;  // evidence for corruption
  std::optional<Crash> crash;
  uint64_t start_ktime_ns = 0;
  TargetEnd end;
  Outcome outcome = Outcome::NotReached;
  std::string reason;  // one sentence: why this outcome, with the evidence

  uint64_t delivered() const { return counters[UT_INJ_DELIVERED]; }
  uint64_t landed() const { return counters[UT_INJ_LANDED]; }
  double landing_ratio() const;  // landed / delivered; 0 when none delivered
  // Seconds from the start of injection to the first injection / the crash.
  std::optional<double> first_injection_s() const;
  std::optional<double> crash_s() const;
};

// Joins the kernel's events for one site into a SiteResult.
class SiteAccumulator {
 public:
  struct Context {
    InjectionSite site;
    size_t routine = 0;
    uint64_t routine_start = 0;
    uint64_t limit = 0;
    int sig = 0;            // the injected signal
    bool ctx_known = true;  // the routine loads the target SP from a context (D means something)
    std::optional<model::FrameSize> frame;
    uint64_t start_ktime_ns = 0;
    std::optional<uint64_t> handler_stack;  // bytes the target's handler uses, when known
  };
  explicit SiteAccumulator(Context context);

  void add_landing(const ut_inject_event& event);
  void add_check(const ut_inject_event& event);
  // A fatal signal this site is blamed for: the thread's last injection was here, or no
  // injection explains it.
  void add_crash(const ut_inject_event& event);
  // `run_crashed`: a fatal signal was seen in this run, whichever site it was blamed on.
  SiteResult finish(const InjectCounters& counters, const InjectCounters& process, const TargetEnd& end,
                    bool run_crashed);

 private:
  void close(Injection injection);

  Context context_;
  SiteResult result_;
  std::map<uint64_t, Injection> open_;            // landed, thread not resumed yet, by seq
  std::map<uint32_t, Injection> last_by_thread_;  // for crash attribution
};

// One target run with several sites: routes events to their site and blames a crash on the
// site of the crashing thread's last injection.
class RunAccumulator {
 public:
  explicit RunAccumulator(std::vector<SiteAccumulator::Context> sites);

  void add(const ut_inject_event& event);
  // counters[i] belongs to site i.
  std::vector<SiteResult> finish(const std::vector<InjectCounters>& counters, const InjectCounters& process,
                                 const TargetEnd& end);

 private:
  std::vector<SiteAccumulator> sites_;
  std::map<uint32_t, size_t> last_site_by_thread_;
  bool crashed_ = false;  // the first fatal signal is the crash; the rest are its consequences
};

}  // namespace ut::validate
