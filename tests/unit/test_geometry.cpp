// Where the stale slot lies relative to the signal frame, at the exact edges, with the frame
// sizes BACKGROUND.md measured on the AMD and Intel hosts.
#include <gtest/gtest.h>

#include "events.h"
#include "model/geometry.h"

namespace ut::model {
namespace {

constexpr uint64_t kSp = 0x7ffd'0000'1000;
constexpr uint8_t kHandler = UT_SIG_HANDLER | UT_SIG_SIGINFO;
constexpr int32_t kRipDisp = 0xa8;  // setcontext reads the return address at ucontext+0xa8

// BACKGROUND.md quotes frames as bytes below the interrupted SP, red zone included.
FrameSize frame_quoted_below_sp(uint32_t min_bytes, uint32_t max_bytes) {
  return {min_bytes - static_cast<uint32_t>(kRedZoneBytes),
          max_bytes - static_cast<uint32_t>(kRedZoneBytes)};
}
const FrameSize kAmdFrame = frame_quoted_below_sp(3024, 3080);
const FrameSize kIntelFrame = frame_quoted_below_sp(3408, 3464);

// The slot whose highest byte is the `reach`-th byte below SP-128.
uint64_t slot_reached_at(uint64_t reach) { return kSp - kRedZoneBytes - (kSlotBytes - 1) - reach; }

SlotPlacement placement(uint64_t slot, uint8_t flags, std::optional<FrameSize> frame) {
  const auto verdict = classify_slot(kSp, slot, flags, frame);
  EXPECT_TRUE(verdict.has_value());
  return verdict ? verdict->placement : SlotPlacement::AboveSp;
}

TEST(Geometry, InsideUpToTheSmallestFrameExactly) {
  const auto verdict =
      classify_slot(kSp, slot_reached_at(kAmdFrame.min_bytes), kHandler, kAmdFrame);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->placement, SlotPlacement::Inside);
  EXPECT_EQ(verdict->reach_bytes, kAmdFrame.min_bytes);
  EXPECT_EQ(verdict->handler_bytes, 0u);
}

TEST(Geometry, EdgeFromOneByteBeyondTheSmallestFrameToTheLargest) {
  EXPECT_EQ(placement(slot_reached_at(kAmdFrame.min_bytes + 1), kHandler, kAmdFrame),
            SlotPlacement::Edge);
  EXPECT_EQ(placement(slot_reached_at(kAmdFrame.max_bytes), kHandler, kAmdFrame),
            SlotPlacement::Edge);
}

TEST(Geometry, BelowTheLargestFrameNamesTheHandlerStackNeeded) {
  const auto one_beyond =
      classify_slot(kSp, slot_reached_at(kAmdFrame.max_bytes + 1), kHandler, kAmdFrame);
  ASSERT_TRUE(one_beyond);
  EXPECT_EQ(one_beyond->placement, SlotPlacement::BelowFrame);
  EXPECT_EQ(one_beyond->handler_bytes, 1u);

  const auto kib_beyond =
      classify_slot(kSp, slot_reached_at(kAmdFrame.max_bytes + 1024), kHandler, kAmdFrame);
  ASSERT_TRUE(kib_beyond);
  EXPECT_EQ(kib_beyond->handler_bytes, 1024u);
}

TEST(Geometry, RedZoneIsNeverWritten) {
  EXPECT_EQ(placement(kSp - 8, kHandler, kAmdFrame), SlotPlacement::RedZone);
  EXPECT_EQ(placement(kSp - kRedZoneBytes, kHandler, kAmdFrame), SlotPlacement::RedZone);
}

TEST(Geometry, SlotStraddlingTheRedZoneBoundaryIsTouchedByAnyFrame) {
  const auto verdict = classify_slot(kSp, kSp - kRedZoneBytes - 1, kHandler, FrameSize{1, 1});
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->placement, SlotPlacement::Inside);
  EXPECT_EQ(verdict->reach_bytes, 1u);
}

