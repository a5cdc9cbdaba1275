#include "commands/budget_options.h"

#include <fmt/format.h>

namespace ut::commands {

void add_budget_options(CLI::App* cmd, BudgetOptions& options) {
  cmd->add_option("--cpu-budget", options.percent,
                  "hold the tracer's own cost (its CPU and its BPF programs' run time) under PERCENT of one CPU, "
                  "degrading step by step when over (default 10; 0: no budget)")
      ->transform([](std::string text) {
        if (text.ends_with('%')) text.pop_back();
        return text;
      })
      ->check(CLI::Range(0.0, 10000.0));
  cmd->add_option("--cpu-budget-window", options.window_s, "the budget's sliding window in seconds (default 10)")
      ->check(CLI::Range(0.5, 3600.0));
}

std::string describe_step(const model::BudgetStep& step, const model::BudgetPolicy& policy) {
  const char* effect = "";
  switch (step.to) {
    case model::BudgetLevel::Normal: effect = "tracing as configured again"; break;
    case model::BudgetLevel::ReducedDuty:
      effect = "resume probes a quarter of the configured time (full mode: no slot checks)";
      break;
    case model::BudgetLevel::SignalOnly: effect = "no resume probes (signal only)"; break;
    case model::BudgetLevel::NoNewProcesses: effect = "no new process traced, no rescans"; break;
  }
  return fmt::format("CPU budget: {:.3g}% of a CPU over {:g} s is {} the budget of {:g}%: {} ({} -> {})",
                     step.used_percent, policy.window_s, step.degraded() ? "over" : "well under", policy.percent,
                     effect, model::to_string(step.from), model::to_string(step.to));
}

void apply_budget_options(const BudgetOptions& options, trace::HostTraceOptions& host,
                          std::function<void(const model::BudgetStep&, const model::CpuBudget&)> also) {
  host.budget.percent = options.percent;
  host.budget.window_s = options.window_s;
  // Always printed, --quiet or not: a budget step changes what the records mean.
  host.on_budget = [also](const model::BudgetStep& step, const model::CpuBudget& budget) {
    fmt::print(stderr, "unwindtrace: {}\n", describe_step(step, budget.policy()));
    if (also) also(step, budget);
  };
}

}  // namespace ut::commands
