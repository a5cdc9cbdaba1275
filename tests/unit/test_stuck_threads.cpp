// A thread an earlier window hit sent back into the routine (docs/model.md, "Stuck threads"): its
// return-address slot points into a traced routine, or its window runs again within one resume.
// Found per thread from the hits in order, with the hits it took from then on counted apart.
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
  return joiner.threads().at(tid).stuck_check.stuck();
}

TEST(StuckThreads, AReturnAddressIntoTheRoutineMeansStuck) {
  Joiner joiner(with_routines());
  joiner.add(normal_hit(7, 100));
  joiner.add(stuck_at(7, 200));

  const auto& stuck = stuck_of(joiner, 7);
  ASSERT_TRUE(stuck);
  EXPECT_EQ(stuck->mark, StuckMark::ReturnIntoRoutine);
  EXPECT_EQ(stuck->since_ns, 200u);
  EXPECT_EQ(stuck->offset, 0x52u);
  ASSERT_TRUE(stuck->returns_to);
  EXPECT_EQ(stuck->returns_to->address, kRoutineStart + 0x52);
  EXPECT_EQ(stuck->returns_to->routine, 0u);
  EXPECT_EQ(stuck->returns_to->offset, 0x52u);
  EXPECT_EQ(stuck->cause_ns, 100u) << "the return-address hit before it sent it back";
  EXPECT_EQ(stuck->hits, 1u);
  EXPECT_EQ(stuck->last_hit_ns, 200u);
}

TEST(StuckThreads, ANormalResumeTargetIsNotStuck) {
  Joiner joiner(with_routines());
  // One return-address hit per resume, as a thread that resumes normally takes them.
  for (uint64_t seq = 1; seq <= 5; ++seq) joiner.add(return_address_hit(7, seq, kTargetSp, kDistance, seq));
  EXPECT_FALSE(stuck_of(joiner, 7));
}

TEST(StuckThreads, RegisterReadsNeverMarkAThread) {
  Joiner joiner(with_routines());
  // A restored register may well hold an address inside the routine: it is not a return target.
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    ut_signal_event rcx = register_hit(7, seq, kTargetSp, kDistance, seq);
    rcx.slot_value = kRoutineStart + 0x52;
    joiner.add(rcx);
  }
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
  ASSERT_TRUE(stuck->returns_to);
  EXPECT_EQ(stuck->returns_to->routine, 1u);
  EXPECT_EQ(stuck->returns_to->offset, 0x30u);
  EXPECT_EQ(stuck->routine, 0u) << "the hit itself was in routine 0";
  EXPECT_FALSE(stuck->cause_ns) << "no return-address hit seen before";
}

// Signals rarely land right after the loop's `ret`, at the return-address read: most of a stuck
// thread's hits are at the register reads after `push %rcx`, all of one resume.
ut_signal_event loop_hit(uint32_t tid, uint32_t offset, uint64_t ktime_ns, uint64_t seq = 1) {
  ut_signal_event e = register_hit(tid, seq, kTargetSp, kDistance, ktime_ns);
  e.routine_offset = offset;
  e.ip = kRoutineStart + offset;
  return e;
}

TEST(StuckThreads, TheWindowRunningAgainWithinOneResumeMeansStuck) {
  Joiner joiner(with_routines());
  joiner.add(normal_hit(7, 100));      // resume 1, at +0x52: the cause
  joiner.add(loop_hit(7, 0x59, 150));  // +0x59 of the same pass: nothing wrong yet
  joiner.add(loop_hit(7, 0x59, 160));  // the same instruction again: two signals back to back can do that
  joiner.add(loop_hit(7, 0x5a, 170));
  EXPECT_FALSE(stuck_of(joiner, 7));
  joiner.add(loop_hit(7, 0x59, 180));  // back before +0x5a without a new resume

  const auto& stuck = stuck_of(joiner, 7);
  ASSERT_TRUE(stuck);
  EXPECT_EQ(stuck->mark, StuckMark::WindowAgain);
  EXPECT_EQ(stuck->since_ns, 180u);
  EXPECT_EQ(stuck->offset, 0x59u);
  EXPECT_EQ(stuck->cause_ns, 100u);
  EXPECT_FALSE(stuck->returns_to) << "no return-address hit showed where it returns to yet";

  joiner.add(stuck_at(7, 190));  // a later hit at +0x52 shows it
  ASSERT_TRUE(stuck->returns_to);
  EXPECT_EQ(stuck->returns_to->offset, 0x52u);
  EXPECT_EQ(stuck->mark, StuckMark::WindowAgain) << "the first mark stays";
  EXPECT_EQ(stuck->hits, 2u);
}

