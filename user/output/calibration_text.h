// `unwindtrace calibrate`'s text output: the host, its XSAVE set, the frame's written bytes and
// holes, and the landing calibration if there is one.
#pragma once

#include <string>
#include <vector>

#include "host/calibration.h"

namespace ut::output {

std::string calibration_text(const host::Calibration& calibration);

// The bytes of [-frame_bytes, 0) that no range covers (written or written-if-vector-state).
std::vector<host::ByteRange> frame_holes(const host::FrameLayout& layout);

}  // namespace ut::output
