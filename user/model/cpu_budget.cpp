#include "model/cpu_budget.h"

#include <algorithm>

namespace ut::model {

namespace {

constexpr double kReducedShare = 0.25;
constexpr double kMaxHoldWindows = 64;

}  // namespace

const char* to_string(BudgetLevel level) {
  switch (level) {
    case BudgetLevel::Normal: return "normal";
    case BudgetLevel::ReducedDuty: return "reduced_duty";
    case BudgetLevel::SignalOnly: return "signal_only";
    case BudgetLevel::NoNewProcesses: return "no_new_processes";
  }
  return "?";
}

CpuBudget::CpuBudget(BudgetPolicy policy) : policy_(policy), recover_hold_s_(policy.window_s) {}

BudgetLevel CpuBudget::next(BudgetLevel from, int direction) const {
  int level = static_cast<int>(from) + direction;
  // Without resume probes, reducing them saves nothing: those steps are skipped both ways.
  while (!policy_.resume_probes && level > 0 && level < kBudgetLevels - 1) level += direction;
  return static_cast<BudgetLevel>(level);
}

std::optional<double> CpuBudget::used_percent() const {
  if (window_.size() < 2) return decided_percent_;
  const double span = window_.back().at_s - window_.front().at_s;
  if (span <= 0) return decided_percent_;
  const double used_ns = static_cast<double>(window_.back().cpu_ns - window_.front().cpu_ns);
  return used_ns / 1e9 / span * 100;
}

std::optional<BudgetStep> CpuBudget::add(CostSample sample) {
  window_.push_back(sample);
  // Keep the newest sample that is at least a window old as the window's start.
  while (window_.size() > 2 && sample.at_s - window_[1].at_s >= policy_.window_s) window_.pop_front();
  if (sample.at_s - window_.front().at_s < policy_.window_s) return std::nullopt;
  const double used = *used_percent();
  BudgetLevel to = level_;
  if (used > policy_.percent && level_ != BudgetLevel::NoNewProcesses)
    to = next(level_, +1);
  else if (used < policy_.percent * policy_.recover_fraction && level_ != BudgetLevel::Normal &&
           sample.at_s - last_step_at_s_ >= recover_hold_s_)
    to = next(level_, -1);
  if (to == level_) return std::nullopt;
  BudgetStep step{level_, to, used, sample.at_s};
  if (step.degraded() && last_step_up_)  // the step up cost too much: hold longer before the next
    recover_hold_s_ = std::min(recover_hold_s_ * 2, policy_.window_s * kMaxHoldWindows);
  last_step_up_ = !step.degraded();
  last_step_at_s_ = sample.at_s;
  level_ = to;
  (step.degraded() ? degradations_ : recoveries_)++;
  window_.assign(1, sample);
  decided_percent_ = used;
  return step;
}

std::optional<DutyCycle> budget_duty_cycle(BudgetLevel level, std::optional<DutyCycle> configured) {
  if (!configured || level >= BudgetLevel::SignalOnly) return std::nullopt;
  if (level == BudgetLevel::ReducedDuty) configured->fraction *= kReducedShare;
  return configured;
}

}  // namespace ut::model
