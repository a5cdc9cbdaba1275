// The model's arithmetic on recorded inputs: rates multiply, geometry weights, threads add,
// intervals bracket the point and come from the exact Poisson limits.
#include <gtest/gtest.h>

#include "model/exposure_model.h"

namespace ut::model {
namespace {

// A storm of 10 s on one thread: 30k resumes/s, 2k interrupt signals/s.
ThreadInput storm_thread(double p_return, double p_register) {
  ThreadInput t;
  t.tid = 42;
  t.duration_s = 10;
  t.resumes = 300'000;
  t.async_signals = 20'000;
  t.p_overwritten = {p_return, p_register};
  t.p_possible = {1, 1};
  t.observed_hits = 12;
  return t;
}

// Two window instructions, the return-address read and a register read; 1e-13 s per landing.
LandingInput landing(uint64_t at_return, uint64_t at_register) {
  return {1e-13, {{0x52, at_return, true}, {0x61, at_register, false}}};
}

TEST(PoissonInterval, MatchesTheTabulatedExactLimits) {
  // Garwood 95 % limits, as tabulated: 0 -> [0, 3.689], 1 -> [0.0253, 5.572], 10 -> [4.795, 18.39].
  EXPECT_NEAR(poisson_interval(0).high, 3.689, 1e-3);
  EXPECT_EQ(poisson_interval(0).low, 0);
  EXPECT_NEAR(poisson_interval(1).low, 0.0253, 1e-4);
  EXPECT_NEAR(poisson_interval(1).high, 5.572, 1e-3);
  EXPECT_NEAR(poisson_interval(10).low, 4.795, 1e-3);
  EXPECT_NEAR(poisson_interval(10).high, 18.39, 1e-2);
}

TEST(ExposureModel, HitsAreSignalsTimesResumesTimesResidency) {
  auto p = predict_thread(landing(3, 7), storm_thread(1, 0));
  EXPECT_DOUBLE_EQ(p.resumes_per_s, 30'000);
  EXPECT_DOUBLE_EQ(p.async_signals_per_s, 2'000);
  // S·R·Σw = 2e3 · 3e4 · (10 · 1e-13)
  EXPECT_NEAR(p.hits_per_s.value, 2e3 * 3e4 * 10e-13, 1e-12);
  EXPECT_LT(p.hits_per_s.ci.low, p.hits_per_s.value);
  EXPECT_GT(p.hits_per_s.ci.high, p.hits_per_s.value);
  EXPECT_NEAR(p.hits_per_s.ci.high / p.hits_per_s.value, poisson_interval(10).high / 10, 1e-9);
}

// Sampled mode: the 15k resumes were counted in 0.5 s of the 10 s; the signals throughout.
TEST(ExposureModel, SampledResumesAreARateOverTheTimeTheyWereCounted) {
  ThreadInput sampled = storm_thread(1, 0);
  sampled.resumes = 15'000;
  sampled.resume_traced_s = 0.5;
  auto p = predict_thread(landing(3, 7), sampled);
  auto full = predict_thread(landing(3, 7), storm_thread(1, 0));
  EXPECT_DOUBLE_EQ(p.resumes_per_s, 30'000);
  EXPECT_DOUBLE_EQ(p.async_signals_per_s, 2'000);
  EXPECT_NEAR(p.hits_per_s.value, full.hits_per_s.value, 1e-15);
}

TEST(ExposureModel, CorruptionsWeighEachInstructionByItsGeometry) {
  auto p = predict_thread(landing(3, 7), storm_thread(1, 0.5));
  EXPECT_NEAR(p.corruptions_per_s.value, 2e3 * 3e4 * (3 + 3.5) * 1e-13, 1e-12);
  // Only the return-address read crashes: the MTBF rests on its 3 landings.
  EXPECT_NEAR(p.crashes_per_s.value, 2e3 * 3e4 * 3 * 1e-13, 1e-12);
  EXPECT_NEAR(p.mtbf_s.value, 1 / p.crashes_per_s.value, 1e-6);
  EXPECT_NEAR(p.crashes_per_s.ci.high / p.crashes_per_s.value, poisson_interval(3).high / 3, 1e-9);
  EXPECT_NEAR(p.corruptions_upper_per_s, p.hits_per_s.value, 1e-12);
  EXPECT_LE(p.mtbf_s.ci.low, p.mtbf_s.value);
  EXPECT_GE(p.mtbf_s.ci.high, p.mtbf_s.value);
}

TEST(ExposureModel, NothingOverwrittenMeansNoCorruptionAndInfiniteMtbf) {
  auto p = predict_thread(landing(3, 7), storm_thread(0, 0));
  EXPECT_EQ(p.corruptions_per_s.value, 0);
  EXPECT_EQ(p.mtbf_s.value, kForever);
  EXPECT_GT(p.hits_per_s.value, 0);
}

TEST(ExposureModel, NoLandingsGiveZeroWithAnUpperBound) {
  auto p = predict_thread(landing(0, 0), storm_thread(1, 1));
  EXPECT_EQ(p.hits_per_s.value, 0);
  EXPECT_NEAR(p.hits_per_s.ci.high, 2e3 * 3e4 * 1e-13 * poisson_interval(0).high, 1e-12);
  EXPECT_EQ(p.mtbf_s.value, kForever);
  EXPECT_GT(p.mtbf_s.ci.low, 0);  // the upper corruption bound gives a finite shortest MTBF
}

TEST(ExposureModel, RegisterCorruptionsAloneDoNotCrash) {
  auto p = predict_thread(landing(0, 7), storm_thread(1, 1));
  EXPECT_GT(p.corruptions_per_s.value, 0);
  EXPECT_EQ(p.crashes_per_s.value, 0);
  EXPECT_GT(p.crashes_per_s.ci.high, 0);  // no landing at the return-address read is not "never"
  EXPECT_EQ(p.mtbf_s.value, kForever);
}

TEST(ExposureModel, ThreadsAddUp) {
  ThreadInput a = storm_thread(1, 0), b = storm_thread(1, 0);
  b.tid = 43;
  b.async_signals = 10'000;
  auto one = predict_thread(landing(3, 7), a);
  auto two = predict_thread(landing(3, 7), b);
  auto both = predict_process(landing(3, 7), {a, b});
  EXPECT_EQ(both.tid, 0u);
  EXPECT_NEAR(both.hits_per_s.value, one.hits_per_s.value + two.hits_per_s.value, 1e-12);
  EXPECT_NEAR(both.corruptions_per_s.value, one.corruptions_per_s.value + two.corruptions_per_s.value, 1e-12);
  EXPECT_EQ(both.observed_hits.count, 24u);
  EXPECT_NEAR(both.observed_hits.per_s, 2.4, 1e-12);
}

TEST(ExposureModel, ObservedCorruptionsOnlyWhenEveryThreadMeasuredThem) {
  ThreadInput a = storm_thread(1, 0), b = storm_thread(1, 0);
  a.observed_corruptions = 5;
  EXPECT_FALSE(predict_process(landing(3, 7), {a, b}).observed_corruptions);
  b.observed_corruptions = 2;
  auto p = predict_process(landing(3, 7), {a, b});
  ASSERT_TRUE(p.observed_corruptions);
  EXPECT_EQ(p.observed_corruptions->count, 7u);
  EXPECT_NEAR(p.observed_corruptions->ci_per_s.high, poisson_interval(7).high / 10, 1e-12);
}

TEST(ExposureModel, HitsGivenRoutineLandingsScaleTheLiveCountByTheCalibratedSplit) {
  LandingInput l = landing(3, 7);
  l.landings_elsewhere = 2000;
  // 400 signals landed elsewhere in the routine in 10 s: 40/s, times 10 / 2000 in the window.
  auto hits = hits_given_routine(l, 400, 10);
  ASSERT_TRUE(hits);
  EXPECT_NEAR(hits->value, 40.0 * 10 / 2000, 1e-12);
  EXPECT_NEAR(hits->ci.low, 40.0 * poisson_interval(10).low / 2000, 1e-12);
  EXPECT_NEAR(hits->ci.high, 40.0 * poisson_interval(10).high / 2000, 1e-12);
  // Without landings elsewhere in the calibration, or a duration, there is no base.
  l.landings_elsewhere = 0;
  EXPECT_FALSE(hits_given_routine(l, 400, 10));
  l.landings_elsewhere = 2000;
  EXPECT_FALSE(hits_given_routine(l, 400, 0));
  // No window landing in the calibration: 0 with the upper limit of 0 landings.
  LandingInput empty = landing(0, 0);
  empty.landings_elsewhere = 2000;
  auto none = hits_given_routine(empty, 400, 10);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->value, 0);
  EXPECT_NEAR(none->ci.high, 40.0 * poisson_interval(0).high / 2000, 1e-12);
}

}  // namespace
}  // namespace ut::model
