// The join takes each signal's resume from its event (the kernel matched it), must tell why a
// resume is missing, and keep its aggregates right; every resume's D comes from the shape counts.
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

TEST(Join, HitTakesTheResumeItsEventCarries) {
  Recorder rec;
  Joiner joiner(rec.options());
  joiner.add(hit_of(7, 2));

  ASSERT_EQ(rec.hits.size(), 1u);
  const JoinedSignal& hit = rec.hits[0];
  ASSERT_TRUE(hit.resume);
  EXPECT_EQ(hit.resume->seq, 2u);
  EXPECT_EQ(hit.resume->ctx, ctx_of(2));
  EXPECT_EQ(hit.resume->target_sp, kTargetSp);
  EXPECT_EQ(hit.resume->target_ip, target_ip_of(2));
  EXPECT_FALSE(hit.resume_missing);
  EXPECT_EQ(hit.distance, static_cast<int64_t>(kTargetSp - ctx_of(2)));
  EXPECT_EQ(hit.window_class, analysis::ReadClass::ReturnAddress);
  EXPECT_EQ(hit.offset, 0x52u);
}

TEST(Join, DistanceComesFromTheResumeNotFromTheSignalsStackPointer) {
  Recorder rec;
  Joiner joiner(rec.options());
  // After `push %rcx` the SP is 8 below the target SP; the resume still says where it switches to.
  joiner.add(register_hit(7, 1, kTargetSp, 3000));
  ASSERT_EQ(rec.hits.size(), 1u);
  ASSERT_TRUE(rec.hits[0].resume);
  EXPECT_EQ(rec.hits[0].distance, 3000);
}

TEST(Join, ThreadsAreTalliedApart) {
  Recorder rec;
  Joiner joiner(rec.options());
  joiner.add(return_address_hit(2, 1, 0x7000, 0x2000));
  joiner.add(return_address_hit(1, 1, 0x2000, 0x1000));
  joiner.add(routine_signal(2, 1, 0x10));

  ASSERT_EQ(rec.hits.size(), 2u);
  EXPECT_EQ(rec.hits[0].tid, 2u);
  EXPECT_EQ(rec.hits[0].distance, 0x2000);
  EXPECT_EQ(rec.hits[1].tid, 1u);
  EXPECT_EQ(rec.hits[1].distance, 0x1000);
  EXPECT_EQ(joiner.threads().at(1).routine_signals[UT_DELIVERY_INTERRUPT], 1u);
  EXPECT_EQ(joiner.threads().at(2).routine_signals[UT_DELIVERY_INTERRUPT], 2u);
  EXPECT_EQ(joiner.threads().at(2).hits.total, 1u);
}

// A signal pending while a hit's handler ran is delivered as the handler returns, at the same
// window instruction (the tracer counts it as rt_sigreturn's syscall return): a second hit, the
// frame written over the context again, but no second landing for the exposure model.
TEST(Join, AHitDeliveredAsTheLastHandlerReturnsIsAHitButNotAFreshLanding) {
  Recorder rec;
  Joiner joiner(rec.options());
  ut_signal_event again = hit_of(3, 1);
  joiner.add(hit_of(3, 1));
  again.delivery = UT_DELIVERY_SYSCALL;
  joiner.add(again);

  ASSERT_EQ(rec.hits.size(), 2u);
  EXPECT_EQ(joiner.hits().total, 2u);
  EXPECT_EQ(joiner.hits().interrupt, 1u);
  EXPECT_EQ(joiner.threads().at(3).hits.interrupt, 1u);
  EXPECT_EQ(joiner.threads().at(3).routine_signals[UT_DELIVERY_SYSCALL], 1u);
}

TEST(Join, EntryThatBypassedTheResumeProbeIsUnprobed) {
  Recorder rec;
  Joiner joiner(rec.options());
  joiner.add(return_address_hit(7, 0, kTargetSp, 2384));  // no resume counted yet
  // The thread's last resume has another ucontext: this window was entered without passing the probe.
  ut_signal_event bypassed = return_address_hit(7, 1, kTargetSp, 1000);
  bypassed.resume.ctx = kTargetSp - 2384;
  joiner.add(bypassed);

  ASSERT_EQ(rec.hits.size(), 2u);
  EXPECT_EQ(rec.hits[0].resume_missing, MissingResume::Unprobed);
  EXPECT_EQ(rec.hits[1].resume_missing, MissingResume::Unprobed);
  EXPECT_FALSE(rec.hits[1].resume);
  EXPECT_EQ(rec.hits[1].distance, 1000) << "from the signal's own SP and context";
  EXPECT_EQ(joiner.threads().at(7).resume_missing[static_cast<size_t>(MissingResume::Unprobed)], 2u);
}

