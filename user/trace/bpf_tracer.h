// Lifecycle of the kernel side: open and load the skeleton, describe traced processes to it,
// attach the signal hook and the resume probes, drain the ring buffer, read the counters.
// Everything is released by the destructor, so any exit path detaches cleanly. Several processes
// share one tracer; each one's map entries are removed when it is forgotten.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "events.h"
#include "trace/bpf_lifecycle.h"

struct trace_bpf;
struct bpf_link;
struct ring_buffer;

namespace ut::trace {

struct EventHandlers {
  std::function<void(const ut_signal_event&)> on_signal;
  std::function<void(const ut_slot_check_event&)> on_slot_check;  // after attach_slot_checks()
  std::function<void(const ut_fatal_event&)> on_fatal;
  // A traced thread ended: its counts left the maps (signal_counts(), thread_states()) in it.
  std::function<void(const ut_thread_end_event&)> on_thread_end;
};

struct SignalCount {
  ut_signal_key key{};
  uint64_t count = 0;
};

class BpfTracer {
 public:
  // Opens and loads the programs; throws UserError(KernelFeature) saying what is missing.
  explicit BpfTracer(uint32_t ring_buffer_bytes = 8u << 20);
  ~BpfTracer();
  BpfTracer(const BpfTracer&) = delete;
  BpfTracer& operator=(const BpfTracer&) = delete;

  // Tells the kernel side which routines of process `pid` to watch (absolute addresses).
  void watch_process(pid_t pid, const ut_target& target);
  // Stops watching `pid`: from now on its signals and resumes are neither counted nor emitted.
  void unwatch_process(pid_t pid);
  // Deletes what the maps still hold for `pid` (counters, thread states, losses).
  void forget_process(pid_t pid);
  // The signal hook, and the thread-exit hook that prunes the per-thread maps.
  void attach_signal_hook();
  // Reads each window hit's slot again at the handler's rt_sigreturn (its syscall tracepoint):
  // every syscall on the host pays ~50-100 ns while attached, so only full tracing attaches it.
  void attach_slot_checks();
  void detach_slot_checks();  // the CPU budget's signal-only step: every syscall pays nothing again
  bool slot_checks_attached() const { return slot_checks_ != nullptr; }
  // A uprobe at `file_offset` of the object at `path`, firing once per entry into routine
  // `routine_index` of `pid`'s ut_target; it counts only while the resume period is non-zero.
  LinkPtr attach_resume_probe(pid_t pid, const std::string& path, uint64_t file_offset,
                              uint32_t routine_index);
  // 0: resume probes count nothing. Set a new non-zero value only once all are attached.
  void set_resume_period(uint32_t period);

  // Delivers every event waiting in the ring buffer; returns how many.
  size_t drain(const EventHandlers& handlers);

  std::vector<SignalCount> signal_counts(pid_t pid) const;
  std::map<uint32_t, ut_thread_state> thread_states() const;  // tid -> state, every process
  // The process's resumes counted by shape, summed over CPUs.
  std::vector<std::pair<ut_shape_key, uint64_t>> resume_shapes(pid_t pid) const;
  std::array<uint64_t, UT_LOST_KINDS> lost_events(pid_t pid) const;
  uint64_t programs_run_ns() const;  // with bpf_stats on (trace/tracer_cost.h)

 private:
  trace_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  std::vector<LinkPtr> links_;  // the signal hook
  LinkPtr slot_checks_;
  const EventHandlers* handlers_ = nullptr;  // valid during drain()

  static int dispatch(void* self, void* data, size_t size);
};

}  // namespace ut::trace