TEST(Geometry, AtOrAboveSpIsNotStale) {
  EXPECT_EQ(placement(kSp, kHandler, kAmdFrame), SlotPlacement::AboveSp);
  EXPECT_EQ(placement(kSp + 0x40, kHandler, std::nullopt), SlotPlacement::AboveSp);
}

TEST(Geometry, AlternateStackTakesTheFrameUnlessAlreadyOnIt) {
  const uint64_t inside = slot_reached_at(100);
  const uint8_t onstack = kHandler | UT_SIG_ONSTACK | UT_SIG_ALTSTACK_SET;
  EXPECT_EQ(placement(inside, onstack, kAmdFrame), SlotPlacement::AltStack);
  EXPECT_EQ(placement(inside, onstack, std::nullopt), SlotPlacement::AltStack);
  EXPECT_EQ(placement(inside, onstack | UT_SIG_ON_ALTSTACK, kAmdFrame), SlotPlacement::Inside);
  EXPECT_EQ(placement(inside, kHandler | UT_SIG_ONSTACK, kAmdFrame), SlotPlacement::Inside)
      << "SA_ONSTACK without a sigaltstack uses the current stack";
  EXPECT_EQ(placement(inside, kHandler | UT_SIG_ALTSTACK_SET, kAmdFrame), SlotPlacement::Inside)
      << "a sigaltstack is only used by handlers installed with SA_ONSTACK";
}

TEST(Geometry, NoHandlerMeansNoFrame) {
  EXPECT_EQ(placement(slot_reached_at(100), 0, kAmdFrame), SlotPlacement::NoFrame);
}

TEST(Geometry, UnmeasuredFrameLeavesOnlyFrameDependentCasesOpen) {
  EXPECT_FALSE(classify_slot(kSp, slot_reached_at(100), kHandler, std::nullopt));
  EXPECT_EQ(placement(kSp - 16, kHandler, std::nullopt), SlotPlacement::RedZone);
}

// Intel host, hit at +0x52 (SP = target SP): the return-address slot is D - 0xa8 below SP.
SlotPlacement intel_return_address_slot(uint64_t distance) {
  return placement(kSp - distance + kRipDisp, kHandler, kIntelFrame);
}

TEST(Geometry, IntelDistancesThatCrashedWithAnEmptyHandler) {
  EXPECT_EQ(intel_return_address_slot(2384), SlotPlacement::Inside);
  EXPECT_EQ(intel_return_address_slot(3152), SlotPlacement::Inside);
  EXPECT_EQ(intel_return_address_slot(3408), SlotPlacement::Inside);
  // 3,600 reaches past the smallest frame: the empty handler's own stack use did the rest.
  EXPECT_EQ(intel_return_address_slot(3600), SlotPlacement::Edge);
}

TEST(Geometry, IntelDistance2096IsInsideTheSpanThoughItsBytesWereNotWritten) {
  // Measured harmless: the slot fell in a part of the XSAVE area the kernel skips (the MPX
  // region on a CPU without MPX). A span cannot express such holes, so this stays a worst case.
  EXPECT_EQ(intel_return_address_slot(2096), SlotPlacement::Inside);
}

TEST(Geometry, AmdFrameIsSmallerThanIntels) {
  // The same slot depth can be inside Intel's frame and below AMD's.
  const uint64_t slot = slot_reached_at(kAmdFrame.max_bytes + 100);
  EXPECT_EQ(placement(slot, kHandler, kAmdFrame), SlotPlacement::BelowFrame);
  EXPECT_EQ(placement(slot, kHandler, kIntelFrame), SlotPlacement::Inside);
}

TEST(Geometry, PlacementNames) {
  EXPECT_STREQ(to_string(SlotPlacement::Inside), "inside");
  EXPECT_STREQ(to_string(SlotPlacement::BelowFrame), "below_frame");
  EXPECT_STREQ(to_string(SlotPlacement::AltStack), "alt_stack");
}

}  // namespace
}  // namespace ut::model
