// The metrics the CPU budget adds: its level, the cost measured, and its steps by direction,
// counters that follow the budget's totals however often they are reported. Per process, stuck
// threads: a gauge of the last segment's, and their loop hits counted apart from the exposure.
#include <gtest/gtest.h>

#include <string>

#include "output/metrics_registry.h"

namespace ut::output {
namespace {

TEST(MetricsRegistry, BudgetStepsAreCountedByDirection) {
  MetricsRegistry metrics;
  HostMetrics host;
  host.budget_percent = 10;
  host.cpu_used_percent = 14.5;
  host.budget_level = 2;
  host.budget_degradations = 2;
  metrics.update(host);
  host.budget_degradations = 3;
  host.budget_recoveries = 1;
  host.budget_level = 2;
  metrics.update(host);
  metrics.update(host);  // the same totals again: no increment
  const std::string text = metrics.render();
  for (const char* line : {"unwindtrace_cpu_budget_percent 10", "unwindtrace_cpu_used_percent 14.5",
                           "unwindtrace_cpu_budget_level 2",
                           "unwindtrace_cpu_budget_steps_total{direction=\"degrade\"} 3",
                           "unwindtrace_cpu_budget_steps_total{direction=\"recover\"} 1"})
    EXPECT_NE(text.find(line), std::string::npos) << line << " not in:\n" << text;
}

TEST(MetricsRegistry, StuckThreadsAreTheLastSegmentsAndTheirLoopHitsAdd) {
  MetricsRegistry metrics;
  ProcessMetrics process{.pid = 77, .comm = "server", .unwinder = "libunwind.so.8", .window_hits = 1200,
                         .stuck_loop_hits = 1150, .stuck_threads = 1};
  metrics.add_segment(process);
  // The next segment finds the same thread looping again: still one thread, more loop hits.
  process.window_hits = 900;
  process.stuck_loop_hits = 900;
  metrics.add_segment(process);
  const std::string text = metrics.render();
  const std::string labels = "{comm=\"server\",pid=\"77\",unwinder=\"libunwind.so.8\"}";
  for (const std::string& line : {"unwindtrace_stuck_threads" + labels + " 1",
                                 "unwindtrace_stuck_loop_hits_total" + labels + " 2050",
                                 "unwindtrace_window_hits_total" + labels + " 2100"})
    EXPECT_NE(text.find(line), std::string::npos) << line << " not in:\n" << text;
}

}  // namespace
}  // namespace ut::output
