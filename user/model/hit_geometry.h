// What a window hit does to a stale slot, decided byte by byte from the calibrated frame map
// (host/frame_map.h) instead of the frame's overall size: the kernel leaves holes inside the
// frame, so a slot "inside" it may never be written.
#pragma once

#include <cstdint>
#include <string>

#include "host/frame_map.h"

namespace ut::model {

enum class SlotFate {
  Overwritten,       // the frame writes some byte of the slot with varying data: corrupted for certain
  IfValueDiffers,    // written only with constants (reserved words the kernel clears): corrupted
                     // only if the slot held something else there
  IfVectorState,     // only when the AVX family's registers are in use
  IfHandlerStack,    // below the frame: only a handler using >= handler_bytes of stack reaches it
  Never,             // red zone, a hole in the frame, the alternate stack, or no handler at all
};
inline constexpr size_t kSlotFates = 5;
// "overwritten", "if_value_differs", "if_vector_state", "if_handler_stack", "never"
const char* to_string(SlotFate fate);

struct SlotFateVerdict {
  SlotFate fate = SlotFate::Never;
  uint64_t handler_bytes = 0;  // IfHandlerStack: stack the handler must use to touch the slot
  const char* why = "";        // Never: "red_zone", "above_sp", "hole", "alt_stack", "no_handler",
                               // "same_value"
  uint8_t constant_bytes = 0;  // IfValueDiffers: bit k set when slot byte k is written constant_value's byte k
  uint64_t constant_value = 0;
};

// `sp` is the interrupted SP, `slot_addr` the first byte of the 8-byte slot, `signal_flags` the
// UT_SIG_* bits of the handler. Never with why "no_layout" when the map has no layout for this
// alignment and handler kind (an empty map: no calibration).
SlotFateVerdict classify_slot_fate(uint64_t sp, uint64_t slot_addr, uint8_t signal_flags,
                                   const host::FrameMap& frame);

// Whether an IfValueDiffers slot holding `slot_value` before the frame is written changes.
bool constant_write_changes(const SlotFateVerdict& verdict, uint64_t slot_value);

// The same with the slot's value known (a window hit carries it): IfValueDiffers becomes
// Overwritten, or Never with why "same_value".
SlotFateVerdict classify_slot_fate(uint64_t sp, uint64_t slot_addr, uint8_t signal_flags,
                                   const host::FrameMap& frame, uint64_t slot_value);

}  // namespace ut::model
