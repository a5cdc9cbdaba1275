// Sampled mode's arithmetic (rates and error bars from on-periods) and its duty-cycle schedule.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/sampling.h"
#include "trace/resume_sampler.h"

namespace ut::model {
namespace {

TEST(SampledRate, ScalesTheCountToTheOnTime) {
  SampledRate rate;
  rate.add_period(5'000, 0.5);
  rate.add_period(5'000, 0.5);
  ASSERT_TRUE(rate.estimate());
  EXPECT_DOUBLE_EQ(rate.estimate()->per_s, 10'000.0);
  EXPECT_EQ(rate.periods(), 2u);
  EXPECT_DOUBLE_EQ(rate.seconds(), 1.0);
}

TEST(SampledRate, SteadyPeriodsGiveThePoissonError) {
  SampledRate rate;
  for (int i = 0; i < 4; ++i) rate.add_period(2'500, 0.25);  // no spread at all
  const RateEstimate e = *rate.estimate();
  EXPECT_DOUBLE_EQ(e.per_s, 10'000.0);
  EXPECT_DOUBLE_EQ(e.error_per_s, std::sqrt(10'000.0) / 1.0);
  EXPECT_FALSE(e.from_periods);
}

TEST(SampledRate, SpreadBetweenPeriodsWidensTheErrorBar) {
  // Rates 8k, 12k, 8k, 12k over 1 s each: r = 10k; sum t_i (r_i - r)^2 = 4 * 2k^2 = 16e6;
  // se = sqrt(16e6 / 3 / 4 s) = 1154.7/s, far above Poisson's sqrt(40k) / 4 = 50/s.
  SampledRate rate;
  for (uint64_t count : {8'000u, 12'000u, 8'000u, 12'000u}) rate.add_period(count, 1.0);
  const RateEstimate e = *rate.estimate();
  EXPECT_DOUBLE_EQ(e.per_s, 10'000.0);
  EXPECT_NEAR(e.error_per_s, std::sqrt(16e6 / 3 / 4), 1e-6);
  EXPECT_TRUE(e.from_periods);
}

TEST(SampledRate, UnequalPeriodsAreWeightedByTheirLength) {
  // The same rate in a full and a half period (the trace ended mid-period): no spread.
  SampledRate rate;
  rate.add_period(1'000, 1.0);
  rate.add_period(500, 0.5);
  EXPECT_DOUBLE_EQ(rate.estimate()->per_s, 1'000.0);
  EXPECT_FALSE(rate.estimate()->from_periods);
}

TEST(SampledRate, NothingToSayWithoutOnTime) {
  SampledRate rate;
  EXPECT_FALSE(rate.estimate());
  rate.add_period(0, 0.0);  // cut to nothing: ignored
  EXPECT_EQ(rate.periods(), 0u);
  EXPECT_FALSE(rate.estimate());
}

TEST(PoissonRate, ZeroCountsStillHaveAnErrorBar) {
  const RateEstimate e = poisson_rate(0, 2.0);
  EXPECT_DOUBLE_EQ(e.per_s, 0.0);
  EXPECT_DOUBLE_EQ(e.error_per_s, 0.5);  // as if one had been seen
  EXPECT_DOUBLE_EQ(poisson_rate(400, 2.0).error_per_s, 10.0);
}

}  // namespace
}  // namespace ut::model

namespace ut::trace {
namespace {

// Records what the sampler switches. The decisions depend only on the times passed to tick().
struct Switches {
  std::vector<std::string> calls;
  std::vector<uint32_t> periods;
  ResumeSwitch hooks() {
    return {[this] { calls.push_back("attach"); },
            [this](uint32_t p) {
              calls.push_back(p ? "up" : "down");
              periods.push_back(p);
            },
            [this] { calls.push_back("detach"); },
            [this](double on_s) {
              calls.push_back("ended");
              EXPECT_GE(on_s, 0.0);
            }};
  }
};

using std::chrono::milliseconds;

TEST(ResumeSampler, OnAtEachPeriodStartForItsShare) {
  Switches s;
  ResumeSampler sampler({0.05, 10}, s.hooks());  // 0.5 s every 10 s
  const auto t0 = ResumeSampler::Clock::now();
  auto next = sampler.tick(t0);
  EXPECT_TRUE(sampler.on());
  EXPECT_LE(std::chrono::duration_cast<milliseconds>(next).count(), 500);
  sampler.tick(t0 + milliseconds(300));
  EXPECT_TRUE(sampler.on());
  next = sampler.tick(t0 + milliseconds(600));  // 0.5 s after the flag went up (real time)
  EXPECT_FALSE(sampler.on());
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(next).count(), 9'400);
  sampler.tick(t0 + milliseconds(10'100));
  EXPECT_TRUE(sampler.on());
  sampler.finish();
  EXPECT_FALSE(sampler.on());
  EXPECT_EQ(s.calls, (std::vector<std::string>{"attach", "up", "down", "ended", "detach", "attach",
                                               "up", "down", "ended", "detach"}));
  EXPECT_EQ(s.periods, (std::vector<uint32_t>{1, 0, 2, 0})) << "a new flag value per period";
}

TEST(ResumeSampler, ALateWakeStillSamplesItsPeriodIfTheOnTimeFits) {
  Switches s;
  ResumeSampler sampler({0.05, 10}, s.hooks());
  const auto t0 = ResumeSampler::Clock::now();
  sampler.tick(t0);
  sampler.tick(t0 + milliseconds(600));
  sampler.tick(t0 + milliseconds(19'700));  // period 1, 9.7 s in: 0.5 s no longer fit before 20 s
  EXPECT_FALSE(sampler.on());
  sampler.tick(t0 + milliseconds(25'700));  // period 2, 5.7 s in: its 0.5 s still fit
  EXPECT_TRUE(sampler.on());
  EXPECT_EQ(sampler.period(), 2u);
  sampler.tick(t0 + milliseconds(27'000));  // the same period does not go on twice
  EXPECT_FALSE(sampler.on());
  sampler.tick(t0 + milliseconds(28'000));
  EXPECT_FALSE(sampler.on());
  sampler.tick(t0 + milliseconds(30'000));
  EXPECT_TRUE(sampler.on());
  EXPECT_EQ(sampler.period(), 3u);
}

TEST(ResumeSampler, FullModeStaysOnUntilFinished) {
  Switches s;
  ResumeSampler sampler({1.0, 1.0}, s.hooks());
  const auto t0 = ResumeSampler::Clock::now();
  sampler.tick(t0);
  sampler.tick(t0 + std::chrono::hours(2));
  EXPECT_TRUE(sampler.on());
  sampler.finish();
  sampler.tick(t0 + std::chrono::hours(3));
  EXPECT_FALSE(sampler.on());
  EXPECT_EQ(s.calls, (std::vector<std::string>{"attach", "up", "down", "ended", "detach"}));
}

}  // namespace
}  // namespace ut::trace
