// The crash-rate model: a thread resuming R times per second, hit by S interrupt-delivered
// signals per second (only those can land inside the window), spends w_i seconds per resume at
// window instruction i (calibrated from where a storm's signals land), so
//   expected hits/s        = S · R · Σ_i w_i
//   expected corruptions/s = S · R · Σ_i w_i · P_i,   P_i = fraction of resumes whose stale slot
//                            for instruction i lies in bytes the signal frame writes,
// crashes/s the same over the return-address reads only (a corrupted register may go unnoticed),
// and MTBF = 1 / crashes/s, summed over a process's threads. Pure arithmetic on counts;
// docs/model.md derives and validates it.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "model/count_intervals.h"

namespace ut::model {

// The per-instruction landing calibration: w_i = landings_i · seconds_per_landing, where
// seconds_per_landing = 1 / (async signals in the calibration storm · its resumes per second).
struct LandingInput {
  double seconds_per_landing = 0;
  struct Instruction {
    uint32_t offset = 0;
    uint64_t landings = 0;
    bool return_address = false;  // its stale read is the resume target: a corruption crashes
  };
  std::vector<Instruction> window;  // every window instruction, with 0 where nothing landed
  // Interrupt-delivered landings in the routine outside the window and off its first instruction
  // (a signal pending during the resume probe lands there): the conditional prediction's base.
  uint64_t landings_elsewhere = 0;
};

// One traced thread. `p_overwritten[i]` / `p_possible[i]` go with `LandingInput::window[i]`: the
// fraction of its resumes whose slot is overwritten for certain / may be (vector state, handler
// stack) by a hit at that instruction.
struct ThreadInput {
  uint32_t tid = 0;
  double duration_s = 0;
  uint64_t resumes = 0;
  // Seconds the resumes were counted in, when not the whole `duration_s` (sampled mode, or a trace
  // the CPU budget degraded); 0: the whole trace.
  double resume_traced_s = 0;
  uint64_t async_signals = 0;
  std::vector<double> p_overwritten;
  std::vector<double> p_possible;
  uint64_t observed_hits = 0;
  std::optional<uint64_t> observed_corruptions;  // hits whose slot was measured overwritten
  uint64_t observed_crashes = 0;
};

// A predicted rate with its 95 % interval from the calibration's landing counts (they dominate:
// S and R are counted in the thousands, landings often in single digits).
struct Rate {
  double value = 0;
  Interval ci;
};

struct ObservedRate {
  uint64_t count = 0;
  double per_s = 0;
  Interval ci_per_s;  // exact Poisson
};

struct Prediction {
  uint32_t tid = 0;  // 0: the process
  double resumes_per_s = 0;
  double async_signals_per_s = 0;
  Rate hits_per_s;
  Rate corruptions_per_s;           // overwritten for certain, every window instruction
  double corruptions_upper_per_s = 0;  // also counting the "may be" geometries
  Rate crashes_per_s;               // overwritten for certain, return-address reads only
  Rate mtbf_s;                      // 1 / crashes_per_s; infinity when none are expected
  ObservedRate observed_hits;
  std::optional<ObservedRate> observed_corruptions;
  ObservedRate observed_crashes;
  // The conditional prediction: window hits given the signals seen landing elsewhere in the
  // routine during this trace (hits_given_routine), process only.
  std::optional<Rate> hits_given_routine_per_s;
  uint64_t routine_landings = 0;  // the live count it rests on
};

inline constexpr double kForever = std::numeric_limits<double>::infinity();

Prediction predict_thread(const LandingInput& landing, const ThreadInput& thread);
// Sums the threads (their durations may differ; rates add).
Prediction predict_process(const LandingInput& landing, const std::vector<ThreadInput>& threads);

ObservedRate observed_rate(uint64_t count, double duration_s);

// Window hits per second predicted from `live_elsewhere` interrupt-delivered signals that landed in
// the routine outside the window (and off offset 0) in `duration_s`, and the calibration's split
// between the window and the rest of the routine: live_elsewhere · L_window / L_elsewhere.
// It takes the rate at which signals reach the routine from the trace itself, and predicts only
// where inside the routine they land (docs/model.md). nullopt when the calibration saw no landing
// elsewhere or the duration is 0. The interval is that of L_window's exact Poisson interval.
std::optional<Rate> hits_given_routine(const LandingInput& landing, uint64_t live_elsewhere, double duration_s);

}  // namespace ut::model
