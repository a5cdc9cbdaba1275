#include "trace/host_watch.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>

#include <fmt/format.h>

#include "crash.skel.h"
#include "trace/libbpf_log.h"
#include "trace/tracer_cost.h"

namespace ut::trace {

HostWatch::HostWatch(bool crashes) {
  install_libbpf_log();
  require_kernel_btf();
  skel_ = crash_bpf__open_and_load();
  if (!skel_)
    throw kernel_error("cannot load the host watch", errno, "needs tp_btf; libbpf's log above says more (-v)");
  ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.crashes), &HostWatch::dispatch, this, nullptr);
  if (!ring_) {
    int err = errno;
    crash_bpf__destroy(skel_);
    throw kernel_error("cannot create the host watch's ring buffer reader", err, "");
  }
  auto attach = [this](bpf_program* program, const char* tracepoint) {
    bpf_link* link = bpf_program__attach_trace(program);
    if (!link) {
      int err = errno;
      links_.clear();
      ring_buffer__free(ring_);
      crash_bpf__destroy(skel_);
      throw kernel_error(fmt::format("cannot attach the host watch to tp_btf/{}", tracepoint), err,
                         "this kernel lacks BTF-enabled tracepoints (CONFIG_DEBUG_INFO_BTF)");
    }
    links_.emplace_back(link);
  };
  attach(skel_->progs.handle_exec, "sched_process_exec");
  if (crashes) attach(skel_->progs.handle_fault_signal, "signal_deliver");
}

HostWatch::~HostWatch() {
  links_.clear();  // detach before the programs go away
  ring_buffer__free(ring_);
  crash_bpf__destroy(skel_);
}

void HostWatch::watch_exec(pid_t pid) {
  const auto key = static_cast<uint32_t>(pid);
  const uint8_t one = 1;
  if (bpf_map__update_elem(skel_->maps.exec_watched, &key, sizeof(key), &one, sizeof(one), BPF_ANY))
    throw kernel_error(fmt::format("cannot watch process {} for execs", pid), errno, "too many traced processes?");
}

void HostWatch::unwatch_exec(pid_t pid) {
  const auto key = static_cast<uint32_t>(pid);
  if (bpf_map__delete_elem(skel_->maps.exec_watched, &key, sizeof(key), 0) && errno != ENOENT)
    throw kernel_error(fmt::format("cannot stop watching process {} for execs", pid), errno, "");
}

int HostWatch::dispatch(void* self, void* data, size_t size) {
  const HostWatchHandlers& handlers = *static_cast<HostWatch*>(self)->handlers_;
  const auto* hdr = static_cast<const ut_event_header*>(data);
  if (size < sizeof(*hdr)) return 0;
  if (hdr->kind == UT_EVENT_CRASH && size >= sizeof(ut_crash_event) && handlers.on_crash)
    handlers.on_crash(*static_cast<const ut_crash_event*>(data));
  else if (hdr->kind == UT_EVENT_EXEC && handlers.on_exec)
    handlers.on_exec(static_cast<pid_t>(hdr->tgid));
  return 0;
}

size_t HostWatch::drain(const HostWatchHandlers& handlers) {
  handlers_ = &handlers;
  int n = ring_buffer__consume(ring_);
  handlers_ = nullptr;
  if (n < 0) throw kernel_error("cannot read the host watch's ring buffer", -n, "");
  return static_cast<size_t>(n);
}

uint64_t HostWatch::lost() const {
  uint32_t zero = 0;
  uint64_t lost = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.crashes_lost), &zero, &lost) != 0) return 0;
  return lost;
}

uint64_t HostWatch::programs_run_ns() const { return trace::programs_run_ns(skel_->obj); }

}  // namespace ut::trace
