// The host calibration a trace session uses: the cached frame map (measured now if stale or
// absent) and the landing calibration of this CPU model, if one was made. Loaded once per
// session, applied to every traced process's Session.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/session.h"

namespace ut::model {

struct SessionCalibration {
  std::optional<FrameSize> frame_size;  // empty: not measured, hit geometry unknown
  host::FrameMap frame_map;
  std::optional<host::LandingCalibration> landing;
  std::vector<std::string> warnings;  // problems are warnings, never errors
};

SessionCalibration load_session_calibration();

// Copies the calibration into `session` and its warnings into `warnings`.
void apply(const SessionCalibration& calibration, Session& session, std::vector<std::string>& warnings);

}  // namespace ut::model
