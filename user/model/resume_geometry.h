// What a window hit would do during each resume seen, per window instruction: the resume's shape
// (distance of the ucontext below the target SP, SP alignment) placed on the calibrated frame map
// for one handler kind. The fractions are the model's P(corrupt | hit at instruction i).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "analysis/routine_window.h"
#include "host/frame_map.h"
#include "model/hit_geometry.h"
#include "model/resume_shapes.h"
#include "model/session.h"

namespace ut::model {

// What each window instruction's stale slot held when hits landed there (a signal event reads it
// before the frame is written): a sample of the slot's value per resume, since signals land
// independently of it. Keyed by (routine, offset); values with their counts.
class SlotValueSample {
 public:
  void add(uint32_t routine, uint32_t offset, uint64_t value) { values_[{routine, offset}][value] += 1; }
  const std::map<uint64_t, uint64_t>* at(uint32_t routine, uint32_t offset) const;

 private:
  std::map<std::pair<uint32_t, uint32_t>, std::map<uint64_t, uint64_t>> values_;
};

struct InstructionFates {
  uint32_t routine = 0;
  uint32_t offset = 0;
  analysis::ReadClass cls = analysis::ReadClass::Register;
  std::array<uint64_t, kSlotFates> resumes{};   // indexed by SlotFate
  std::optional<uint64_t> min_handler_bytes;    // least handler stack use that corrupts a resume
  // IfValueDiffers resumes weighted by the fraction of sampled slot values the constants change;
  // nullopt without a sample for this instruction (then they count as possible, not certain).
  std::optional<double> value_differs_resumes;
  uint64_t sampled_values = 0;  // slot values the estimate rests on

  uint64_t total() const;
  double p_overwritten() const;  // certain (varying data, or constants unlike the sampled values)
  double p_possible() const;     // also with constants of unknown effect, vector state, handler stack
};

// SP at a window instruction relative to the target SP: pushes and pops after the switch move it.
int64_t sp_shift_at(const analysis::RoutineWindow& window, uint64_t offset);

// One entry per window instruction of every routine, in routine then offset order.
std::vector<InstructionFates> resume_fates(const ResumeShapes& shapes, const std::vector<TracedRoutine>& routines,
                                           uint8_t handler_flags, const host::FrameMap& frame,
                                           const SlotValueSample& values = {});

}  // namespace ut::model
