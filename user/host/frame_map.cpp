#include "host/frame_map.h"

#include <algorithm>
#include <climits>

namespace ut::host {

namespace {

bool overlaps(const std::vector<ByteRange>& ranges, int64_t begin, int64_t end) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const ByteRange& r) { return r.begin < end && begin < r.end; });
}

}  // namespace

const FrameLayout* FrameMap::find(uint64_t frame_top, bool siginfo) const {
  const uint32_t align = static_cast<uint32_t>(frame_top % 64) & ~7u;
  for (const auto& layout : layouts)
    if (layout.top_align == align && layout.siginfo == siginfo) return &layout;
  return nullptr;
}

FrameSize FrameMap::size() const {
  if (layouts.empty()) return {};
  FrameSize size{UINT32_MAX, 0};
  for (const auto& layout : layouts) {
    size.min_bytes = std::min(size.min_bytes, layout.frame_bytes);
    size.max_bytes = std::max(size.max_bytes, layout.frame_bytes);
  }
  return size;
}

ByteFate byte_fate(const FrameLayout& layout, int64_t begin, int64_t end) {
  if (overlaps(layout.written, begin, end)) return ByteFate::Written;
  if (overlaps(layout.written_if_vector_state, begin, end)) return ByteFate::WrittenIfVectorState;
  if (begin >= -static_cast<int64_t>(layout.frame_bytes)) return ByteFate::Unwritten;
  // Straddling the frame's lower edge: the part inside is a hole, the part below is handler stack.
  return ByteFate::BelowFrame;
}

SlotWrites slot_writes(const FrameLayout& layout, int64_t begin, int64_t end) {
  SlotWrites out;
  for (int64_t at = begin; at < end && at - begin < 8; ++at) {
    const auto bit = static_cast<uint8_t>(1u << (at - begin));
    if (!overlaps(layout.written, at, at + 1)) continue;
    out.varying |= bit;
    for (const auto& run : layout.written_constant) {
      if (at < run.begin || at >= run.begin + static_cast<int64_t>(run.values.size())) continue;
      out.varying &= static_cast<uint8_t>(~bit);
      out.constant |= bit;
      out.constant_value |= static_cast<uint64_t>(run.values[static_cast<size_t>(at - run.begin)]) << (8 * (at - begin));
    }
  }
  return out;
}

std::vector<ConstantBytes> to_constant_runs(const std::vector<std::pair<int32_t, uint8_t>>& bytes) {
  std::vector<ConstantBytes> runs;
  for (const auto& [offset, value] : bytes) {
    if (!runs.empty() && runs.back().begin + static_cast<int32_t>(runs.back().values.size()) == offset) {
      runs.back().values.push_back(value);
      continue;
    }
    runs.push_back({offset, {value}});
  }
  return runs;
}

std::vector<ByteRange> to_ranges(const std::vector<int32_t>& offsets) {
  std::vector<int32_t> sorted = offsets;
  std::sort(sorted.begin(), sorted.end());
  std::vector<ByteRange> ranges;
  for (int32_t offset : sorted) {
    if (!ranges.empty() && ranges.back().end >= offset) {
      ranges.back().end = std::max(ranges.back().end, offset + 1);
      continue;
    }
    ranges.push_back({offset, offset + 1});
  }
  return ranges;
}

}  // namespace ut::host
