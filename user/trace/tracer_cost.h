// The tracer's own cost, as the CPU budget (model/cpu_budget.h) counts it: this process's CPU
// time (every thread, user and system, from getrusage) plus the time its BPF programs ran, which
// the kernel charges to the traced processes they run in (bpf_stats: BPF_ENABLE_STATS makes the
// kernel time every program run; bpf_prog_info.run_time_ns sums them per program). Not counted:
// the uprobe trap itself around the resume program (the program's run is).
#pragma once

#include <cstdint>

struct bpf_object;

namespace ut::trace {

class TracerCost {
 public:
  // Turns the kernel's BPF run-time statistics on for as long as this lives (they cost two clock
  // reads per program run). Throws UserError(KernelFeature) when the kernel refuses.
  TracerCost();
  ~TracerCost();
  TracerCost(const TracerCost&) = delete;
  TracerCost& operator=(const TracerCost&) = delete;

  static uint64_t process_cpu_ns();  // user + system time of every thread of this process

 private:
  int stats_fd_ = -1;
};

// Summed run_time_ns of every loaded program of `object` (0 before the statistics were on).
uint64_t programs_run_ns(const bpf_object* object);

}  // namespace ut::trace
