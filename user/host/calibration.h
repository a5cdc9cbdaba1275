// Everything unwindtrace measures once per host and reuses: the signal frame's byte map (which
// bytes below SP - 128 a signal writes) and, per CPU model, how long a resume spends at each
// instruction of the stack-switch routine (from where asynchronous signals land in a storm).
// Cached as JSON; stale as soon as the CPU, its XSAVE features or the kernel differ.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "host/frame_map.h"
#include "host/xsave_features.h"

namespace ut::host {

// 2: frame layouts record the bytes written with a constant value (written_constant).
inline constexpr int kCalibrationVersion = 2;

// What the frame map depends on; a cached calibration is reused only when all of them match.
struct CalibrationKey {
  std::string cpu_model;      // /proc/cpuinfo "model name"
  std::string cpu_signature;  // CPUID family/model/stepping
  std::string kernel_release;
  uint64_t xcr0 = 0;
  uint32_t xsave_area_bytes = 0;
  bool operator==(const CalibrationKey&) const = default;
};

CalibrationKey read_calibration_key(const XsaveFeatures& features);

// Signals that landed at one offset of the routine during the landing storm.
struct InstructionLanding {
  uint32_t offset = 0;
  uint64_t landings = 0;  // interrupt-delivered signals with the IP at this offset
  // Expected seconds a resume spends at this instruction, for an interrupt-delivered signal:
  // landings / (async signals * resumes per second). With its exact Poisson 95 % interval.
  double w_s = 0;
  double w_low_s = 0;
  double w_high_s = 0;
};

// The bundled workload's shape in a landing storm: w depends on it (the unwind depth and the
// padding move the target stack's cache and TLB state), so only storms of one shape are pooled.
struct LandingWorkload {
  unsigned threads = 0;
  double signal_rate = 0;
  unsigned depth = 0;
  uint64_t padding = 0;
  // The workload's tgkill sender: "coalesce" sends on its own clock whatever the threads do;
  // "wait" holds a thread's next signal until its last one is handled, which at high rates
  // times signals off the thread's own progress (docs/model.md, "Signals must not follow the
  // thread"). Caches written before it was recorded used "wait".
  std::string sender = "wait";
  bool operator==(const LandingWorkload&) const = default;
};

// "2 threads, 20000 signals/s (coalesce), depth 0, padding 9056", or "not recorded".
std::string landing_workload_text(const std::optional<LandingWorkload>& workload);

// `calibrate --landing`: the bundled workload under a storm, traced; with --pool, the sum of
// several such storms.
struct LandingCalibration {
  std::string cpu_model;  // valid for this CPU model only
  std::string object_path;  // the routine's object (GNU libunwind)
  std::string build_id;
  std::string symbol;
  std::optional<LandingWorkload> workload;  // absent in caches written before it was recorded
  unsigned storms = 1;
  double duration_s = 0;        // all storms
  uint64_t resumes = 0;         // kernel's count, all workers
  uint64_t async_signals = 0;   // delivered by interrupt to the workers
  uint64_t syscall_signals = 0;  // delivered at a syscall return (cannot land in the window)
  // 1 / Σ_threads (async signals · resumes per second): w of an instruction per signal landed there.
  double seconds_per_landing = 0;
  std::vector<uint32_t> window_offsets;
  std::vector<InstructionLanding> instructions;  // every offset with a landing, and every window one

  // w of the window instruction at `offset`; 0 with its upper bound if nothing landed there.
  const InstructionLanding* at(uint32_t offset) const;
};

struct Calibration {
  int version = kCalibrationVersion;
  std::string measured_at;  // ISO 8601 UTC
  CalibrationKey key;
  XsaveFeatures xsave;
  FrameMap frame;
  std::optional<LandingCalibration> landing;
};

// Measures the frame map now (fast: a few hundred signals in a helper thread).
Calibration measure_frame_calibration();

// $UNWINDTRACE_CALIBRATION, or /var/cache/unwindtrace/calibration.json.
std::string default_calibration_path();

std::optional<Calibration> read_calibration(const std::string& path);  // nullopt: absent or unreadable
void write_calibration(const std::string& path, const Calibration& calibration);
std::string calibration_json(const Calibration& calibration);  // indented
Calibration calibration_from_json(const std::string& text);    // throws on a malformed file

// The cached calibration if it matches this host, else a fresh frame map (keeping a cached landing
// calibration made on the same CPU model), written back to the cache when possible. `rewritten`
// tells whether it was measured now. Never throws for an unwritable cache.
struct LoadedCalibration {
  Calibration calibration;
  bool measured_now = false;
  std::string note;  // why it was measured, or where it came from; cache write failures
};
LoadedCalibration load_or_measure_calibration(const std::string& path, bool force);

}  // namespace ut::host
