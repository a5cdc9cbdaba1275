// Traced processes from attach to detach: find each one's hazardous routines, describe them to
// the kernel side, attach, drain events into its joiner, run the resume duty cycle, then
// collect the kernel's counters. One set of BPF programs serves every process of a session;
// processes can be added and removed at any time (a host-wide rescan loop does that), and each
// gets its own result and report. The commands (attach, demo) only choose options and render.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/analysis_cache.h"
#include "host/host_info.h"
#include "host/package_identity.h"
#include "model/join.h"
#include "model/sampling.h"
#include "model/session.h"
#include "model/session_calibration.h"

namespace ut::trace {

class BpfTracer;
class ResumeSampler;

using HitHandler = std::function<void(const model::JoinedSignal&, const model::Session&)>;

struct SessionOptions {
  model::TraceMode mode = model::TraceMode::Sampled;
  model::DutyCycle duty_cycle;  // sampled mode
  uint32_t ring_buffer_bytes = 8u << 20;
  // Full mode only: read each window hit's slot again at its handler's rt_sigreturn. The syscall
  // tracepoint puts every syscall on the host on the kernel's slower traced path (~50-100 ns each;
  // GNU libunwind makes ~110 per resume), so it is asked for, never implied.
  bool slot_checks = false;
  HitHandler on_hit;  // live output, with the session of the process hit
  // Called with a process's PID just before its resume probes are attached; the runtime tests
  // kill the process there, to check that a process dying mid-attach is reported as exited.
  std::function<void(pid_t)> before_probes;
};

struct TraceResult {
  model::Session session;
  std::unique_ptr<model::Joiner> joiner;  // finished
  std::vector<std::string> warnings;      // objects not analysed, probes missing, truncations
};

class TraceSession {
 public:
  // Checks privileges; the BPF programs are loaded when the first exposed process is added.
  explicit TraceSession(SessionOptions options);
  ~TraceSession();
  TraceSession(const TraceSession&) = delete;
  TraceSession& operator=(const TraceSession&) = delete;

  // Analyses `pid` and traces its hazardous routines. A process without any is kept (its report
  // names the unwinder it uses) but nothing is attached for it; so is one that dies while it is
  // being added (its report says it exited; the next poll returns it). Throws UserError(Target)
  // for a process that cannot be inspected (gone or a zombie already), UserError(KernelFeature)
  // when the kernel side fails.
  const model::Session& add_process(pid_t pid);
  // Stops tracing `pid` and hands back its result. Throws std::out_of_range if not traced.
  TraceResult remove_process(pid_t pid);
  // Waits up to `timeout_ms` (less when the duty cycle is due), drains the events and switches
  // resume tracing on or off. Returns processes that exited, exec'd or unmapped a traced object
  // since the last call; they stay traced (their last events drained) until removed.
  std::vector<pid_t> poll(int timeout_ms);
  // Removes every process; results in the order the processes were added.
  std::vector<TraceResult> finish();

  // The resume duty cycle from now on (the CPU budget lowers it): unset stops resume tracing
  // (signal only). Ignored in signal-only mode. Resume rates stay exact: they cover on-time only.
  void set_resume_cycle(std::optional<model::DutyCycle> cycle);
  uint64_t programs_run_ns() const;  // the BPF programs' run time so far (bpf_stats on)

  std::vector<pid_t> processes() const;  // in the order added
  // One line: what is traced in `pid` and how, for the "attached" message.
  std::string describe(pid_t pid) const;

 private:
  struct Process;

  BpfTracer& tracer();
  void drain();
  void add_ended_thread(Process& process, const ut_thread_end_event& e);
  void attach_probes(Process& process);
  void attach_missing_probes();
  // false (nothing attached) if the process died meanwhile; throws if the kernel refused.
  bool attach_probes_unless_gone(Process& process);
  void detach_all_probes();
  void count_period(Process& process, const std::map<uint32_t, ut_thread_state>& states,
                    std::chrono::steady_clock::time_point until);
  void end_period();
  void start_sampler();
  bool slot_checks_wanted() const;

  SessionOptions options_;
  analysis::AnalysisCache cache_;  // shared: many processes map the same unwinder
  host::PackageIndex packages_;                    // dpkg's file index, read once per session
  std::optional<host::HostInfo> host_;             // host facts, read once per session
  std::optional<model::SessionCalibration> calibration_;  // loaded once per session
  std::unique_ptr<BpfTracer> tracer_;
  std::unique_ptr<ResumeSampler> sampler_;  // full and sampled modes, once loaded
  std::optional<model::DutyCycle> resume_cycle_;  // what the sampler runs; unset: no resume probes
  double load_ms_ = 0;
  std::vector<pid_t> order_;
  std::map<pid_t, std::unique_ptr<Process>> processes_;
  std::chrono::steady_clock::time_point period_down_at_{};
};

struct TraceOptions {
  std::vector<pid_t> pids;
  SessionOptions session;
  std::optional<double> duration_s;       // stop after this long; otherwise at stop or exits
  const std::atomic<bool>* stop = nullptr;  // set from a SIGINT/SIGTERM handler
  int poll_interval_ms = 100;             // how often the ring buffer is drained
  std::function<void(const std::string&)> on_attached;  // told what is traced, once attached
};

// Traces `pids` until every one has exited, `stop` or the duration. One result per process, in
// the order given. Throws UserError for a missing target, missing privileges or a kernel
// feature missing.
std::vector<TraceResult> trace_processes(const TraceOptions& options);
// The one-process case: options.pids must hold exactly one pid.
TraceResult trace_process(const TraceOptions& options);

}  // namespace ut::trace
