// Is a fatal signal the race's crash? A wild return through a corrupted return-address slot
// leaves recognisable marks: the thread returns to 0, or the `ret` itself faults with a general
// protection fault (a non-canonical target), or the fetch at the wild target faults; a register
// corrupted the same way faults soon after, often still in the unwinder. A window hit on the same
// thread just before turns the signature into a confirmation. Pure: shared by the tracer's reports
// and host-wide crash records.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analysis/routine_window.h"
#include "events.h"

namespace ut::model {

struct FatalSignal {
  uint32_t tid = 0;
  uint64_t ktime_ns = 0;
  int32_t sig = 0;      // SIGSEGV, SIGBUS, SIGILL, ...
  int32_t si_code = 0;  // SI_KERNEL (0x80) for a general protection fault
  uint64_t ip = 0;
  uint64_t sp = 0;
  uint64_t fault_addr = 0;  // si_addr
};

// An unwinder routine mapped in the process: [start, end) and its `ret` instructions.
struct UnwinderRoutine {
  std::string name;
  uint64_t start = 0;
  uint64_t end = 0;
  std::vector<uint64_t> ret_addrs;
};

// The thread's last window hit before the fatal signal.
struct PriorHit {
  uint64_t ktime_ns = 0;
  uint32_t offset = 0;
  analysis::ReadClass cls = analysis::ReadClass::ReturnAddress;
};

enum class CrashKind {
  ReturnToNull,     // IP in the first page: a zeroed return-address slot
  FaultAtRet,       // a `ret` of an unwinder routine faulted: non-canonical target (#GP)
  WildFetch,        // the fault is the instruction fetch itself (IP == fault address)
  InUnwinder,       // faulted inside an unwinder routine, elsewhere than at a `ret`
  Other,
};
const char* to_string(CrashKind kind);  // "return_to_null", "fault_at_ret", "wild_fetch", ...

enum class CrashVerdict {
  Confirmed,  // the race's signature, after a window hit on the same thread
  Suspected,  // the signature without a hit seen (sampled, or the hit preceded tracing), or a hit
              // followed by a different fault
  Unrelated,
};
const char* to_string(CrashVerdict verdict);  // "confirmed", "suspected", "unrelated"

struct CrashSignature {
  CrashKind kind = CrashKind::Other;
  CrashVerdict verdict = CrashVerdict::Unrelated;
  bool non_canonical_ip = false;
  bool sp_misaligned = false;  // SP % 16 == 8 at the fault: a `ret` popped one slot too many
  std::optional<uint64_t> hit_age_ns;  // time from the prior hit to the fault
  std::string summary;  // one line
};

inline constexpr uint64_t kHitRecentNs = 1'000'000'000;  // a hit further back is not the cause

bool is_canonical(uint64_t address);

// The routine holding `address`, nullptr if none.
const UnwinderRoutine* routine_at(std::span<const UnwinderRoutine> routines, uint64_t address);

FatalSignal to_fatal_signal(const ut_fatal_event& event);

CrashSignature classify_crash(const FatalSignal& fatal, std::span<const UnwinderRoutine> routines,
                              const std::optional<PriorHit>& prior_hit);

}  // namespace ut::model
