// Host mode's watch (bpf/crash.bpf.c): every fault signal delivered on the host, with the
// registers a crash signature needs, and every exec of a process host mode traces. Everything
// is released by the destructor.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "events.h"
#include "trace/bpf_lifecycle.h"

struct crash_bpf;
struct ring_buffer;

namespace ut::trace {

struct HostWatchHandlers {
  std::function<void(const ut_crash_event&)> on_crash;
  std::function<void(pid_t)> on_exec;  // a watched process exec'd
};

class HostWatch {
 public:
  // Loads and attaches the exec watch, and the crash watch when `crashes`; throws
  // UserError(KernelFeature) saying what is missing.
  explicit HostWatch(bool crashes);
  ~HostWatch();
  HostWatch(const HostWatch&) = delete;
  HostWatch& operator=(const HostWatch&) = delete;

  // Execs of `pid` are reported from now on / no longer.
  void watch_exec(pid_t pid);
  void unwatch_exec(pid_t pid);
  // Delivers every event waiting; returns how many.
  size_t drain(const HostWatchHandlers& handlers);
  uint64_t lost() const;  // events the ring buffer had no room for
  uint64_t programs_run_ns() const;  // with bpf_stats on (trace/tracer_cost.h)

 private:
  crash_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  std::vector<LinkPtr> links_;
  const HostWatchHandlers* handlers_ = nullptr;  // valid during drain()

  static int dispatch(void* self, void* data, size_t size);
};

}  // namespace ut::trace
