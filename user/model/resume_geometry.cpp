#include "model/resume_geometry.h"

#include <algorithm>

namespace ut::model {

const std::map<uint64_t, uint64_t>* SlotValueSample::at(uint32_t routine, uint32_t offset) const {
  auto it = values_.find({routine, offset});
  return it == values_.end() ? nullptr : &it->second;
}

uint64_t InstructionFates::total() const {
  uint64_t n = 0;
  for (uint64_t r : resumes) n += r;
  return n;
}

double InstructionFates::p_overwritten() const {
  const uint64_t n = total();
  if (!n) return 0;
  return (static_cast<double>(resumes[static_cast<size_t>(SlotFate::Overwritten)]) + value_differs_resumes.value_or(0)) /
         static_cast<double>(n);
}

double InstructionFates::p_possible() const {
  const uint64_t n = total();
  return n ? 1 - static_cast<double>(resumes[static_cast<size_t>(SlotFate::Never)]) / static_cast<double>(n) : 0;
}

int64_t sp_shift_at(const analysis::RoutineWindow& window, uint64_t offset) {
  if (!window.switch_offset) return 0;
  int64_t shift = 0;
  for (const auto& insn : window.listing) {
    if (insn.offset <= *window.switch_offset || insn.offset >= offset) continue;
    if (insn.text.starts_with("push")) shift -= 8;
    else if (insn.text.starts_with("pop")) shift += 8;
  }
  return shift;
}

namespace {

// The fraction of the sampled values that the verdict's constant bytes would change.
double fraction_changed(const SlotFateVerdict& verdict, const std::map<uint64_t, uint64_t>& values) {
  uint64_t changed = 0, total = 0;
  for (const auto& [value, count] : values) {
    total += count;
    if (constant_write_changes(verdict, value)) changed += count;
  }
  return total ? static_cast<double>(changed) / static_cast<double>(total) : 0;
}

}  // namespace

std::vector<InstructionFates> resume_fates(const ResumeShapes& shapes, const std::vector<TracedRoutine>& routines,
                                           uint8_t handler_flags, const host::FrameMap& frame,
                                           const SlotValueSample& values) {
  constexpr uint64_t kBase = 0x7ffd'0000'0000;  // any 64-aligned address: only the alignment matters
  std::vector<InstructionFates> out;
  for (uint32_t r = 0; r < routines.size(); ++r) {
    for (const auto& insn : routines[r].window.window) {
      InstructionFates fates;
      fates.routine = r;
      fates.offset = static_cast<uint32_t>(insn.offset);
      fates.cls = insn.cls;
      const int64_t shift = sp_shift_at(routines[r].window, insn.offset);
      const auto* sample = values.at(r, fates.offset);
      if (sample) {
        fates.value_differs_resumes = 0.0;
        for (const auto& [value, count] : *sample) fates.sampled_values += count;
      }
      for (const auto& [shape, count] : shapes.counts()) {
        if (shape.routine != r) continue;
        const uint64_t target_sp = kBase + shape.sp_align;
        const uint64_t ctx = target_sp - static_cast<uint64_t>(shape.distance);
        const auto verdict = classify_slot_fate(target_sp + static_cast<uint64_t>(shift),
                                                ctx + static_cast<uint64_t>(static_cast<int64_t>(insn.slot_disp)),
                                                handler_flags, frame);
        fates.resumes[static_cast<size_t>(verdict.fate)] += count;
        if (verdict.fate == SlotFate::IfValueDiffers && sample)
          *fates.value_differs_resumes += static_cast<double>(count) * fraction_changed(verdict, *sample);
        if (verdict.fate == SlotFate::IfHandlerStack)
          fates.min_handler_bytes = std::min(fates.min_handler_bytes.value_or(UINT64_MAX), verdict.handler_bytes);
      }
      out.push_back(fates);
    }
  }
  return out;
}

}  // namespace ut::model
