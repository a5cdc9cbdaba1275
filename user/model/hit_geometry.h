// What a window hit does to a stale slot, decided byte by byte from the calibrated frame map
// (host/frame_map.h) instead of the frame's overall size: the kernel leaves holes inside the
// frame, so a slot "inside" it may never be written.
#pragma once

#include <cstdint>
#include <string>

#include "host/frame_map.h"

namespace ut::model {

enum class SlotFate {
  Overwritten,       // the frame writes some byte of the slot: corrupted for certain
  IfVectorState,     // only when the AVX family's registers are in use
  IfHandlerStack,    // below the frame: only a handler using >= handler_bytes of stack reaches it
  Never,             // red zone, a hole in the frame, the alternate stack, or no handler at all
};
inline constexpr size_t kSlotFates = 4;
const char* to_string(SlotFate fate);  // "overwritten", "if_vector_state", "if_handler_stack", "never"

struct SlotFateVerdict {
  SlotFate fate = SlotFate::Never;
  uint64_t handler_bytes = 0;  // IfHandlerStack: stack the handler must use to touch the slot
  const char* why = "";        // Never: "red_zone", "above_sp", "hole", "alt_stack", "no_handler"
};

// `sp` is the interrupted SP, `slot_addr` the first byte of the 8-byte slot, `signal_flags` the
// UT_SIG_* bits of the handler. Never with why "no_layout" when the map has no layout for this
// alignment and handler kind (an empty map: no calibration).
SlotFateVerdict classify_slot_fate(uint64_t sp, uint64_t slot_addr, uint8_t signal_flags,
                                   const host::FrameMap& frame);

}  // namespace ut::model
