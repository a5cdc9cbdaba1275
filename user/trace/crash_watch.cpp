#include "trace/crash_watch.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>

#include "crash.skel.h"
#include "trace/libbpf_log.h"

namespace ut::trace {

CrashWatch::CrashWatch() {
  install_libbpf_log();
  require_kernel_btf();
  skel_ = crash_bpf__open_and_load();
  if (!skel_)
    throw kernel_error("cannot load the crash watch", errno, "needs tp_btf; libbpf's log above says more (-v)");
  ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.crashes), &CrashWatch::dispatch, this, nullptr);
  if (!ring_) {
    int err = errno;
    crash_bpf__destroy(skel_);
    throw kernel_error("cannot create the crash watch's ring buffer reader", err, "");
  }
  bpf_link* link = bpf_program__attach_trace(skel_->progs.handle_fault_signal);
  if (!link) {
    int err = errno;
    ring_buffer__free(ring_);
    crash_bpf__destroy(skel_);
    throw kernel_error("cannot attach the crash watch to tp_btf/signal_deliver", err,
                       "this kernel lacks BTF-enabled tracepoints (CONFIG_DEBUG_INFO_BTF)");
  }
  link_.reset(link);
}

CrashWatch::~CrashWatch() {
  link_.reset();  // detach before the program goes away
  ring_buffer__free(ring_);
  crash_bpf__destroy(skel_);
}

int CrashWatch::dispatch(void* self, void* data, size_t size) {
  auto* watch = static_cast<CrashWatch*>(self);
  if (size >= sizeof(ut_crash_event) && watch->on_crash_)
    (*watch->on_crash_)(*static_cast<const ut_crash_event*>(data));
  return 0;
}

size_t CrashWatch::drain(const std::function<void(const ut_crash_event&)>& on_crash) {
  on_crash_ = &on_crash;
  int n = ring_buffer__consume(ring_);
  on_crash_ = nullptr;
  if (n < 0) throw kernel_error("cannot read the crash watch's ring buffer", -n, "");
  return static_cast<size_t>(n);
}

uint64_t CrashWatch::lost() const {
  uint32_t zero = 0;
  uint64_t lost = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.crashes_lost), &zero, &lost) != 0) return 0;
  return lost;
}

}  // namespace ut::trace
