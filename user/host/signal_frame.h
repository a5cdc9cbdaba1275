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

struct FrameMap;
struct XsaveFeatures;

// Which bytes each frame writes, for every stack alignment (mod 64) and for handlers with and
// without SA_SIGINFO, with the AVX family's registers in their initial state and in use. A helper
// thread fills an alternate signal stack with several patterns, takes a signal on it, and diffs:
// the kernel lays out a frame below an alternate stack's top exactly as below SP - 128.
// Throws std::runtime_error when a signal cannot be taken or a frame looks implausible.
FrameMap measure_frame_map(const XsaveFeatures& features);

}  // namespace ut::host
