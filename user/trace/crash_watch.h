// Host mode's crash watch (bpf/crash.bpf.c): every fault signal delivered on the host, with the
// registers a crash signature needs. Everything is released by the destructor.
#pragma once

#include <cstdint>
#include <functional>

#include "events.h"
#include "trace/bpf_lifecycle.h"

struct crash_bpf;
struct ring_buffer;

namespace ut::trace {

class CrashWatch {
 public:
  // Loads and attaches; throws UserError(KernelFeature) saying what is missing.
  CrashWatch();
  ~CrashWatch();
  CrashWatch(const CrashWatch&) = delete;
  CrashWatch& operator=(const CrashWatch&) = delete;

  // Delivers every crash event waiting; returns how many.
  size_t drain(const std::function<void(const ut_crash_event&)>& on_crash);
  uint64_t lost() const;  // events the ring buffer had no room for

 private:
  crash_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  LinkPtr link_;
  const std::function<void(const ut_crash_event&)>* on_crash_ = nullptr;  // valid during drain()

  static int dispatch(void* self, void* data, size_t size);
};

}  // namespace ut::trace
