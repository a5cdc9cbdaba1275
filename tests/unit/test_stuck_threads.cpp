// A thread an earlier window hit sent back into the routine (docs/model.md, "Stuck threads"): its
// return-address slot points into a traced routine. Found per thread from the hits in order, with
// the hits it took from then on counted apart from exposure.
#include <gtest/gtest.h>

#include <vector>

#include "model/join.h"
#include "synthetic_events.h"

namespace ut::model {
namespace {

using namespace ut::testing;

constexpr uint64_t kTargetSp = 0x7ffd'0000'8000;
constexpr uint64_t kDistance = 2400;
constexpr uint64_t kRoutineSize = 0x66;
constexpr uint64_t kOtherRoutineStart = 0x7f0000009000;

JoinOptions with_routines() {
  return {.routines = {{"_Ux86_64_setcontext", kRoutineStart, kRoutineStart + kRoutineSize, {}},
                       {"_ULx86_64_setcontext", kOtherRoutineStart, kOtherRoutineStart + kRoutineSize, {}}}};
}

ut_signal_event normal_hit(uint32_t tid, uint64_t ktime_ns) {
  return return_address_hit(tid, 1, kTargetSp, kDistance, ktime_ns);
}

ut_signal_event stuck_at(uint32_t tid, uint64_t ktime_ns) {
  return stuck_hit(tid, 1, kTargetSp, kDistance, ktime_ns);
}

const std::optional<StuckThread>& stuck_of(const Joiner& joiner, uint32_t tid) {
  return joiner.threads().at(tid).stuck_check.stuck;
}

TEST(StuckThreads, AReturnAddressIntoTheRoutineMeansStuck) {
  Joiner joiner(with_routines());
  joiner.add(normal_hit(7, 100));
  joiner.add(stuck_at(7, 200));

  const auto& stuck = stuck_of(joiner, 7);
  ASSERT_TRUE(stuck);
  EXPECT_EQ(stuck->since_ns, 200u);
  EXPECT_EQ(stuck->slot_value, kRoutineStart + 0x52);
  EXPECT_EQ(stuck->routine, 0u);
  EXPECT_EQ(stuck->offset, 0x52u);
  EXPECT_EQ(stuck->cause_ns, 100u) << "the return-address hit before it sent it back";
  EXPECT_EQ(stuck->hits, 1u);
  EXPECT_EQ(stuck->last_hit_ns, 200u);
}

TEST(StuckThreads, ANormalResumeTargetIsNotStuck) {
  Joiner joiner(with_routines());
  for (uint64_t t = 1; t <= 5; ++t) joiner.add(normal_hit(7, t));
  EXPECT_FALSE(stuck_of(joiner, 7));
  EXPECT_EQ(joiner.threads().at(7).stuck_check.last_return_hit_ns, 5u);
}

TEST(StuckThreads, RegisterReadsNeverMarkAThread) {
  Joiner joiner(with_routines());
  // A restored register may well hold an address inside the routine: it is not a return target.
  ut_signal_event rcx = register_hit(7, 1, kTargetSp, kDistance, 100);
  rcx.slot_value = kRoutineStart + 0x52;
  joiner.add(rcx);
  EXPECT_FALSE(stuck_of(joiner, 7));
}

TEST(StuckThreads, TheRoutinesEndIsOutside) {
  Joiner joiner(with_routines());
  ut_signal_event past_end = normal_hit(7, 100);
  past_end.slot_value = kRoutineStart + kRoutineSize;
  joiner.add(past_end);
  EXPECT_FALSE(stuck_of(joiner, 7));
  ut_signal_event last_byte = normal_hit(7, 200);
  last_byte.slot_value = kRoutineStart + kRoutineSize - 1;
  joiner.add(last_byte);
  EXPECT_TRUE(stuck_of(joiner, 7));
}

TEST(StuckThreads, EveryHitFromThenOnIsCountedAndNoneBefore) {
  Joiner joiner(with_routines());
  joiner.add(normal_hit(7, 100));
  joiner.add(register_hit(7, 1, kTargetSp, kDistance, 150));  // the loop, before it is seen
  joiner.add(stuck_at(7, 200));
  joiner.add(register_hit(7, 1, kTargetSp, kDistance, 300));
  joiner.add(stuck_at(7, 400));
  joiner.add(normal_hit(7, 500));  // a later frame may write another value: still the same thread
  joiner.add(routine_signal(7, 1, 0x3d));  // outside the window: not a hit

  const auto& stuck = stuck_of(joiner, 7);
  ASSERT_TRUE(stuck);
  EXPECT_EQ(stuck->since_ns, 200u) << "the first sighting stays";
  EXPECT_EQ(stuck->cause_ns, 100u);
  EXPECT_EQ(stuck->hits, 4u);
  EXPECT_EQ(stuck->last_hit_ns, 500u);
  EXPECT_EQ(joiner.threads().at(7).hits.total, 6u) << "the tally itself is unchanged";
}

TEST(StuckThreads, ThreadsAreKeptApart) {
  Joiner joiner(with_routines());
  joiner.add(normal_hit(7, 100));
  joiner.add(normal_hit(8, 150));
  joiner.add(stuck_at(8, 200));
  joiner.add(normal_hit(7, 250));
  joiner.add(stuck_at(8, 300));

  EXPECT_FALSE(stuck_of(joiner, 7));
  const auto& stuck = stuck_of(joiner, 8);
  ASSERT_TRUE(stuck);
  EXPECT_EQ(stuck->cause_ns, 150u) << "its own hit before, not thread 7's";
  EXPECT_EQ(stuck->hits, 2u);
}

TEST(StuckThreads, NamesTheRoutineTheSlotPointsInto) {
  Joiner joiner(with_routines());
  ut_signal_event hit = stuck_at(7, 100);
  hit.slot_value = kOtherRoutineStart + 0x30;
  joiner.add(hit);
  const auto& stuck = stuck_of(joiner, 7);
  ASSERT_TRUE(stuck);
  EXPECT_EQ(stuck->routine, 1u);
  EXPECT_EQ(stuck->offset, 0x30u);
  EXPECT_FALSE(stuck->cause_ns) << "no return-address hit seen before";
}

TEST(StuckThreads, WithoutRoutinesNothingIsFound) {
  Joiner joiner;
  joiner.add(stuck_at(7, 100));
  EXPECT_FALSE(stuck_of(joiner, 7));
}

}  // namespace
}  // namespace ut::model
