#include "model/resume_geometry.h"

#include <algorithm>

namespace ut::model {

uint64_t InstructionFates::total() const {
  uint64_t n = 0;
  for (uint64_t r : resumes) n += r;
  return n;
}

double InstructionFates::p_overwritten() const {
  const uint64_t n = total();
  return n ? static_cast<double>(resumes[static_cast<size_t>(SlotFate::Overwritten)]) / static_cast<double>(n) : 0;
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

std::vector<InstructionFates> resume_fates(const ResumeShapes& shapes, const std::vector<TracedRoutine>& routines,
                                           uint8_t handler_flags, const host::FrameMap& frame) {
  constexpr uint64_t kBase = 0x7ffd'0000'0000;  // any 64-aligned address: only the alignment matters
  std::vector<InstructionFates> out;
  for (uint32_t r = 0; r < routines.size(); ++r) {
    for (const auto& insn : routines[r].window.window) {
      InstructionFates fates;
      fates.routine = r;
      fates.offset = static_cast<uint32_t>(insn.offset);
      fates.cls = insn.cls;
      const int64_t shift = sp_shift_at(routines[r].window, insn.offset);
      for (const auto& [shape, count] : shapes.counts()) {
        if (shape.routine != r) continue;
        const uint64_t target_sp = kBase + shape.sp_align;
        const uint64_t ctx = target_sp - static_cast<uint64_t>(shape.distance);
        const auto verdict = classify_slot_fate(target_sp + static_cast<uint64_t>(shift),
                                                ctx + static_cast<uint64_t>(static_cast<int64_t>(insn.slot_disp)),
                                                handler_flags, frame);
        fates.resumes[static_cast<size_t>(verdict.fate)] += count;
        if (verdict.fate == SlotFate::IfHandlerStack)
          fates.min_handler_bytes = std::min(fates.min_handler_bytes.value_or(UINT64_MAX), verdict.handler_bytes);
      }
      out.push_back(fates);
    }
  }
  return out;
}

}  // namespace ut::model
