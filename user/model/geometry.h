// Does a window hit corrupt? Where the stale slot lies relative to the signal frame the kernel
// writes below the interrupted SP. Pure functions of addresses and a frame size measured on the
// host (it depends on the CPU's XSAVE area and the kernel, so it is never assumed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "host/signal_frame.h"

namespace ut::model {

inline constexpr uint64_t kRedZoneBytes = 128;  // x86-64 ABI: the kernel never writes there
inline constexpr uint64_t kSlotBytes = 8;       // stale reads are qword loads

// Bytes the kernel writes below SP-128 for one signal: the frame spans [SP-128-size, SP-128),
// measured on this host (host/signal_frame.h). A figure quoted as "below the interrupted SP"
// includes the red zone: subtract 128.
using FrameSize = host::FrameSize;

enum class SlotPlacement {
  Inside,      // the frame overlaps the slot for every measured size: corrupted for certain
  Edge,        // only the larger measured sizes reach the slot
  BelowFrame,  // below the largest frame: corrupted only if the handler's stack reaches it
  RedZone,     // within 128 bytes below SP: never written
  AboveSp,     // at or above SP: live stack, not stale at all
  AltStack,    // the frame goes to the alternate signal stack: the slot is untouched
  NoFrame,     // no user handler runs, so the kernel writes no frame
};
inline constexpr size_t kSlotPlacements = 7;

const char* to_string(SlotPlacement placement);  // "inside", "edge", "below_frame", ...

struct SlotVerdict {
  SlotPlacement placement = SlotPlacement::Inside;
  // Bytes that must be written below SP-128 to touch any byte of the slot; 0 for the placements
  // that do not depend on the frame (RedZone, AboveSp, AltStack, NoFrame).
  uint64_t reach_bytes = 0;
  // BelowFrame only: stack the handler must use beyond the largest frame to touch the slot.
  // With a smaller frame it needs more, so a handler using less never corrupts the slot.
  uint64_t handler_bytes = 0;
};

// ut_signal_event.flags says the frame goes to the alternate stack: SA_ONSTACK, a sigaltstack
// set, and the thread not already running on it.
bool frame_on_altstack(uint8_t signal_flags);

// `sp` is the interrupted SP, `slot_addr` the start of the 8-byte stale slot. Returns nullopt only
// when the answer depends on the frame size and none was measured.
std::optional<SlotVerdict> classify_slot(uint64_t sp, uint64_t slot_addr, uint8_t signal_flags,
                                         const std::optional<FrameSize>& frame);

}  // namespace ut::model
