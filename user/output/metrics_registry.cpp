#include "output/metrics_registry.h"

#include <map>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace ut::output {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;

namespace {
enum CounterIndex { kSignals, kInterruptSignals, kResumes, kWindowHits, kStuckLoopHits, kLostEvents, kCounters };
}  // namespace

struct MetricsRegistry::Families {
  explicit Families(prometheus::Registry& r)
      : counters{&BuildCounter().Name("unwindtrace_signals_total")
                      .Help("Signals delivered to the traced process (kernel count)").Register(r),
                 &BuildCounter().Name("unwindtrace_interrupt_signals_total")
                      .Help("Signals that arrived by interrupt: the ones that can land inside the window").Register(r),
                 &BuildCounter().Name("unwindtrace_resumes_total")
                      .Help("Entries into the hazardous resume routine (full mode; 0 in signal-only mode)").Register(r),
                 &BuildCounter().Name("unwindtrace_window_hits_total")
                      .Help("Signals that landed inside the stack-switch window").Register(r),
                 &BuildCounter().Name("unwindtrace_stuck_loop_hits_total")
                      .Help("Of the window hits, those of threads stuck looping in the unwinder: a loop, not exposure").Register(r),
                 &BuildCounter().Name("unwindtrace_lost_events_total")
                      .Help("Events the kernel side could not deliver (ring buffer full), plus resume sequence gaps").Register(r)},
        resumes_per_s(BuildGauge().Name("unwindtrace_resumes_per_second").Help("Resume rate over the trace").Register(r)),
        interrupt_per_s(BuildGauge().Name("unwindtrace_interrupt_signals_per_second")
                            .Help("Interrupt-signal rate over the trace").Register(r)),
        predicted(BuildGauge().Name("unwindtrace_predicted_crashes_per_second")
                      .Help("Predicted window crashes per second (corrupting hits over the traced time)").Register(r)),
        stuck(BuildGauge().Name("unwindtrace_stuck_threads")
                  .Help("Threads an earlier window hit sent back into the unwinder for good, found in the last segment").Register(r)),
        written(BuildCounter().Name("unwindtrace_records_written_total").Help("Records written").Register(r).Add({})),
        dropped(BuildCounter().Name("unwindtrace_records_dropped_total")
                    .Help("Records that could not be written (full disk, unwritable directory)").Register(r).Add({})),
        rescans(BuildCounter().Name("unwindtrace_rescans_total").Help("Scans of the host's processes").Register(r).Add({})),
        traced(BuildGauge().Name("unwindtrace_processes_traced").Help("Processes traced now").Register(r).Add({})),
        rescan_seconds(BuildGauge().Name("unwindtrace_last_rescan_seconds")
                           .Help("Time the last scan of the host's processes took").Register(r).Add({})),
        budget_percent(BuildGauge().Name("unwindtrace_cpu_budget_percent")
                           .Help("The CPU budget held, percent of one CPU (0: none)").Register(r).Add({})),
        cpu_used_percent(BuildGauge().Name("unwindtrace_cpu_used_percent")
                             .Help("The tracer's cost over the budget's window: its CPU plus its BPF programs' run time, percent of one CPU")
                             .Register(r).Add({})),
        budget_level(BuildGauge().Name("unwindtrace_cpu_budget_level")
                         .Help("Degradation level: 0 normal, 1 reduced duty, 2 signal only, 3 no new processes").Register(r).Add({})),
        budget_steps(BuildCounter().Name("unwindtrace_cpu_budget_steps_total")
                         .Help("Steps the CPU budget took, by direction").Register(r)),
        degradations(budget_steps.Add({{"direction", "degrade"}})),
        recoveries(budget_steps.Add({{"direction", "recover"}})) {}
  Family<Counter>* counters[kCounters];
  Family<Gauge>& resumes_per_s;
  Family<Gauge>& interrupt_per_s;
  Family<Gauge>& predicted;
  Family<Gauge>& stuck;
  Counter& written;
  Counter& dropped;
  Counter& rescans;
  Gauge& traced;
  Gauge& rescan_seconds;
  Gauge& budget_percent;
  Gauge& cpu_used_percent;
  Gauge& budget_level;
  Family<Counter>& budget_steps;
  Counter& degradations;
  Counter& recoveries;
};

MetricsRegistry::MetricsRegistry()
    : registry_(std::make_shared<prometheus::Registry>()), families_(std::make_unique<Families>(*registry_)) {}

MetricsRegistry::~MetricsRegistry() = default;

void MetricsRegistry::add_segment(const ProcessMetrics& p) {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::string> labels{{"pid", std::to_string(p.pid)}, {"comm", p.comm}, {"unwinder", p.unwinder}};
  const uint64_t counts[kCounters] = {p.signals, p.interrupt_signals, p.resumes, p.window_hits, p.stuck_loop_hits,
                                      p.lost_events};
  for (int i = 0; i < kCounters; ++i) families_->counters[i]->Add(labels).Increment(static_cast<double>(counts[i]));
  families_->resumes_per_s.Add(labels).Set(p.resumes_per_s);
  families_->interrupt_per_s.Add(labels).Set(p.interrupt_signals_per_s);
  families_->predicted.Add(labels).Set(p.predicted_crashes_per_s);
  families_->stuck.Add(labels).Set(static_cast<double>(p.stuck_threads));
}

void MetricsRegistry::update(const HostMetrics& h) {
  std::lock_guard lock(mutex_);
  auto advance = [](Counter& counter, uint64_t total, uint64_t& last) {
    if (total > last) counter.Increment(static_cast<double>(total - last));
    last = std::max(last, total);
  };
  advance(families_->written, h.records_written, last_written_);
  advance(families_->dropped, h.records_dropped, last_dropped_);
  advance(families_->rescans, h.rescans, last_rescans_);
  families_->traced.Set(static_cast<double>(h.processes_traced));
  families_->rescan_seconds.Set(h.last_rescan_s);
  advance(families_->degradations, h.budget_degradations, last_degradations_);
  advance(families_->recoveries, h.budget_recoveries, last_recoveries_);
  families_->budget_percent.Set(h.budget_percent);
  families_->cpu_used_percent.Set(h.cpu_used_percent);
  families_->budget_level.Set(h.budget_level);
}

std::string MetricsRegistry::render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace ut::output
