// Capstone's x86 register ids in terms of the kernel's struct pt_regs (enum ut_reg), so an
// analysis result names registers the way the BPF programs read them.
#pragma once

#include <capstone/x86.h>

#include <optional>

#include "events.h"

namespace ut::analysis {

// A general-purpose register, or one of its 32/16/8-bit aliases, and how much of it the name
// covers: writing 32 bits zero-extends (a whole new value), writing 8 or 16 bits merges.
struct RegisterSlot {
  ut_reg reg;
  unsigned bits;  // 64, 32, 16 or 8
};

// nullopt for registers pt_regs does not hold as a general-purpose slot (segment, vector, flags).
std::optional<RegisterSlot> pt_regs_slot(x86_reg reg);

// Lower-case 64-bit name: "rdi", "r8", "rip"; "?" for pt_regs slots that are not registers.
const char* ut_reg_name(ut_reg reg);

}  // namespace ut::analysis
