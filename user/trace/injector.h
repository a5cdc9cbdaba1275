// Lifecycle of validate's kernel side (bpf/inject.bpf.c): loaded and hooked to signal delivery
// once, then for each run of the target: its configuration (process, sites), two uprobes per site
// (the one that sends the signal, the one that re-reads the slots on resume), events, counters.
// Everything is detached by end_run() and the destructor, so any exit path leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "events.h"
#include "trace/bpf_lifecycle.h"

struct inject_bpf;
struct bpf_program;
struct ring_buffer;

namespace ut::trace {

using InjectCounters = std::array<uint64_t, UT_INJ_COUNTERS>;  // by enum ut_inject_counter

class Injector {
 public:
  // Opens, loads, and hooks signal delivery; throws UserError(KernelFeature) saying what is missing.
  Injector();
  ~Injector();
  Injector(const Injector&) = delete;
  Injector& operator=(const Injector&) = delete;

  // Clears the previous run's counters and state, then targets config.tgid.
  void start_run(const ut_inject_config& config);
  // Uprobes for config.sites[site] in `pid` on the object at `path` (as /proc/PID/root/...):
  // the instruction before the landing one sends the signal; the landing one checks the slots.
  void attach_injection(pid_t pid, const std::string& path, uint64_t file_offset, uint32_t site);
  void attach_check(pid_t pid, const std::string& path, uint64_t file_offset, uint32_t site);
  // Stops targeting the process and detaches its uprobes; counters and events stay readable.
  // Never throws: it runs on every way out of a run.
  void end_run() noexcept;

  // Delivers every event waiting in the ring buffer; returns how many.
  size_t drain(const std::function<void(const ut_inject_event&)>& on_event);
  InjectCounters site_counters(uint32_t site) const;
  InjectCounters process_counters() const;  // UT_INJ_FATAL, UT_INJ_LOST

 private:
  void attach_uprobe(bpf_program* program, pid_t pid, const std::string& path, uint64_t file_offset,
                     uint32_t site, const char* role);
  void write_config(const ut_inject_config& config);
  InjectCounters read_block(uint32_t block) const;
  static int dispatch(void* self, void* data, size_t size);

  inject_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  LinkPtr signal_hook_;
  std::vector<LinkPtr> probes_;
  const std::function<void(const ut_inject_event&)>* on_event_ = nullptr;  // valid during drain()
};

}  // namespace ut::trace
