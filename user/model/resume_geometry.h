// What a window hit would do during each resume seen, per window instruction: the resume's shape
// (distance of the ucontext below the target SP, SP alignment) placed on the calibrated frame map
// for one handler kind. The fractions are the model's P(corrupt | hit at instruction i).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "analysis/routine_window.h"
#include "host/frame_map.h"
#include "model/hit_geometry.h"
#include "model/resume_shapes.h"
#include "model/session.h"

namespace ut::model {

struct InstructionFates {
  uint32_t routine = 0;
  uint32_t offset = 0;
  analysis::ReadClass cls = analysis::ReadClass::Register;
  std::array<uint64_t, kSlotFates> resumes{};   // indexed by SlotFate
  std::optional<uint64_t> min_handler_bytes;    // least handler stack use that corrupts a resume

  uint64_t total() const;
  double p_overwritten() const;  // certain
  double p_possible() const;     // certain, or with vector state / handler stack
};

// SP at a window instruction relative to the target SP: pushes and pops after the switch move it.
int64_t sp_shift_at(const analysis::RoutineWindow& window, uint64_t offset);

// One entry per window instruction of every routine, in routine then offset order.
std::vector<InstructionFates> resume_fates(const ResumeShapes& shapes, const std::vector<TracedRoutine>& routines,
                                           uint8_t handler_flags, const host::FrameMap& frame);

}  // namespace ut::model
