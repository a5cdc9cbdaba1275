// The host calibration a trace session uses: the cached frame map (measured now if stale or
// absent) and the landing calibration of this CPU model, if one was made.
#pragma once

#include <string>
#include <vector>

#include "model/session.h"

namespace ut::model {

// Fills session.frame_size, frame_map and landing; problems become warnings, never errors.
void calibrate_session(Session& session, std::vector<std::string>& warnings);

}  // namespace ut::model
