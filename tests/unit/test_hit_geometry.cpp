// The slot's fate from a byte map: a synthetic layout pins every edge; the map measured here
// checks that a hole inside the frame is "never" although the old size-only test says "inside".
#include <gtest/gtest.h>

#include "events.h"
#include "host/signal_frame.h"
#include "host/xsave_features.h"
#include "model/geometry.h"
#include "model/hit_geometry.h"

namespace ut::model {
namespace {

constexpr uint64_t kSp = 0x7ffd'0000'1000;  // SP - 128 is 64-aligned: layout top_align 0
constexpr uint8_t kHandler = UT_SIG_HANDLER | UT_SIG_SIGINFO;

host::FrameMap synthetic_map() {
  host::FrameLayout layout;
  layout.top_align = 0;
  layout.siginfo = true;
  layout.frame_bytes = 1000;
  layout.written = {{-1000, -600}, {-500, -64}};
  layout.written_if_vector_state = {{-600, -550}};
  return {{layout}};
}

uint64_t at(int64_t offset) { return kSp - kRedZoneBytes + static_cast<uint64_t>(offset); }

TEST(HitGeometry, EachByteRegion) {
  const auto map = synthetic_map();
  EXPECT_EQ(classify_slot_fate(kSp, at(-1000), kHandler, map).fate, SlotFate::Overwritten);
  EXPECT_EQ(classify_slot_fate(kSp, at(-72), kHandler, map).fate, SlotFate::Overwritten);
  EXPECT_EQ(classify_slot_fate(kSp, at(-600), kHandler, map).fate, SlotFate::IfVectorState);
  auto hole = classify_slot_fate(kSp, at(-550), kHandler, map);
  EXPECT_EQ(hole.fate, SlotFate::Never);
  EXPECT_STREQ(hole.why, "hole");
  // One byte of the slot in written bytes is enough.
  EXPECT_EQ(classify_slot_fate(kSp, at(-507), kHandler, map).fate, SlotFate::Overwritten);
  EXPECT_STREQ(classify_slot_fate(kSp, at(-64), kHandler, map).why, "hole");
}

TEST(HitGeometry, BelowTheFrameTheHandlerMustReachTheSlotsTopByte) {
  const auto map = synthetic_map();
  auto just_below = classify_slot_fate(kSp, at(-1008), kHandler, map);
  EXPECT_EQ(just_below.fate, SlotFate::IfHandlerStack);
  EXPECT_EQ(just_below.handler_bytes, 1u);
  EXPECT_EQ(classify_slot_fate(kSp, at(-2008), kHandler, map).handler_bytes, 1001u);
}

TEST(HitGeometry, FrameFreeVerdicts) {
  const auto map = synthetic_map();
  EXPECT_STREQ(classify_slot_fate(kSp, kSp + 8, kHandler, map).why, "above_sp");
  EXPECT_STREQ(classify_slot_fate(kSp, kSp - 64, kHandler, map).why, "red_zone");
  EXPECT_STREQ(classify_slot_fate(kSp, at(-800), UT_SIG_SIGINFO, map).why, "no_handler");
  const uint8_t altstack = kHandler | UT_SIG_ONSTACK | UT_SIG_ALTSTACK_SET;
  EXPECT_STREQ(classify_slot_fate(kSp, at(-800), altstack, map).why, "alt_stack");
  // No layout for a handler without SA_SIGINFO in this map.
  EXPECT_STREQ(classify_slot_fate(kSp, at(-800), UT_SIG_HANDLER, map).why, "no_layout");
}

TEST(HitGeometry, AHoleOfThisHostsFrameIsNeverAlthoughInsideTheFrame) {
  const auto map = host::measure_frame_map(host::read_xsave_features());
  const host::FrameLayout* layout = map.find(kSp - kRedZoneBytes, true);
  ASSERT_NE(layout, nullptr);
  // The widest gap of at least 8 bytes between written ranges, strictly inside the frame.
  std::optional<int32_t> hole;
  for (size_t i = 1; i < layout->written.size(); ++i)
    if (layout->written[i].begin - layout->written[i - 1].end >= 8) hole = layout->written[i - 1].end;
  ASSERT_TRUE(hole) << "this host's frame has no 8-byte hole";
  auto fate = classify_slot_fate(kSp, at(*hole), kHandler, map);
  if (fate.fate == SlotFate::IfVectorState) GTEST_SKIP() << "the gap is vector state here";
  EXPECT_EQ(fate.fate, SlotFate::Never);
  auto size_only = classify_slot(kSp, at(*hole), kHandler, map.size());
  ASSERT_TRUE(size_only);
  EXPECT_EQ(size_only->placement, SlotPlacement::Inside);
}

}  // namespace
}  // namespace ut::model
