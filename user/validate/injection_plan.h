// Where `validate` injects signals into one resume routine: each window instruction in turn (or,
// for a routine without a window, the instruction right after its stack switch), sent from a
// uprobe on the instruction before it, since a uprobe defers pending signals to the next one.
// Pure function of the analysis: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/routine_window.h"

namespace ut::validate {

enum class SiteKind {
  ReturnAddress,  // a window instruction with the return-address read pending: wild return
  Register,       // a window instruction with only register reads pending: silent corruption
  AfterSwitch,    // no window: the instruction after the switch, where nothing stale is read
};

const char* to_string(SiteKind kind);  // "return-address", "register", "after-switch"

// A read through the abandoned context that is still to come when the signal lands.
struct PendingSlot {
  int32_t disp = 0;  // from the context register
  analysis::ReadClass cls = analysis::ReadClass::Register;
};

struct InjectionSite {
  uint64_t offset = 0;         // where the signal must land, from the routine's start
  uint64_t inject_offset = 0;  // the instruction before it: the uprobe that sends the signal
  SiteKind kind = SiteKind::AfterSwitch;
  std::string text;                // the landing instruction
  std::string inject_text;         // the instruction the injecting uprobe sits on
  std::vector<PendingSlot> slots;  // in read order
};

// One site per window instruction, in address order; a routine that switches stacks without a
// window gets one AfterSwitch site. Empty when the routine has no switch, or its landing
// instruction has no predecessor in the listing.
std::vector<InjectionSite> plan_injection_sites(const analysis::RoutineWindow& window);

}  // namespace ut::validate
