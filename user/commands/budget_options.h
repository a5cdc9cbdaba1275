// --cpu-budget and --cpu-budget-window, shared by record and attach --all: the CPU budget host
// mode holds itself to (model/cpu_budget.h), and the line each of its steps prints.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "model/cpu_budget.h"
#include "trace/host_session.h"

namespace ut::commands {

struct BudgetOptions {
  double percent = 10;  // of one CPU; 0: no budget
  double window_s = 10;
};

void add_budget_options(CLI::App* cmd, BudgetOptions& options);

// Sets the policy and a step handler that prints every step on stderr, then calls `also`.
void apply_budget_options(const BudgetOptions& options, trace::HostTraceOptions& host,
                          std::function<void(const model::BudgetStep&, const model::CpuBudget&)> also = {});

// "CPU budget: 14.2% of a CPU over 10 s, over the budget of 10%: resume probes 25% of the time
// (normal -> reduced_duty)".
std::string describe_step(const model::BudgetStep& step, const model::BudgetPolicy& policy);

}  // namespace ut::commands
