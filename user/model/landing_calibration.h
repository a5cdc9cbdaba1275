// Turns a traced storm on the bundled workload into the per-instruction residency w_i the
// exposure model needs: where interrupt-delivered signals landed inside the routine, normalised
// by how many such signals each thread took and how often it resumed.
#pragma once

#include "host/calibration.h"
#include "model/join.h"
#include "model/session.h"

namespace ut::model {

// Uses routine 0 of the session (the workload maps one libunwind). Throws std::runtime_error when
// the trace saw no resumes or no interrupt-delivered signals.
host::LandingCalibration landing_from_trace(const Session& session, const Joiner& joiner,
                                            const std::string& cpu_model);

// Two landing storms of the same routine build, CPU model and workload shape as one: landings and
// exposure (Σ_t async_t · R_t = 1 / seconds_per_landing) add, so w_i = ΣL_i / ΣE and its interval
// narrows with the pooled landings. Why: on some CPUs a landing at the return-address read is
// rarer than one per ten minutes of storm, so one storm bounds w_ret but cannot estimate it.
// Throws std::invalid_argument, saying what differs, when the two are not of the same kind.
host::LandingCalibration pool_landings(const host::LandingCalibration& earlier,
                                       const host::LandingCalibration& later);

// Outside the window and off the routine's first instruction, where a signal pending during the
// resume probe lands: the landings the conditional prediction counts (model/exposure_model.h).
bool lands_elsewhere(const analysis::RoutineWindow& window, uint32_t offset);

// The model's view of a landing calibration, restricted to the window instructions of `window`.
struct LandingInput;
LandingInput landing_input(const host::LandingCalibration& landing, const analysis::RoutineWindow& window);

}  // namespace ut::model
