// The join must be exact (by tid and resume seq) whatever the arrival order, tell why a resume
// is missing, and keep its aggregates right.
#include <gtest/gtest.h>

#include <vector>

#include "model/join.h"
#include "synthetic_events.h"

namespace ut::model {
namespace {

using namespace ut::testing;

constexpr uint64_t kTargetSp = 0x7ffd'0000'8000;

// Each resume of a thread gets its own ucontext, `distance` (+16 per seq) below the target SP.
uint64_t ctx_of(uint64_t seq, int64_t distance = 2384) { return kTargetSp - distance - seq * 16; }

void add_resumes(Joiner& joiner, uint32_t tid, uint64_t first, uint64_t last) {
  for (uint64_t seq = first; seq <= last; ++seq)
    joiner.add(resume_event(tid, seq, ctx_of(seq), kTargetSp));
}

struct Recorder {
  std::vector<JoinedSignal> hits;
  JoinOptions options(JoinOptions base = {}) {
    base.on_hit = [this](const JoinedSignal& hit) { hits.push_back(hit); };
    return base;
  }
};

ut_signal_event hit_of(uint32_t tid, uint64_t seq, int64_t distance = 2384) {
  return return_address_hit(tid, seq, kTargetSp, kTargetSp - ctx_of(seq, distance));
}

TEST(Join, MatchesSignalToTheResumeWithItsSeq) {
  Recorder rec;
  Joiner joiner(rec.options());
  add_resumes(joiner, 7, 1, 3);
  joiner.add(hit_of(7, 2));

  ASSERT_EQ(rec.hits.size(), 1u);
  const JoinedSignal& hit = rec.hits[0];
  ASSERT_TRUE(hit.resume);
  EXPECT_EQ(hit.resume->seq, 2u);
  EXPECT_EQ(hit.resume->ctx, ctx_of(2));
  EXPECT_EQ(hit.resume->target_ip, 0x401002u);
  EXPECT_FALSE(hit.resume_missing);
  EXPECT_EQ(hit.distance, static_cast<int64_t>(kTargetSp - ctx_of(2)));
  EXPECT_EQ(hit.window_class, analysis::ReadClass::ReturnAddress);
  EXPECT_EQ(hit.offset, 0x52u);
}

TEST(Join, SignalArrivingBeforeItsResumeWaitsForIt) {
  Recorder rec;
  Joiner joiner(rec.options());
  add_resumes(joiner, 7, 1, 4);
  joiner.add(hit_of(7, 5));
  EXPECT_TRUE(rec.hits.empty()) << "joined before its resume arrived";

  add_resumes(joiner, 7, 5, 5);
  ASSERT_EQ(rec.hits.size(), 1u);
  ASSERT_TRUE(rec.hits[0].resume);
  EXPECT_EQ(rec.hits[0].resume->seq, 5u);
  EXPECT_EQ(joiner.threads().at(7).resume_seq_gaps(), 0u);
}

TEST(Join, InterleavedThreadsJoinOnlyWithinTheirOwnThread) {
  Recorder rec;
  Joiner joiner(rec.options());
  joiner.add(resume_event(1, 1, 0x1000, 0x2000));
  joiner.add(resume_event(2, 1, 0x5000, 0x7000));
  joiner.add(return_address_hit(2, 1, 0x7000, 0x2000));
  joiner.add(return_address_hit(1, 1, 0x2000, 0x1000));
  joiner.add(resume_event(2, 2, 0x5100, 0x7000));

  ASSERT_EQ(rec.hits.size(), 2u);
  EXPECT_EQ(rec.hits[0].tid, 2u);
  EXPECT_EQ(rec.hits[0].resume->ctx, 0x5000u);
  EXPECT_EQ(rec.hits[0].distance, 0x2000);
  EXPECT_EQ(rec.hits[1].tid, 1u);
  EXPECT_EQ(rec.hits[1].resume->ctx, 0x1000u);
  EXPECT_EQ(rec.hits[1].distance, 0x1000);
  EXPECT_EQ(joiner.threads().at(1).resume_events, 1u);
  EXPECT_EQ(joiner.threads().at(2).resume_events, 2u);
}

TEST(Join, SeqGapsCountLostResumesAndResolveTheirSignals) {
  Recorder rec;
  Joiner joiner(rec.options());
  add_resumes(joiner, 7, 1, 2);
  joiner.add(hit_of(7, 3));      // waits: seq 3 not seen yet
  add_resumes(joiner, 7, 5, 5);  // 3 and 4 were lost
  ASSERT_EQ(rec.hits.size(), 1u);
  EXPECT_EQ(rec.hits[0].resume_missing, MissingResume::Lost);
  EXPECT_FALSE(rec.hits[0].resume);

  joiner.add(hit_of(7, 4));  // arrives after the gap is known
  ASSERT_EQ(rec.hits.size(), 2u);
  EXPECT_EQ(rec.hits[1].resume_missing, MissingResume::Lost);

  const ThreadTally& tally = joiner.threads().at(7);
  EXPECT_EQ(tally.resume_events, 3u);
  EXPECT_EQ(tally.max_resume_seq, 5u);
  EXPECT_EQ(tally.resume_seq_gaps(), 2u);
  EXPECT_EQ(tally.resume_missing[static_cast<size_t>(MissingResume::Lost)], 2u);
}

TEST(Join, LostResumeStillGivesDistanceFromTheSignal) {
  Recorder rec;
  Joiner joiner(rec.options());
  add_resumes(joiner, 7, 2, 2);  // seq 1 lost
  joiner.add(return_address_hit(7, 1, kTargetSp, 2096));
  ASSERT_EQ(rec.hits.size(), 1u);
  EXPECT_EQ(rec.hits[0].resume_missing, MissingResume::Lost);
  EXPECT_EQ(rec.hits[0].distance, 2096);
}

TEST(Join, ResumesOlderThanTheRingExpireUnlessTheyWereLost) {
  Recorder rec;
  Joiner joiner(rec.options({.resume_ring = 4}));
  add_resumes(joiner, 7, 1, 2);
  add_resumes(joiner, 7, 5, 20);  // 3 and 4 lost; the ring keeps 17..20
  joiner.add(hit_of(7, 2));
  joiner.add(hit_of(7, 3));
  joiner.add(hit_of(7, 16));
  joiner.add(hit_of(7, 17));

  ASSERT_EQ(rec.hits.size(), 4u);
  EXPECT_EQ(rec.hits[0].resume_missing, MissingResume::Expired);
  EXPECT_EQ(rec.hits[1].resume_missing, MissingResume::Lost);
  EXPECT_EQ(rec.hits[2].resume_missing, MissingResume::Expired);
  ASSERT_TRUE(rec.hits[3].resume) << "the oldest resume still in the ring";
  EXPECT_EQ(rec.hits[3].resume->seq, 17u);
}

TEST(Join, SignalsStillWaitingAtFinishAreNotSeen) {
  Recorder rec;
  Joiner joiner(rec.options());
  add_resumes(joiner, 7, 1, 1);
  joiner.add(register_hit(7, 2, kTargetSp, 3000));
  EXPECT_TRUE(rec.hits.empty());

  joiner.finish();
  ASSERT_EQ(rec.hits.size(), 1u);
  EXPECT_EQ(rec.hits[0].resume_missing, MissingResume::NotSeen);
  // From the signal side: after `push %rcx` SP is 8 below the target SP.
  EXPECT_EQ(rec.hits[0].distance, 3000 - 8);
  EXPECT_EQ(joiner.kept_hits().size(), 1u);
}

TEST(Join, WaitingSignalsAreBoundedPerThread) {
  Recorder rec;
  Joiner joiner(rec.options({.max_waiting_signals = 2}));
  joiner.add(hit_of(7, 10));
  joiner.add(hit_of(7, 11));
  EXPECT_TRUE(rec.hits.empty());
  joiner.add(hit_of(7, 12));  // one too many: the oldest gives up
  ASSERT_EQ(rec.hits.size(), 1u);
  EXPECT_EQ(rec.hits[0].resume_seq, 10u);
  EXPECT_EQ(rec.hits[0].resume_missing, MissingResume::NotSeen);

  add_resumes(joiner, 7, 11, 12);
  ASSERT_EQ(rec.hits.size(), 3u);
  EXPECT_EQ(rec.hits[1].resume->seq, 11u);
  EXPECT_EQ(rec.hits[2].resume->seq, 12u);
}

TEST(Join, EntryThatBypassedTheResumeProbeIsUnprobed) {
  Recorder rec;
  Joiner joiner(rec.options());
  joiner.add(return_address_hit(7, 0, kTargetSp, 2384));  // no resume counted yet
  add_resumes(joiner, 7, 1, 1);
  // The resume at seq 1 has another ucontext: this window was entered without a resume event.
  joiner.add(return_address_hit(7, 1, kTargetSp, 1000));

  ASSERT_EQ(rec.hits.size(), 2u);
  EXPECT_EQ(rec.hits[0].resume_missing, MissingResume::Unprobed);
  EXPECT_EQ(rec.hits[1].resume_missing, MissingResume::Unprobed);
  EXPECT_EQ(rec.hits[1].distance, 1000);
}

TEST(Join, SignalWhileResumesWereNotTracedIsUntracedAndKeepsItsOwnDistance) {
  Recorder rec;
  Joiner joiner(rec.options());
  ut_signal_event hit = return_address_hit(7, 0, kTargetSp, 2384);
  hit.resume_off = 1;  // signal-only mode, or sampled mode's off-time
  joiner.add(hit);

  ASSERT_EQ(rec.hits.size(), 1u) << "joined at once, not waiting for a resume";
  EXPECT_EQ(rec.hits[0].resume_missing, MissingResume::Untraced);
  EXPECT_EQ(rec.hits[0].distance, 2384);
  EXPECT_EQ(joiner.threads().at(7).resume_missing[static_cast<size_t>(MissingResume::Untraced)], 1u);
}

TEST(Join, OnlyWindowHitsAreCalledBackButEverySignalIsCounted) {
  Recorder rec;
  Joiner joiner(rec.options());
  add_resumes(joiner, 7, 1, 1);
  joiner.add(routine_signal(7, 1, 0x10));
  joiner.add(routine_signal(7, 1, 0x10, UT_DELIVERY_SYSCALL));
  joiner.add(routine_signal(7, 1, 0x4b));
  joiner.add(hit_of(7, 1));
  joiner.add(register_hit(7, 1, kTargetSp, kTargetSp - ctx_of(1)));

  EXPECT_EQ(rec.hits.size(), 2u);
  const auto& offsets = joiner.routine_offsets();
  EXPECT_EQ(offsets.at({0, 0x10})[UT_DELIVERY_INTERRUPT], 1u);
  EXPECT_EQ(offsets.at({0, 0x10})[UT_DELIVERY_SYSCALL], 1u);
  EXPECT_EQ(offsets.at({0, 0x4b})[UT_DELIVERY_INTERRUPT], 1u);
  EXPECT_EQ(offsets.at({0, 0x52})[UT_DELIVERY_INTERRUPT], 1u);
  EXPECT_EQ(offsets.at({0, 0x5a})[UT_DELIVERY_INTERRUPT], 1u);

  const ThreadTally& tally = joiner.threads().at(7);
  EXPECT_EQ(tally.routine_signals[UT_DELIVERY_INTERRUPT], 4u);
  EXPECT_EQ(tally.routine_signals[UT_DELIVERY_SYSCALL], 1u);
  EXPECT_EQ(tally.hits.total, 2u);
  EXPECT_EQ(tally.hits.return_address, 1u);
  EXPECT_EQ(tally.hits.register_read, 1u);
}

TEST(Join, HitsGetTheirSlotGeometryFromTheMeasuredFrame) {
  Recorder rec;
  Joiner joiner(rec.options({.frame = FrameSize{2896, 2952}}));
  add_resumes(joiner, 7, 1, 1);
  joiner.add(hit_of(7, 1));
  ASSERT_EQ(rec.hits.size(), 1u);
  ASSERT_TRUE(rec.hits[0].geometry);
  EXPECT_EQ(rec.hits[0].geometry->placement, SlotPlacement::Inside);
  EXPECT_EQ(joiner.hits().by_placement[static_cast<size_t>(SlotPlacement::Inside)], 1u);

  Recorder unmeasured;
  Joiner blind(unmeasured.options());
  blind.add(hit_of(7, 1));
  blind.finish();
  EXPECT_FALSE(unmeasured.hits.at(0).geometry);
  EXPECT_EQ(blind.hits().geometry_unknown, 1u);
}

TEST(Join, KeptHitsAreBoundedButAllAreCountedAndCalledBack) {
  Recorder rec;
  Joiner joiner(rec.options({.max_kept_hits = 1}));
  add_resumes(joiner, 7, 1, 3);
  for (uint64_t seq = 1; seq <= 3; ++seq) joiner.add(hit_of(7, seq));
  EXPECT_EQ(rec.hits.size(), 3u);
  EXPECT_EQ(joiner.kept_hits().size(), 1u);
  EXPECT_EQ(joiner.hits().total, 3u);
}

TEST(Join, DistanceDistributionOfResumes) {
  Joiner joiner;
  const uint64_t sp = 0x7ffd'0000'0000;
  uint64_t seq = 0;
  for (int64_t d : {2096, 2384, 2384, 2390, 3152}) joiner.add(resume_event(1, ++seq, sp - d, sp));
  joiner.add(resume_event(2, 1, sp + 8, sp));  // a context above the target SP

  const DistanceHistogram d = joiner.distance();
  EXPECT_EQ(d.count(), 6u);
  EXPECT_EQ(d.min(), -8);
  EXPECT_EQ(d.max(), 3152);
  EXPECT_EQ(d.median_bucket(), 2368);  // lower median 2,384 lies in [2368, 2432)
  EXPECT_EQ(d.buckets().at(-64), 1u);
  EXPECT_EQ(d.buckets().at(2368), 3u);
  EXPECT_EQ(d.buckets(1024).at(2048), 4u);
  EXPECT_EQ(joiner.threads().at(1).distance.count(), 5u);
}

TEST(Join, EmptyDistanceHasNoSummary) {
  const DistanceHistogram empty;
  EXPECT_FALSE(empty.min());
  EXPECT_FALSE(empty.median_bucket());
}

TEST(Join, RejectsEventsAfterFinishAndUnknownWireValues) {
  Joiner joiner;
  ut_signal_event bad = hit_of(7, 1);
  bad.delivery = 7;
  EXPECT_THROW(joiner.add(bad), std::invalid_argument);
  bad = hit_of(7, 1);
  bad.window_class = 9;
  EXPECT_THROW(joiner.add(bad), std::invalid_argument);

  joiner.finish();
  EXPECT_THROW(joiner.add(resume_event(7, 1, 0x1000, 0x2000)), std::logic_error);
}

}  // namespace
}  // namespace ut::model
