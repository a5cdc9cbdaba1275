// The size of the signal frame the kernel writes on this host, measured, not assumed: it
// depends on the CPU's XSAVE features (several KiB with AVX-512) and the kernel.
#pragma once

#include <cstdint>

namespace ut::host {

// Bytes below SP-128 (the red zone) that a signal frame occupies: [SP-128-size, SP-128).
struct FrameSize {
  uint32_t min_bytes = 0;
  uint32_t max_bytes = 0;  // differs from min by the frame's alignment padding
};

// Takes a few signals in this process at different stack alignments and measures each frame.
// Safe to call before any other thread exists; restores the signal's previous disposition.
FrameSize measure_signal_frame();

}  // namespace ut::host