TEST(Join, SignalOutsideTheWindowKeepsItsResumeWhateverTheContextRegister) {
  Recorder rec;
  Joiner joiner(rec.options());
  ut_signal_event early = routine_signal(7, 3, 0x10);  // before the context register is final
  early.resume.ctx = 0x1234;
  joiner.add(early);
  EXPECT_EQ(joiner.threads().at(7).resume_missing[static_cast<size_t>(MissingResume::Unprobed)], 0u);
}

TEST(Join, SignalWhileResumesWereNotTracedIsUntracedAndKeepsItsOwnDistance) {
  Recorder rec;
  Joiner joiner(rec.options());
  ut_signal_event hit = return_address_hit(7, 0, kTargetSp, 2384);
  hit.resume_off = 1;  // signal-only mode, or sampled mode's off-time
  joiner.add(hit);

  ASSERT_EQ(rec.hits.size(), 1u);
  EXPECT_EQ(rec.hits[0].resume_missing, MissingResume::Untraced);
  EXPECT_EQ(rec.hits[0].distance, 2384);
  EXPECT_EQ(joiner.threads().at(7).resume_missing[static_cast<size_t>(MissingResume::Untraced)], 1u);
}

TEST(Join, OnlyWindowHitsAreCalledBackButEverySignalIsCounted) {
  Recorder rec;
  Joiner joiner(rec.options());
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
  joiner.add(hit_of(7, 1));
  ASSERT_EQ(rec.hits.size(), 1u);
  ASSERT_TRUE(rec.hits[0].geometry);
  EXPECT_EQ(rec.hits[0].geometry->placement, SlotPlacement::Inside);
  EXPECT_EQ(joiner.hits().by_placement[static_cast<size_t>(SlotPlacement::Inside)], 1u);

  Recorder unmeasured;
  Joiner blind(unmeasured.options());
  blind.add(hit_of(7, 1));
  EXPECT_FALSE(unmeasured.hits.at(0).geometry);
  EXPECT_EQ(blind.hits().geometry_unknown, 1u);
}

TEST(Join, KeptHitsAreBoundedButAllAreCountedAndCalledBack) {
  Recorder rec;
  Joiner joiner(rec.options({.max_kept_hits = 1}));
  for (uint64_t seq = 1; seq <= 3; ++seq) joiner.add(hit_of(7, seq));
  EXPECT_EQ(rec.hits.size(), 3u);
  EXPECT_EQ(joiner.kept_hits().size(), 1u);
  EXPECT_EQ(joiner.hits().total, 3u);
}

TEST(Join, DistanceDistributionOfResumesComesFromTheShapeCounts) {
  Joiner joiner;
  ResumeShapes first, second;
  first.add({0, 2096, 0}, 1);
  first.add({0, 2384, 0}, 2);
  first.add({0, 2390, 8}, 1);
  second.add({0, 3152, 0}, 1);
  second.add({0, -8, 0}, 1);  // a context above the target SP
  second.add({0, 2384, 0}, 0);
  joiner.add_shapes(first);
  joiner.add_shapes(second);

  EXPECT_EQ(joiner.shapes().total(), 6u);
  EXPECT_EQ(joiner.shapes().counts().at({0, 2384, 0}), 2u);
  const DistanceHistogram d = joiner.distance();
  EXPECT_EQ(d.count(), 6u);
  EXPECT_EQ(d.min(), -8);
  EXPECT_EQ(d.max(), 3152);
  EXPECT_EQ(d.median_bucket(), 2368);  // lower median 2,384 lies in [2368, 2432)
  EXPECT_EQ(d.buckets().at(-64), 1u);
  EXPECT_EQ(d.buckets().at(2368), 3u);
  EXPECT_EQ(d.buckets(1024).at(2048), 4u);
}

TEST(Join, EmptyDistanceHasNoSummary) {
  const DistanceHistogram empty;
  EXPECT_FALSE(empty.min());
  EXPECT_FALSE(empty.median_bucket());
}

TEST(Join, RejectsUnknownWireValues) {
  Joiner joiner;
  ut_signal_event bad = hit_of(7, 1);
  bad.delivery = 7;
  EXPECT_THROW(joiner.add(bad), std::invalid_argument);
  bad = hit_of(7, 1);
  bad.window_class = 9;
  EXPECT_THROW(joiner.add(bad), std::invalid_argument);
}

}  // namespace
}  // namespace ut::model
