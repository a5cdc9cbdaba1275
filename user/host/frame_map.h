// Which bytes below the red zone one signal frame actually writes, measured per stack alignment
// and per handler kind: the XSAVE area the kernel copies out has holes (components the CPU does
// not use, reserved bytes, register state in its initial configuration) and siginfo is only
// written for SA_SIGINFO handlers, so "inside the frame" is not "overwritten".
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "host/signal_frame.h"

namespace ut::host {

// Bytes [begin, end) relative to the frame's top, SP - 128 (so both are negative), or, for a
// frame on an alternate stack, relative to the stack's top.
struct ByteRange {
  int32_t begin = 0;
  int32_t end = 0;
  bool operator==(const ByteRange&) const = default;
};

// Consecutive written bytes that held the same value in every measured variant (five fill
// patterns, registers scrambled differently, vector state idle and in use): reserved words the
// kernel clears, such as the XSAVE header's. Such a byte changes a slot only if the slot held
// something else there.
struct ConstantBytes {
  int32_t begin = 0;            // relative to the layout's top, like ByteRange
  std::vector<uint8_t> values;  // values[k] is written at begin + k
  bool operator==(const ConstantBytes&) const = default;
};

struct FrameLayout {
  uint32_t top_align = 0;  // (SP - 128) mod 64, a multiple of 8: the frame's layout depends on it
  bool siginfo = false;    // handler installed with SA_SIGINFO
  uint32_t frame_bytes = 0;  // the frame spans [-frame_bytes, 0)
  std::vector<ByteRange> written;  // written whatever the thread's vector registers hold
  // Written only when the thread's AVX/AVX-512 registers are not in their initial state (XSAVE
  // skips components in their initial state); disjoint from `written`.
  std::vector<ByteRange> written_if_vector_state;
  std::vector<ConstantBytes> written_constant;  // a subset of `written`, sorted
};

// What a frame does to the bytes [begin, end) relative to SP - 128.
enum class ByteFate {
  Written,             // some byte is written for certain
  WrittenIfVectorState,  // only when the vector registers are in use
  Unwritten,           // inside the frame's span but in a hole: never written by the kernel
  BelowFrame,          // below the frame: only the handler's own stack use can reach it
};

struct FrameMap {
  std::vector<FrameLayout> layouts;  // one per (top_align, siginfo) measured

  bool empty() const { return layouts.empty(); }
  // The layout for a frame whose top is `frame_top` (SP - 128, or an alternate stack's top).
  const FrameLayout* find(uint64_t frame_top, bool siginfo) const;
  FrameSize size() const;  // smallest and largest frame over all layouts
};

// Ranges are merged and sorted; `begin`/`end` relative to the layout's top.
ByteFate byte_fate(const FrameLayout& layout, int64_t begin, int64_t end);

// The bytes of `written` inside [begin, end) (at most 8 bytes) that are not always the same value,
// and those that are, with their values: bit k of a mask is byte begin + k.
struct SlotWrites {
  uint8_t varying = 0;
  uint8_t constant = 0;
  uint64_t constant_value = 0;  // the constant bytes' values in their positions, little-endian
};
SlotWrites slot_writes(const FrameLayout& layout, int64_t begin, int64_t end);

// Constant runs from a written byte's offsets and the value each run wrote, in offset order.
std::vector<ConstantBytes> to_constant_runs(const std::vector<std::pair<int32_t, uint8_t>>& bytes);

// Merges a sorted-or-not list of byte offsets (relative to the top) into ranges.
std::vector<ByteRange> to_ranges(const std::vector<int32_t>& offsets);

}  // namespace ut::host