TEST(StuckThreads, AnEarlierInstructionOfANewResumeIsNotTheWindowAgain) {
  Joiner joiner(with_routines());
  joiner.add(loop_hit(7, 0x5a, 100, 1));
  joiner.add(loop_hit(7, 0x59, 200, 2));
  joiner.add(return_address_hit(7, 3, kTargetSp, kDistance, 300));
  EXPECT_FALSE(stuck_of(joiner, 7));
}

TEST(StuckThreads, WithoutTracedResumesOnlyTheReturnTargetTells) {
  Joiner joiner(with_routines());
  auto untraced = [](ut_signal_event e) {
    e.resume_off = 1;
    e.resume_seq = 0;
    return e;
  };
  joiner.add(untraced(loop_hit(7, 0x5a, 100)));
  joiner.add(untraced(loop_hit(7, 0x59, 200)));
  EXPECT_FALSE(stuck_of(joiner, 7)) << "two passes or one: unknown without resumes";
  joiner.add(untraced(stuck_at(7, 300)));
  ASSERT_TRUE(stuck_of(joiner, 7));
  EXPECT_EQ(stuck_of(joiner, 7)->mark, StuckMark::ReturnIntoRoutine);
}

// The loop's own `ret`, at +0x65: where a stuck thread's signals land when not in the window.
constexpr uint64_t kRetOffset = 0x65;

JoinOptions with_the_ret() {
  JoinOptions options = with_routines();
  options.routines[0].ret_addrs = {kRoutineStart + kRetOffset};
  return options;
}

ut_signal_event untraced(ut_signal_event e) {
  e.resume_off = 1;
  e.resume_seq = 0;
  return e;
}

// The loop after the hit at `cause_ns` (a return-address hit that wrote +0x52 over the slot, as
// its slot read before the frame still shows a real target): `signals` interrupt-delivered
// signals, one every ms, cycling through +0x59, +0x5a, +0x61 (window hits) and the `ret`.
// Returns how many of them were window hits.
uint64_t loop_without_resumes(Joiner& joiner, uint32_t tid, uint64_t cause_ns, uint32_t signals) {
  joiner.add(untraced(normal_hit(tid, cause_ns)));
  constexpr uint32_t kCycle[] = {0x59, 0x5a, 0x61, kRetOffset};
  uint64_t hits = 0;
  for (uint32_t i = 1; i < signals; ++i) {
    const uint32_t offset = kCycle[(i - 1) % 4];
    const uint64_t t = cause_ns + i * 1'000'000;
    if (offset == kRetOffset) {
      ut_signal_event ret = untraced(routine_signal(tid, 0, offset));
      ret.hdr.ktime_ns = t;
      joiner.add(ret);
    } else {
      joiner.add(untraced(loop_hit(tid, offset, t)));
      ++hits;
    }
  }
  return hits;
}

