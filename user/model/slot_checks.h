// Window hits measured, not predicted: each hit's stale slot read again when its handler returns
// (bpf/trace.bpf.c handle_sigreturn), so "the frame overwrote it" is an observation.
#pragma once

#include <cstdint>

#include "events.h"

namespace ut::model {

struct SlotCheckCounts {
  uint64_t checked = 0;
  uint64_t overwritten = 0;     // the value changed between the hit and the handler's return
  uint64_t unreadable = 0;
  uint64_t return_address = 0;  // overwritten return-address slots: crashes unless rewritten equal
};

void add_slot_check(SlotCheckCounts& counts, const ut_slot_check_event& event);

}  // namespace ut::model
