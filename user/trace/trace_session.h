// One traced process from attach to detach: find its hazardous routines, describe them to the
// kernel side, attach, drain events into the joiner until told to stop, then collect the
// kernel's counters. The commands (attach, demo) only choose options and render the result.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/join.h"
#include "model/session.h"

namespace ut::trace {

struct TraceOptions {
  pid_t pid = 0;
  std::optional<double> duration_s;       // stop after this long; otherwise at stop or target exit
  const std::atomic<bool>* stop = nullptr;  // set from a SIGINT/SIGTERM handler
  int poll_interval_ms = 100;             // how often the ring buffer is drained
  uint32_t ring_buffer_bytes = 8u << 20;
  std::function<void(const std::string&)> on_attached;  // told what is traced, once attached
  std::function<void(const model::JoinedSignal&, const model::Session&)> on_hit;  // live output
};

struct TraceResult {
  model::Session session;
  std::unique_ptr<model::Joiner> joiner;  // finished
  std::vector<std::string> warnings;      // objects not analysed, probes missing, truncations
};

// Throws UserError for a missing target, missing privileges or a kernel feature missing.
// A target without hazardous routines is not an error: the result has no routines and names
// the unwinder it uses instead, and nothing is attached.
TraceResult trace_process(const TraceOptions& options);

}  // namespace ut::trace