TEST(StuckThreads, ALoopStreakMeansStuckWithoutTracedResumes) {
  Joiner joiner(with_the_ret());
  const uint64_t loop_hits = loop_without_resumes(joiner, 7, 1'000, StuckCheck::kLoopSignals);

  const auto& stuck = stuck_of(joiner, 7);
  ASSERT_TRUE(stuck) << "sampled mode's off-periods and signal-only mode find the loop too";
  EXPECT_EQ(stuck->mark, StuckMark::LoopStreak);
  EXPECT_EQ(stuck->cause_ns, 1'000u) << "the return-address hit it started at";
  EXPECT_EQ(stuck->since_ns, 1'001'000u) << "its first signal after that hit";
  EXPECT_EQ(stuck->offset, 0x59u);
  EXPECT_EQ(stuck->hits, loop_hits) << "the streak's window hits are the loop's, the cause's is not";
  EXPECT_FALSE(stuck->returns_to) << "no hit at +0x52 after the cause showed where it returns to";

  joiner.add(untraced(stuck_at(7, 100'000'000)));
  ASSERT_TRUE(stuck->returns_to);
  EXPECT_EQ(stuck->returns_to->offset, 0x52u);
  EXPECT_EQ(stuck->mark, StuckMark::LoopStreak) << "the first mark stays";
  EXPECT_EQ(stuck->hits, loop_hits + 1);
}

TEST(StuckThreads, OneSignalShortOfTheStreakOrOneOutsideTheLoopIsNotStuck) {
  Joiner joiner(with_the_ret());
  loop_without_resumes(joiner, 7, 1'000, StuckCheck::kLoopSignals - 1);
  EXPECT_FALSE(stuck_of(joiner, 7));
  joiner.add(untraced(routine_signal(7, 0, 0x3d)));  // before the window: the thread got out
  loop_without_resumes(joiner, 7, 100'000'000, StuckCheck::kLoopSignals - 1);
  EXPECT_FALSE(stuck_of(joiner, 7)) << "the streak started again";
}

TEST(StuckThreads, TheRetCountsOnlyWhenTheRoutineNamesIt) {
  Joiner joiner(with_routines());  // no ret addresses: +0x65 is just a signal in the routine
  loop_without_resumes(joiner, 7, 1'000, 2 * StuckCheck::kLoopSignals);
  EXPECT_FALSE(stuck_of(joiner, 7));
}

TEST(StuckThreads, SignalsAtASyscallReturnNeitherExtendNorBreakTheStreak) {
  Joiner joiner(with_the_ret());
  // rt_sigreturn's deliveries land where the last handled signal did: here, outside the loop.
  for (uint64_t i = 0; i < 3 * StuckCheck::kLoopSignals; ++i)
    joiner.add(untraced(routine_signal(7, 0, 0x3d, UT_DELIVERY_SYSCALL)));
  loop_without_resumes(joiner, 7, 1'000, StuckCheck::kLoopSignals - 1);
  joiner.add(untraced(routine_signal(7, 0, 0x3d, UT_DELIVERY_SYSCALL)));
  EXPECT_FALSE(stuck_of(joiner, 7));
  ut_signal_event again = untraced(loop_hit(7, 0x5a, 900'000'000));
  again.delivery = UT_DELIVERY_SYSCALL;
  joiner.add(again);
  EXPECT_FALSE(stuck_of(joiner, 7)) << "not a new sample of where the thread was";
  joiner.add(untraced(loop_hit(7, 0x61, 901'000'000)));
  ASSERT_TRUE(stuck_of(joiner, 7));
  EXPECT_EQ(stuck_of(joiner, 7)->mark, StuckMark::LoopStreak);
}

TEST(StuckThreads, ANewResumeBreaksTheStreak) {
  Joiner joiner(with_the_ret());
  // Window hits back to back, each of its own traced resume: a thread that resumes, however
  // unlikely the signals.
  for (uint64_t seq = 1; seq <= 2 * StuckCheck::kLoopSignals; ++seq)
    joiner.add(loop_hit(7, 0x5a, seq * 1'000, seq));
  EXPECT_FALSE(stuck_of(joiner, 7));
}

TEST(StuckThreads, WithoutRoutinesNothingIsFound) {
  Joiner joiner;
  joiner.add(stuck_at(7, 100));
  EXPECT_FALSE(stuck_of(joiner, 7));
}

}  // namespace
}  // namespace ut::model
