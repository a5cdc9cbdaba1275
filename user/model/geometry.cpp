#include "model/geometry.h"

#include "events.h"

namespace ut::model {

const char* to_string(SlotPlacement placement) {
  switch (placement) {
    case SlotPlacement::Inside: return "inside";
    case SlotPlacement::Edge: return "edge";
    case SlotPlacement::BelowFrame: return "below_frame";
    case SlotPlacement::RedZone: return "red_zone";
    case SlotPlacement::AboveSp: return "above_sp";
    case SlotPlacement::AltStack: return "alt_stack";
    case SlotPlacement::NoFrame: return "no_frame";
  }
  return "?";
}

bool frame_on_altstack(uint8_t signal_flags) {
  const bool wants_altstack =
      (signal_flags & UT_SIG_ONSTACK) && (signal_flags & UT_SIG_ALTSTACK_SET);
  // A handler interrupted while already on the alternate stack nests its frame below the current
  // SP.
  return wants_altstack && !(signal_flags & UT_SIG_ON_ALTSTACK);
}

std::optional<SlotVerdict> classify_slot(uint64_t sp, uint64_t slot_addr, uint8_t signal_flags,
                                         const std::optional<FrameSize>& frame) {
  if (slot_addr >= sp) return SlotVerdict{SlotPlacement::AboveSp};
  if (!(signal_flags & UT_SIG_HANDLER)) return SlotVerdict{SlotPlacement::NoFrame};
  if (frame_on_altstack(signal_flags)) return SlotVerdict{SlotPlacement::AltStack};

  const uint64_t depth = sp - slot_addr;  // > 0
  if (depth <= kRedZoneBytes) return SlotVerdict{SlotPlacement::RedZone};
  if (!frame) return std::nullopt;

  // A frame of `size` bytes covers [SP-128-size, SP-128); it touches the slot's highest byte
  // (slot_addr + 7) once size >= depth - 128 - 7. A slot straddling SP-128 is touched by any frame.
  const uint64_t below_frame_top = depth - kRedZoneBytes;
  const uint64_t reach = below_frame_top > kSlotBytes - 1 ? below_frame_top - (kSlotBytes - 1) : 1;

  if (reach <= frame->min_bytes) return SlotVerdict{SlotPlacement::Inside, reach};
  if (reach <= frame->max_bytes) return SlotVerdict{SlotPlacement::Edge, reach};
  return SlotVerdict{SlotPlacement::BelowFrame, reach, reach - frame->max_bytes};
}

}  // namespace ut::model
