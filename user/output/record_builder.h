// Records: one JSON object per line (docs/records.md), small and self-describing so that files
// from thousands of hosts can be concatenated and merged by `unwindtrace report`. Every record
// carries the schema version, its kind, the time and the host it came from. Records hold
// addresses, offsets, counts and names only: never target memory contents or environment.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "host/host_identity.h"
#include "host/signal_frame.h"
#include "model/cpu_budget.h"
#include "output/report.h"
#include "proc/process_container.h"

namespace ut::output {

inline constexpr int kRecordSchemaVersion = 1;

// What the report does not hold but a fleet needs to group processes.
struct ProcessFacts {
  uint64_t start_ticks = 0;  // the process's start (/proc/PID/stat field 22): a PID reused is another process
  proc::ProcessPlacement placement;
  std::string exe_build_id;
  std::string unwinder_object;  // the hazardous object traced, "" when none
  std::string unwinder_build_id;
  std::string unwinder_package;  // "libunwind8 1.6.2-3 amd64", "" when dpkg does not know it
  std::optional<model::BudgetLevel> cpu_budget_level;  // the most degraded during the segment; unset: no budget
};

// A fatal signal's signature: what the crash looked like, never what memory held.
struct CrashSignature {
  int32_t pid = 0;
  std::optional<int> namespace_pid;
  std::string container_id;
  std::string comm;
  std::string exe;
  int32_t sig = 0;
  uint64_t fault_ip = 0;
  uint64_t fault_addr = 0;           // si_addr: the address the access faulted on
  bool fatal = true;                 // the default action ran (no handler): the process died
  bool return_to_zero = false;      // the faulting IP is 0 (a `ret` to a zeroed slot)
  bool non_canonical_ip = false;    // the IP is not a canonical x86-64 address
  bool rsp_misaligned_by_8 = false;  // %rsp % 16 == 8 where the ABI wants 0 (or the reverse)
  bool inside_unwinder = false;     // the thread was in an unwinder routine at the fault
  bool window_hit_before = false;   // a window hit of this thread preceded the fault
};

// The signature's register facts from a fault's IP and SP: return to 0, a non-canonical IP, and
// SP ≡ 8 (mod 16) (the ABI keeps it 16-byte aligned at calls; code faulting with it off by 8
// inside a function body is the register-corruption symptom of a defective host).
CrashSignature fault_signature(int32_t sig, uint64_t ip, uint64_t sp);

struct CorruptionEstimate {
  uint64_t corrupting_hits = 0;  // return-address hits whose slot lay in the bytes the kernel writes
  double per_s = 0;
  double low_per_s = 0;  // Poisson interval at `confidence`
  double high_per_s = 0;
  double confidence = 0.95;
};

// Crash rate estimated from what was seen: corrupting hits over the traced time, with an exact
// Poisson interval on their count (a process with none gets 0 and an upper bound).
CorruptionEstimate estimate_corruptions(const Report& report, double confidence = 0.95);

// `budget`: the CPU budget held, as it stands (a host record is written again at each step).
nlohmann::json host_record(const host::HostIdentity& host, const std::optional<host::FrameSize>& frame,
                           const std::string& time, const model::CpuBudget* budget = nullptr);
nlohmann::json process_record(const Report& report, const host::HostIdentity& host,
                              const ProcessFacts& facts, uint64_t records_dropped);
nlohmann::json crash_record(const CrashSignature& crash, const host::HostIdentity& host,
                            const std::string& time);



}  // namespace ut::output
