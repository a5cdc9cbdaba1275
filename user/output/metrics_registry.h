// The tracer's numbers as Prometheus metrics (docs/metrics.md): counters per traced process and
// unwinder (signals, interrupt signals, resumes, window hits, lost events) that follow the
// kernel's counts, gauges for rates, the predicted crash rate and stuck threads, and the host-wide health
// figures (records written and dropped, processes traced, rescans). Served by MetricsServer.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace prometheus {
class Registry;
template <typename T> class Family;
class Counter;
class Gauge;
}  // namespace prometheus

namespace ut::output {

// One finished trace segment of a process: its counts are added to the counters.
struct ProcessMetrics {
  int32_t pid = 0;
  std::string comm;
  std::string unwinder;     // the traced object's file name, or the binding when not exposed
  uint64_t signals = 0;
  uint64_t interrupt_signals = 0;
  uint64_t resumes = 0;
  uint64_t window_hits = 0;
  uint64_t stuck_loop_hits = 0;  // of the window hits, those of stuck threads' loops
  uint64_t lost_events = 0;
  uint64_t stuck_threads = 0;    // found stuck in this segment
  double resumes_per_s = 0;
  double interrupt_signals_per_s = 0;
  double predicted_crashes_per_s = 0;
};

struct HostMetrics {
  uint64_t records_written = 0;
  uint64_t records_dropped = 0;
  uint64_t processes_traced = 0;  // now
  uint64_t rescans = 0;
  double last_rescan_s = 0;
  // The CPU budget (docs/fleet.md); budget_percent 0: none held.
  double budget_percent = 0;
  double cpu_used_percent = 0;  // the tracer's cost over the budget's window
  int budget_level = 0;         // 0 normal .. 3 no new processes (model::BudgetLevel)
  uint64_t budget_degradations = 0;
  uint64_t budget_recoveries = 0;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  void add_segment(const ProcessMetrics& process);
  void update(const HostMetrics& host);
  // Text exposition format 0.0.4, what Prometheus scrapes.
  std::string render() const;

 private:
  struct Families;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
  std::mutex mutex_;
  uint64_t last_written_ = 0, last_dropped_ = 0, last_rescans_ = 0, last_degradations_ = 0, last_recoveries_ = 0;
};

}  // namespace ut::output
