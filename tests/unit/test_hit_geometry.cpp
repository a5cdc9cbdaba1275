// The slot's fate from a byte map: a synthetic layout pins every edge; the map measured here
// checks that a hole inside the frame is "never" although the old size-only test says "inside".
#include <gtest/gtest.h>

#include "events.h"
#include "host/signal_frame.h"
#include "host/xsave_features.h"
#include "model/geometry.h"
#include "model/hit_geometry.h"
#include "model/resume_geometry.h"

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
  // [-200, -184): always written as zeros, then 0x11 0x22 (reserved words the kernel clears).
  layout.written_constant = {{-200, std::vector<uint8_t>(14, 0)}, {-186, {0x11, 0x22}}};
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

TEST(HitGeometry, BytesWrittenWithConstantsCorruptOnlyASlotHoldingSomethingElse) {
  const auto map = synthetic_map();
  auto zeros = classify_slot_fate(kSp, at(-200), kHandler, map);
  EXPECT_EQ(zeros.fate, SlotFate::IfValueDiffers);
  EXPECT_EQ(zeros.constant_bytes, 0xff);
  EXPECT_EQ(zeros.constant_value, 0u);
  EXPECT_FALSE(constant_write_changes(zeros, 0));
  EXPECT_TRUE(constant_write_changes(zeros, 0x100));
  // With the value known, the verdict is final.
  EXPECT_EQ(classify_slot_fate(kSp, at(-200), kHandler, map, 0).fate, SlotFate::Never);
  EXPECT_STREQ(classify_slot_fate(kSp, at(-200), kHandler, map, 0).why, "same_value");
  EXPECT_EQ(classify_slot_fate(kSp, at(-200), kHandler, map, 7).fate, SlotFate::Overwritten);
  // Bytes 6 and 7 of this slot are written 0x11 0x22.
  auto mixed = classify_slot_fate(kSp, at(-192), kHandler, map);
  EXPECT_EQ(mixed.fate, SlotFate::IfValueDiffers);
  EXPECT_EQ(mixed.constant_value, 0x2211'0000'0000'0000u);
  EXPECT_FALSE(constant_write_changes(mixed, 0x2211'0000'0000'0000u));
  EXPECT_TRUE(constant_write_changes(mixed, 0x2212'0000'0000'0000u));
  // One byte of varying data next to constants: overwritten whatever the slot held.
  EXPECT_EQ(classify_slot_fate(kSp, at(-180), kHandler, map).fate, SlotFate::Overwritten);
  EXPECT_EQ(classify_slot_fate(kSp, at(-204), kHandler, map, 0).fate, SlotFate::Overwritten);
}

// One resume shape puts the %rcx slot (ctx + 0x98) at [-200, -192): written as zeros. Of the
// slot values sampled from hits, 1 in 4 is not 0, so a quarter of the resumes count as overwritten.
TEST(ResumeGeometry, ConstantWritesWeighTheSampledSlotValues) {
  TracedRoutine routine;
  routine.window.window = {{0x5a, 7, analysis::ReadClass::Register, 0x98, "mov rcx, [rdi+0x98]"}};
  ResumeShapes shapes;
  const uint64_t target_sp = 0x7ffd'0000'1000;
  for (int i = 0; i < 8; ++i) shapes.add(0, target_sp, target_sp - (0x98 + 128 + 200));
  const auto map = synthetic_map();

  auto unknown = resume_fates(shapes, {routine}, kHandler, map);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].resumes[static_cast<size_t>(SlotFate::IfValueDiffers)], 8u);
  EXPECT_FALSE(unknown[0].value_differs_resumes);
  EXPECT_EQ(unknown[0].p_overwritten(), 0);  // unknown values: possible, not certain
  EXPECT_EQ(unknown[0].p_possible(), 1);

  SlotValueSample sample;
  for (uint64_t value : {0, 0, 0, 0x1234}) sample.add(0, 0x5a, value);
  auto known = resume_fates(shapes, {routine}, kHandler, map, sample);
  ASSERT_TRUE(known[0].value_differs_resumes);
  EXPECT_DOUBLE_EQ(*known[0].value_differs_resumes, 2.0);
  EXPECT_EQ(known[0].sampled_values, 4u);
  EXPECT_DOUBLE_EQ(known[0].p_overwritten(), 0.25);
  EXPECT_EQ(known[0].p_possible(), 1);
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
