// Host mode: every process on the host whose C++ exceptions unwind through an exposed routine,
// traced at once by one TraceSession (one set of BPF programs), the host rescanned periodically so
// processes started, exec'd or dlopen'ing an unwinder later join in. Each process is traced in
// segments: at the end of each, its result is handed out (for a record) and the next one starts.
// Crashes of every process on the host come from the crash watch (bpf/crash.bpf.c), joined with
// what the traced processes showed.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "model/cpu_budget.h"
#include "output/record_builder.h"
#include "trace/trace_session.h"

namespace ut::trace {

struct HostScanStats {
  uint64_t scans = 0;
  double last_scan_s = 0;
  size_t traced_now = 0;
  size_t traced_total = 0;
  std::optional<double> cpu_used_percent;  // the tracer's cost over the budget's window, with a budget
  model::BudgetLevel budget_level = model::BudgetLevel::Normal;
  uint64_t budget_degradations = 0;
  uint64_t budget_recoveries = 0;
};

struct HostTraceOptions {
  double duration_s = 0;  // how long to trace; stop ends it earlier
  const std::atomic<bool>* stop = nullptr;
  double rescan_interval_s = 2;
  double segment_s = 60;  // each traced process's result is handed out this often
  int poll_interval_ms = 100;
  SessionOptions session;  // mode, duty cycle, ring buffer
  std::vector<pid_t> only;         // consider these PIDs only (empty: every process)
  std::vector<std::string> exes;   // consider processes running these executables only (empty: any)
  std::function<void(const std::string&)> on_note;  // one line: tracing, ended, not traced
  // A segment's result (the callee may keep it); `last` when the process ended or the trace did.
  std::function<void(TraceResult&, const output::ProcessFacts&, bool last)> on_segment;
  std::function<void(const HostScanStats&)> on_scan;
  // The CPU budget the tracer holds itself to; percent 0: none. resume_probes is set from the mode.
  model::BudgetPolicy budget{.percent = 0};
  // Every budget step, with the budget after it (to log, record and count: never silent).
  std::function<void(const model::BudgetStep&, const model::CpuBudget&)> on_budget;
  // A fault signal anywhere on the host; unset: no crash watch is loaded.
  std::function<void(const output::CrashSignature&)> on_crash;
};

// Traces for options.duration_s (or until stop). Throws UserError for missing privileges or a
// missing kernel feature; a process that cannot be traced is skipped with a note, never fatal.
HostScanStats trace_host(const HostTraceOptions& options);

}  // namespace ut::trace
