// The traced routines as the crash and stuck-thread checks see them: each one's whole extent
// [start, start + size) and its `ret`s, from the routine's analysis.
#pragma once

#include <span>
#include <vector>

#include "model/crash_signature.h"
#include "model/session.h"

namespace ut::model {

// Indexed like `routines` (and so like the events' routine index).
std::vector<UnwinderRoutine> unwinder_routines(std::span<const TracedRoutine> routines);

}  // namespace ut::model
