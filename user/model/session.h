// Everything a report needs besides the joined events, filled in by the attach command: what was
// traced, for how long, what the analysis found, and the kernel's own counters (authoritative:
// events are the detail and may be lost, the map counters are not).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analysis/resume_probe.h"
#include "analysis/routine_window.h"
#include "events.h"
#include "host/calibration.h"
#include "host/host_info.h"
#include "model/crash_signature.h"
#include "model/geometry.h"
#include "model/sampling.h"
#include "model/slot_checks.h"

namespace ut::model {

// One hazardous routine mapped in the target; its position is the routine index in the events.
struct TracedRoutine {
  std::string object_path;
  std::string build_id;  // lower-case hex, "" if the object has none
  std::string symbol;
  uint64_t start = 0;  // absolute address in the target
  analysis::RoutineWindow window;
  std::vector<analysis::ProbePoint> probes;  // where resumes are counted
};

// One entry of the kernel's signal_counts map: every signal delivered to a traced thread.
struct KernelSignalCount {
  ut_signal_key key{};
  uint64_t count = 0;
};

struct Session {
  int32_t pid = 0;
  std::string comm;
  std::string exe;  // /proc/PID/exe
  // The unwinder the target's _Unwind_RaiseException binds to, e.g. "libgcc_s.so.1"; the
  // not-exposed verdict names it when no hazardous routine is mapped.
  std::string unwinder;

  std::chrono::system_clock::time_point started_at{};
  std::chrono::system_clock::time_point ended_at{};
  uint64_t start_ktime_ns = 0;  // CLOCK_MONOTONIC at start: event times are relative to it
  double duration_s = 0;
  bool target_exited = false;  // the target exited before tracing ended
  // Why tracing stopped early without an exit: "it exec'd /usr/bin/sleep", "... was unmapped
  // (dlclose, ...)"; empty otherwise. What was seen until then is reported.
  std::string target_change;

  std::vector<TracedRoutine> routines;  // indexed like ut_target.routines

  TraceMode mode = TraceMode::Full;
  std::optional<DutyCycle> duty_cycle;  // sampled mode
  // Seconds the resume probes counted (the whole trace in full mode, the sum of the on-periods
  // in sampled mode, 0 in signal-only mode): resume counts cover this time only.
  double resume_traced_s = 0;
  SampledRate resume_periods;  // the process's resumes per on-period (sampled mode)

  double load_ms = 0;    // open + load + signal hook of the BPF programs (shared by a session)
  double attach_ms = 0;  // this process: analysis, registration and resume probes

  std::vector<KernelSignalCount> signal_counts;
  std::map<uint32_t, uint64_t> kernel_resumes;        // tid -> ut_thread_state.resumes
  std::array<uint64_t, UT_LOST_KINDS> lost_events{};  // indexed by ut_lost_kind
  std::optional<FrameSize> frame_size;                // measured on this host
  host::FrameMap frame_map;                           // its written bytes (host/calibration.h)
  std::optional<host::LandingCalibration> landing;    // w per window instruction, this CPU model
  bool slot_checks_attached = false;                  // window hits' slots are read again
  std::map<uint32_t, SlotCheckCounts> slot_checks;    // tid -> hits checked at rt_sigreturn
  std::vector<FatalSignal> fatal_signals;             // delivered to traced threads
  host::HostInfo host;
};

}  // namespace ut::model
