#include "model/session_calibration.h"

#include <fmt/format.h>

#include "host/signal_frame.h"

namespace ut::model {

void calibrate_session(Session& session, std::vector<std::string>& warnings) {
  try {
    auto loaded = host::load_or_measure_calibration(host::default_calibration_path(), false);
    session.frame_map = std::move(loaded.calibration.frame);
    session.landing = std::move(loaded.calibration.landing);
    session.frame_size = session.frame_map.size();
    if (loaded.note.find("not cached") != std::string::npos) warnings.push_back(loaded.note);
    if (!session.landing)
      warnings.push_back("no landing calibration for this CPU model: no predicted hit rate "
                         "(unwindtrace calibrate --landing 30)");
    return;
  } catch (const std::exception& e) {
    warnings.push_back(fmt::format("could not calibrate the signal frame's byte map: {}", e.what()));
  }
  session.frame_size = host::measure_signal_frame();
  if (session.frame_size->max_bytes == 0) {
    session.frame_size.reset();
    warnings.push_back("could not measure this host's signal frame: hit geometry unknown");
  }
}

}  // namespace ut::model
