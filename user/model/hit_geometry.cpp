#include "model/hit_geometry.h"

#include "events.h"
#include "model/geometry.h"

namespace ut::model {

const char* to_string(SlotFate fate) {
  switch (fate) {
    case SlotFate::Overwritten: return "overwritten";
    case SlotFate::IfValueDiffers: return "if_value_differs";
    case SlotFate::IfVectorState: return "if_vector_state";
    case SlotFate::IfHandlerStack: return "if_handler_stack";
    case SlotFate::Never: return "never";
  }
  return "?";
}

SlotFateVerdict classify_slot_fate(uint64_t sp, uint64_t slot_addr, uint8_t signal_flags,
                                   const host::FrameMap& frame) {
  if (slot_addr >= sp) return {SlotFate::Never, 0, "above_sp"};
  if (!(signal_flags & UT_SIG_HANDLER)) return {SlotFate::Never, 0, "no_handler"};
  if (frame_on_altstack(signal_flags)) return {SlotFate::Never, 0, "alt_stack"};
  const uint64_t top = sp - kRedZoneBytes;
  if (slot_addr >= top) return {SlotFate::Never, 0, "red_zone"};

  const host::FrameLayout* layout = frame.find(top, signal_flags & UT_SIG_SIGINFO);
  if (!layout) return {SlotFate::Never, 0, "no_layout"};
  // Offsets relative to the 8-aligned top the layout was measured at.
  const uint64_t aligned_top = top & ~7ull;
  const int64_t begin = static_cast<int64_t>(slot_addr) - static_cast<int64_t>(aligned_top);
  const int64_t end = begin + static_cast<int64_t>(kSlotBytes);
  switch (host::byte_fate(*layout, begin, end)) {
    case host::ByteFate::Written: {
      const host::SlotWrites writes = host::slot_writes(*layout, begin, end);
      if (writes.varying) return {SlotFate::Overwritten};
      return {SlotFate::IfValueDiffers, 0, "", writes.constant, writes.constant_value};
    }
    case host::ByteFate::WrittenIfVectorState: return {SlotFate::IfVectorState};
    case host::ByteFate::Unwritten: return {SlotFate::Never, 0, "hole"};
    case host::ByteFate::BelowFrame: break;
  }
  // The handler's stack grows down from the frame's lowest byte; it must reach the slot's top byte.
  const int64_t frame_low = -static_cast<int64_t>(layout->frame_bytes);
  return {SlotFate::IfHandlerStack, static_cast<uint64_t>(frame_low - (end - 1))};
}

bool constant_write_changes(const SlotFateVerdict& verdict, uint64_t slot_value) {
  uint64_t mask = 0;
  for (unsigned k = 0; k < 8; ++k)
    if (verdict.constant_bytes & (1u << k)) mask |= 0xffull << (8 * k);
  return ((slot_value ^ verdict.constant_value) & mask) != 0;
}

SlotFateVerdict classify_slot_fate(uint64_t sp, uint64_t slot_addr, uint8_t signal_flags,
                                   const host::FrameMap& frame, uint64_t slot_value) {
  SlotFateVerdict verdict = classify_slot_fate(sp, slot_addr, signal_flags, frame);
  if (verdict.fate != SlotFate::IfValueDiffers) return verdict;
  if (constant_write_changes(verdict, slot_value)) return {SlotFate::Overwritten};
  return {SlotFate::Never, 0, "same_value"};
}

}  // namespace ut::model
