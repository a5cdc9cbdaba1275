// The CPU budget's decisions: degrade one step per window over budget, recover one step per
// window well under it, skip steps the mode has nothing for, and say what each step left.
#include <gtest/gtest.h>

#include <vector>

#include "model/cpu_budget.h"

namespace ut::model {
namespace {

constexpr uint64_t kMs = 1'000'000;  // ns

// Feeds samples every 0.5 s at `percent` of one CPU, from a first sample at 0 on.
struct Feed {
  explicit Feed(CpuBudget& b) : budget(b) { budget.add({0, 0}); }
  CpuBudget& budget;
  double at_s = 0;
  uint64_t cpu_ns = 0;
  std::vector<BudgetStep> steps;

  void run(double percent, double seconds) {
    for (double t = 0; t < seconds; t += 0.5) {
      at_s += 0.5;
      cpu_ns += static_cast<uint64_t>(percent / 100 * 500 * kMs);
      if (auto step = budget.add({at_s, cpu_ns})) steps.push_back(*step);
    }
  }
};

TEST(CpuBudget, NoDecisionBeforeAWholeWindow) {
  CpuBudget budget({.percent = 5, .window_s = 10});
  Feed feed(budget);
  feed.run(50, 9.5);
  EXPECT_TRUE(feed.steps.empty());
  EXPECT_EQ(budget.level(), BudgetLevel::Normal);
  ASSERT_TRUE(budget.used_percent());
  EXPECT_NEAR(*budget.used_percent(), 50, 1e-6);
}

TEST(CpuBudget, DegradesOneStepPerWindowOverBudget) {
  CpuBudget budget({.percent = 5, .window_s = 10});
  Feed feed(budget);
  feed.run(20, 40);
  ASSERT_EQ(feed.steps.size(), 3u);
  EXPECT_EQ(feed.steps[0].to, BudgetLevel::ReducedDuty);
  EXPECT_EQ(feed.steps[1].to, BudgetLevel::SignalOnly);
  EXPECT_EQ(feed.steps[2].to, BudgetLevel::NoNewProcesses);
  for (const auto& step : feed.steps) {
    EXPECT_TRUE(step.degraded());
    EXPECT_NEAR(step.used_percent, 20, 1e-6);
  }
  EXPECT_DOUBLE_EQ(feed.steps[0].at_s, 10);
  EXPECT_DOUBLE_EQ(feed.steps[1].at_s, 20);  // a full window measured at the new level
  ASSERT_TRUE(budget.used_percent());
  EXPECT_NEAR(*budget.used_percent(), 20, 1e-6);  // right after the last step: what decided it
  EXPECT_EQ(budget.degradations(), 3u);
  EXPECT_EQ(budget.level(), BudgetLevel::NoNewProcesses);  // the last step: stays there
}

TEST(CpuBudget, RecoversWhenWellUnderAndHoldsInBetween) {
  CpuBudget budget({.percent = 10, .window_s = 4, .recover_fraction = 0.5});
  Feed feed(budget);
  feed.run(30, 8);
  ASSERT_EQ(budget.level(), BudgetLevel::SignalOnly);
  feed.steps.clear();
  feed.run(7, 20);  // under the budget but not under half of it: no step either way
  EXPECT_TRUE(feed.steps.empty());
  feed.run(2, 8);
  ASSERT_EQ(feed.steps.size(), 2u);
  EXPECT_FALSE(feed.steps[0].degraded());
  EXPECT_EQ(feed.steps[0].to, BudgetLevel::ReducedDuty);
  EXPECT_EQ(feed.steps[1].to, BudgetLevel::Normal);
  EXPECT_EQ(budget.recoveries(), 2u);
  feed.run(2, 8);
  EXPECT_EQ(budget.level(), BudgetLevel::Normal);  // nothing above normal
}

// Levels far apart in cost: signal only at 0.6%, with resume probes at 8%, budget 2%. Without a
// hold, it would swing between them every window; each step up taken back doubles the hold.
TEST(CpuBudget, AStepUpTakenBackAtOnceWaitsLongerNextTime) {
  CpuBudget budget({.percent = 2, .window_s = 5});
  Feed feed(budget);
  for (int i = 0; i < 400; ++i) feed.run(budget.level() >= BudgetLevel::SignalOnly ? 0.6 : 8, 0.5);
  std::vector<double> ups;
  for (const auto& step : feed.steps)
    if (!step.degraded()) ups.push_back(step.at_s);
  ASSERT_GE(ups.size(), 3u);
  for (size_t i = 2; i < ups.size(); ++i) EXPECT_GT(ups[i] - ups[i - 1], ups[i - 1] - ups[i - 2]) << i;
  EXPECT_LE(ups.size(), 6u) << "200 s with a 5 s window: swinging every window would step up ~20 times";
  EXPECT_GE(budget.recover_hold_s(), 40);
}

TEST(CpuBudget, SignalOnlyModeHasNoResumeStepsToTakeDown) {
  CpuBudget budget({.percent = 1, .window_s = 2, .resume_probes = false});
  Feed feed(budget);
  feed.run(5, 2);
  ASSERT_EQ(feed.steps.size(), 1u);
  EXPECT_EQ(feed.steps[0].from, BudgetLevel::Normal);
  EXPECT_EQ(feed.steps[0].to, BudgetLevel::NoNewProcesses);
  feed.run(0, 2);
  ASSERT_EQ(feed.steps.size(), 2u);
  EXPECT_EQ(feed.steps[1].to, BudgetLevel::Normal);
}

TEST(CpuBudget, TheWindowSlides) {
  CpuBudget budget({.percent = 60, .window_s = 4});
  Feed feed(budget);
  feed.run(100, 2);  // a burst, then quiet: the burst leaves the window
  feed.run(0, 10);
  EXPECT_TRUE(feed.steps.empty());
  ASSERT_TRUE(budget.used_percent());
  EXPECT_NEAR(*budget.used_percent(), 0, 1e-6);
}

TEST(BudgetDutyCycle, EachLevelLeavesLessResumeTracing) {
  const DutyCycle sampled{0.2, 10};
  EXPECT_DOUBLE_EQ(budget_duty_cycle(BudgetLevel::Normal, sampled)->fraction, 0.2);
  auto reduced = budget_duty_cycle(BudgetLevel::ReducedDuty, sampled);
  ASSERT_TRUE(reduced);
  EXPECT_DOUBLE_EQ(reduced->fraction, 0.05);
  EXPECT_DOUBLE_EQ(reduced->period_s, 10);
  EXPECT_FALSE(budget_duty_cycle(BudgetLevel::SignalOnly, sampled));
  EXPECT_FALSE(budget_duty_cycle(BudgetLevel::NoNewProcesses, sampled));
  EXPECT_DOUBLE_EQ(budget_duty_cycle(BudgetLevel::ReducedDuty, DutyCycle{1.0, 1.0})->fraction, 0.25);
  EXPECT_FALSE(budget_duty_cycle(BudgetLevel::Normal, std::nullopt));
  EXPECT_STREQ(to_string(BudgetLevel::NoNewProcesses), "no_new_processes");
}

}  // namespace
}  // namespace ut::model
