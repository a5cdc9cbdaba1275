// The frame map measured on this machine (no root needed: the signals are our own), checked
// against what must hold on any x86-64 host and against the frame size measured the other way,
// on the thread's own stack.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <optional>

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

// The XSAVE area's software-reserved bytes start with FP_XSTATE_MAGIC1 (0x46505853) at byte 464;
// its header (byte 512) has 48 reserved bytes after XSTATE_BV and XCOMP_BV that XSAVE writes as
// zeros. Both are constants, whatever the registers hold.
TEST(FrameMapMeasured, TheXsaveHeadersReservedBytesAreWrittenAsConstantZeros) {
  if (!read_xsave_features().supported) GTEST_SKIP() << "no XSAVE on this CPU";
  constexpr uint8_t kMagic[] = {0x53, 0x58, 0x50, 0x46};
  for (const auto& layout : measured_map().layouts) {
    std::optional<int32_t> magic;
    for (const auto& run : layout.written_constant) {
      auto it = std::search(run.values.begin(), run.values.end(), std::begin(kMagic), std::end(kMagic));
      if (it != run.values.end()) magic = run.begin + static_cast<int32_t>(it - run.values.begin());
    }
    ASSERT_TRUE(magic) << "FP_XSTATE_MAGIC1 not among the constant bytes";
    const int32_t reserved = *magic - 464 + 512 + 16;
    const SlotWrites writes = slot_writes(layout, reserved, reserved + 8);
    EXPECT_EQ(writes.varying, 0);
    EXPECT_EQ(writes.constant, 0xff);
    EXPECT_EQ(writes.constant_value, 0u);
    // The saved general-purpose registers (scrambled differently in every variant) vary.
    const int32_t low = -static_cast<int32_t>(layout.frame_bytes);
    EXPECT_NE(slot_writes(layout, low + 48, low + 56).varying, 0) << "sigcontext.r8";
  }
}

TEST(FrameMapMeasured, ConstantRunsAreWrittenBytes) {
  for (const auto& layout : measured_map().layouts)
    for (const auto& run : layout.written_constant)
      for (size_t k = 0; k < run.values.size(); ++k) {
        const int64_t at = run.begin + static_cast<int64_t>(k);
        EXPECT_EQ(byte_fate(layout, at, at + 1), ByteFate::Written) << at;
      }
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
