// The frame map measured on this machine (no root needed: the signals are our own), checked
// against what must hold on any x86-64 host and against the frame size measured the other way,
// on the thread's own stack.
#include <gtest/gtest.h>

#include <algorithm>

#include "host/frame_map.h"
#include "host/signal_frame.h"
#include "host/xsave_features.h"

namespace ut::host {
namespace {

const FrameMap& measured_map() {
  static const FrameMap map = measure_frame_map(read_xsave_features());
  return map;
}

uint64_t bytes_in(const std::vector<ByteRange>& ranges) {
  uint64_t n = 0;
  for (const auto& r : ranges) n += static_cast<uint64_t>(r.end - r.begin);
  return n;
}

TEST(FrameMapMeasured, CoversEveryAlignmentAndBothHandlerKinds) {
  const FrameMap& map = measured_map();
  ASSERT_EQ(map.layouts.size(), 16u);
  for (uint32_t align = 0; align < 64; align += 8)
    for (bool siginfo : {false, true}) {
      const FrameLayout* layout = map.find(0x7ffd'0000'0000 + align, siginfo);
      ASSERT_NE(layout, nullptr);
      EXPECT_EQ(layout->top_align, align);
      EXPECT_EQ(layout->siginfo, siginfo);
    }
}

TEST(FrameMapMeasured, WrittenBytesLieInsideTheFrameAndIncludeTheRestorer) {
  for (const auto& layout : measured_map().layouts) {
    const int32_t low = -static_cast<int32_t>(layout.frame_bytes);
    ASSERT_FALSE(layout.written.empty());
    EXPECT_GE(layout.written.front().begin, low);
    EXPECT_LE(layout.written.back().end, 0);
    // The frame's lowest 8 bytes hold the restorer address: always written.
    EXPECT_EQ(byte_fate(layout, low, low + 8), ByteFate::Written);
    EXPECT_EQ(byte_fate(layout, low - 8, low), ByteFate::BelowFrame);
    for (size_t i = 1; i < layout.written.size(); ++i)
      EXPECT_LT(layout.written[i - 1].end, layout.written[i].begin) << "ranges merged and sorted";
  }
}

TEST(FrameMapMeasured, SiginfoIsWrittenOnlyForSaSiginfoHandlers) {
  const FrameMap& map = measured_map();
  for (uint32_t align = 0; align < 64; align += 8) {
    const FrameLayout* plain = map.find(align, false);
    const FrameLayout* info = map.find(align, true);
    ASSERT_TRUE(plain && info);
    EXPECT_EQ(plain->frame_bytes, info->frame_bytes);
    // siginfo_t is 128 bytes; the kernel copies it out only for SA_SIGINFO handlers.
    EXPECT_GE(bytes_in(info->written), bytes_in(plain->written) + 100);
    for (const auto& r : plain->written)
      EXPECT_EQ(byte_fate(*info, r.begin, r.end), ByteFate::Written);
  }
}

TEST(FrameMapMeasured, TheFrameHasHolesSoInsideIsNotOverwritten) {
  for (const auto& layout : measured_map().layouts)
    EXPECT_LT(bytes_in(layout.written) + bytes_in(layout.written_if_vector_state), layout.frame_bytes);
}

TEST(FrameMapMeasured, SizesAgreeWithFramesTakenOnTheThreadsOwnStack) {
  const FrameSize on_stack = measure_signal_frame();
  ASSERT_GT(on_stack.max_bytes, 0u);
  const FrameSize mapped = measured_map().size();
  // The on-stack measurement samples fewer alignments, so its range lies within the map's.
  EXPECT_GE(on_stack.min_bytes, mapped.min_bytes);
  EXPECT_LE(on_stack.max_bytes, mapped.max_bytes);
  EXPECT_LE(mapped.max_bytes - mapped.min_bytes, 64u);
}

TEST(FrameMapMeasured, AnXsaveAreaAsLargeAsCpuidSaysFitsInTheFrame) {
  const XsaveFeatures features = read_xsave_features();
  if (!features.supported) GTEST_SKIP() << "no XSAVE on this CPU";
  EXPECT_GE(measured_map().size().min_bytes, features.area_bytes);
  EXPECT_TRUE(std::any_of(features.components.begin(), features.components.end(),
                          [](const XsaveComponent& c) { return c.name == "sse"; }));
}

}  // namespace
}  // namespace ut::host
