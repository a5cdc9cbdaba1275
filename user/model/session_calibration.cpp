#include "model/session_calibration.h"

#include <fmt/format.h>

#include "host/signal_frame.h"

namespace ut::model {

SessionCalibration load_session_calibration() {
  SessionCalibration result;
  try {
    auto loaded = host::load_or_measure_calibration(host::default_calibration_path(), false);
    result.frame_map = std::move(loaded.calibration.frame);
    result.landing = std::move(loaded.calibration.landing);
    result.frame_size = result.frame_map.size();
    if (loaded.note.find("not cached") != std::string::npos) result.warnings.push_back(loaded.note);
    if (!result.landing)
      result.warnings.push_back("no landing calibration for this CPU model: no predicted hit rate "
                                "(unwindtrace calibrate --landing 30)");
    return result;
  } catch (const std::exception& e) {
    result.warnings.push_back(fmt::format("could not calibrate the signal frame's byte map: {}", e.what()));
  }
  result.frame_size = host::measure_signal_frame();
  if (result.frame_size->max_bytes == 0) {
    result.frame_size.reset();
    result.warnings.push_back("could not measure this host's signal frame: hit geometry unknown");
  }
  return result;
}

void apply(const SessionCalibration& calibration, Session& session, std::vector<std::string>& warnings) {
  session.frame_size = calibration.frame_size;
  session.frame_map = calibration.frame_map;
  session.landing = calibration.landing;
  warnings.insert(warnings.end(), calibration.warnings.begin(), calibration.warnings.end());
}

}  // namespace ut::model
