#include "model/landing_calibration.h"

#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "model/exposure_model.h"
#include "model/count_intervals.h"

namespace ut::model {

namespace {

// w and its interval per offset, from the landing counts and the storm's exposure.
void set_instructions(host::LandingCalibration& l, const std::map<uint32_t, uint64_t>& landings) {
  l.instructions.clear();
  for (const auto& [offset, count] : landings) {
    const Interval ci = poisson_interval(count);
    l.instructions.push_back({offset, count, static_cast<double>(count) * l.seconds_per_landing,
                              ci.low * l.seconds_per_landing, ci.high * l.seconds_per_landing});
  }
}

}  // namespace

host::LandingCalibration landing_from_trace(const Session& session, const Joiner& joiner,
                                            const std::string& cpu_model) {
  if (session.routines.empty() || session.duration_s <= 0)
    throw std::runtime_error("nothing was traced: no hazardous routine in the workload");
  const TracedRoutine& routine = session.routines.front();
  host::LandingCalibration l;
  l.cpu_model = cpu_model;
  l.object_path = routine.object_path;
  l.build_id = routine.build_id;
  l.symbol = routine.symbol;
  l.duration_s = session.duration_s;
  for (const auto& insn : routine.window.window) l.window_offsets.push_back(static_cast<uint32_t>(insn.offset));

  std::map<uint32_t, uint64_t> async_by_tid;
  for (const auto& c : session.signal_counts) {
    if (c.key.delivery == UT_DELIVERY_INTERRUPT) {
      async_by_tid[c.key.tid] += c.count;
      l.async_signals += c.count;
    } else {
      l.syscall_signals += c.count;
    }
  }
  double exposure = 0;  // Σ_t async_t · R_t
  for (const auto& [tid, resumes] : session.kernel_resumes) {
    l.resumes += resumes;
    auto async = async_by_tid.find(tid);
    if (async != async_by_tid.end())
      exposure += static_cast<double>(async->second) * static_cast<double>(resumes) / session.duration_s;
  }
  if (exposure <= 0)
    throw std::runtime_error("no thread both resumed and took interrupt-delivered signals");
  l.seconds_per_landing = 1 / exposure;

  std::map<uint32_t, uint64_t> landings;
  for (uint32_t offset : l.window_offsets) landings[offset] = 0;
  for (const auto& [where, counts] : joiner.routine_offsets())
    if (where.routine == 0 && counts[UT_DELIVERY_INTERRUPT] > 0) landings[where.offset] += counts[UT_DELIVERY_INTERRUPT];
  set_instructions(l, landings);
  return l;
}

host::LandingCalibration pool_landings(const host::LandingCalibration& earlier,
                                       const host::LandingCalibration& later) {
  auto differ = [](const char* what, const std::string& a, const std::string& b) {
    return std::invalid_argument(fmt::format("the cached landing calibration is for another {} ({}, not {})",
                                             what, a, b));
  };
  if (earlier.cpu_model != later.cpu_model) throw differ("CPU model", earlier.cpu_model, later.cpu_model);
  if (earlier.build_id != later.build_id || earlier.symbol != later.symbol || earlier.window_offsets != later.window_offsets)
    throw differ("routine build", earlier.symbol + " " + earlier.build_id, later.symbol + " " + later.build_id);
  if (!earlier.workload || earlier.workload != later.workload)
    throw differ("workload shape", host::landing_workload_text(earlier.workload),
                 host::landing_workload_text(later.workload));
  if (earlier.seconds_per_landing <= 0 || later.seconds_per_landing <= 0)
    throw std::invalid_argument("a landing calibration without exposure (no interrupt-delivered signal)");
  host::LandingCalibration pooled = later;
  pooled.storms = earlier.storms + later.storms;
  pooled.duration_s = earlier.duration_s + later.duration_s;
  pooled.resumes = earlier.resumes + later.resumes;
  pooled.async_signals = earlier.async_signals + later.async_signals;
  pooled.syscall_signals = earlier.syscall_signals + later.syscall_signals;
  pooled.seconds_per_landing = 1 / (1 / earlier.seconds_per_landing + 1 / later.seconds_per_landing);
  std::map<uint32_t, uint64_t> landings;
  for (const auto* l : {&earlier, &later})
    for (const auto& i : l->instructions) landings[i.offset] += i.landings;
  set_instructions(pooled, landings);
  return pooled;
}

bool lands_elsewhere(const analysis::RoutineWindow& window, uint32_t offset) {
  if (offset == 0) return false;
  for (const auto& insn : window.window)
    if (insn.offset == offset) return false;
  return true;
}

LandingInput landing_input(const host::LandingCalibration& landing, const analysis::RoutineWindow& window) {
  LandingInput input;
  input.seconds_per_landing = landing.seconds_per_landing;
  for (const auto& insn : window.window) {
    const auto offset = static_cast<uint32_t>(insn.offset);
    const host::InstructionLanding* at = landing.at(offset);
    input.window.push_back({offset, at ? at->landings : 0, insn.cls == analysis::ReadClass::ReturnAddress});
  }
  for (const auto& i : landing.instructions)
    if (lands_elsewhere(window, i.offset)) input.landings_elsewhere += i.landings;
  return input;
}

}  // namespace ut::model
