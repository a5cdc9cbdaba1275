// Host mode: every process on the host whose C++ exceptions unwind through an exposed routine,
// traced at once with one set of BPF programs, the host rescanned periodically so processes
// started, exec'd or dlopen'ing an unwinder later join in. Each traced process keeps its own
// session and joiner, so its report is built exactly as `attach` builds one.
//
// Drives BpfTracer directly (h1's multi-process session API was not available when this was
// written); the per-process session setup mirrors trace_session.cpp. Crashes of every process
// come from the crash watch (bpf/crash.bpf.c), joined with what the traced processes showed.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/join.h"
#include "model/session.h"
#include "output/record_builder.h"
#include "proc/process_info.h"

namespace ut::trace {

struct HostProcess {
  proc::ProcessInfo info;
  model::Session session;
  std::unique_ptr<model::Joiner> joiner;
  output::ProcessFacts facts;
  std::vector<std::string> warnings;
  bool ended = false;  // exited or exec'd: its last snapshot is final
};

struct HostScanStats {
  uint64_t scans = 0;
  double last_scan_s = 0;
  size_t traced_now = 0;
  size_t traced_total = 0;
};

struct HostTraceOptions {
  double duration_s = 0;  // how long to trace; stop ends it earlier
  const std::atomic<bool>* stop = nullptr;
  double rescan_interval_s = 2;
  double snapshot_interval_s = 60;  // on_snapshot for every traced process this often
  int poll_interval_ms = 100;
  uint32_t ring_buffer_bytes = 8u << 20;
  output::TraceMode mode = output::TraceMode::SignalOnly;
  double sample_duty = 1;  // recorded with each process: the fraction of time traced
  // This host's signal frame, measured by the caller before it starts any thread.
  std::optional<host::FrameSize> frame;
  std::vector<pid_t> only;  // for tests: consider these PIDs only ("" = every process)
  std::function<void(const std::string&)> on_note;  // one line: attached, ended, skipped
  // A process's totals so far (final = true once: at its end or the window's end).
  std::function<void(const HostProcess&, bool final)> on_snapshot;
  std::function<void(const HostScanStats&)> on_scan;
  // A fault signal anywhere on the host (the crash watch); nullptr: no crash watch is loaded.
  std::function<void(const output::CrashSignature&)> on_crash;
};

// Traces for options.duration_s (or until stop). Throws UserError for missing privileges or a
// missing kernel feature; a process that cannot be traced is skipped with a note, never fatal.
HostScanStats trace_host(const HostTraceOptions& options);

}  // namespace ut::trace
