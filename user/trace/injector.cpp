#include "trace/injector.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>

#include <fmt/format.h>

#include "inject.skel.h"
#include "trace/libbpf_log.h"

namespace ut::trace {

namespace {

// Deletes every key of a hash map.
void clear_hash_map(int fd, uint32_t key_size) {
  std::vector<char> key(key_size);
  while (bpf_map_get_next_key(fd, nullptr, key.data()) == 0)
    if (bpf_map_delete_elem(fd, key.data()) != 0)
      throw kernel_error("cannot clear an injection map", errno, "");
}

}  // namespace

Injector::Injector() {
  install_libbpf_log();
  require_kernel_btf();
  skel_ = inject_bpf__open_and_load();
  if (!skel_)
    throw kernel_error("cannot load the injection programs", errno,
                       "needs tp_btf, uprobes and bpf_send_signal_thread; libbpf's log above says more "
                       "(or rerun with -v)");
  ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &Injector::dispatch, this, nullptr);
  if (!ring_) {
    int err = errno;
    inject_bpf__destroy(skel_);
    throw kernel_error("cannot create the ring buffer reader", err, "");
  }
  signal_hook_.reset(bpf_program__attach_trace(skel_->progs.on_signal_deliver));
  if (!signal_hook_) {
    int err = errno;
    ring_buffer__free(ring_);
    inject_bpf__destroy(skel_);
    throw kernel_error("cannot attach to tp_btf/signal_deliver", err,
                       "this kernel lacks BTF-enabled tracepoints (CONFIG_DEBUG_INFO_BTF)");
  }
}

Injector::~Injector() {
  destroy_links(probes_);  // detach before the programs go away
  signal_hook_.reset();
  ring_buffer__free(ring_);
  inject_bpf__destroy(skel_);
}

void Injector::start_run(const ut_inject_config& config) {
  std::vector<uint64_t> zeros((UT_INJECT_MAX_SITES + 1) * UT_INJ_COUNTERS, 0);
  int counters = bpf_map__fd(skel_->maps.counters);
  for (uint32_t index = 0; index < zeros.size(); ++index)
    if (bpf_map_update_elem(counters, &index, &zeros[index], BPF_ANY) != 0)
      throw kernel_error("cannot reset the injection counters", errno, "");
  clear_hash_map(bpf_map__fd(skel_->maps.pending), sizeof(uint32_t));
  clear_hash_map(bpf_map__fd(skel_->maps.landed), sizeof(uint32_t));
  write_config(config);
}

void Injector::end_run() noexcept {
  uint32_t zero = 0;
  ut_inject_config none{};  // tgid 0: no target. Best effort: the uprobes go anyway.
  bpf_map_update_elem(bpf_map__fd(skel_->maps.run_config), &zero, &none, BPF_ANY);
  destroy_links(probes_);
}

void Injector::write_config(const ut_inject_config& config) {
  uint32_t zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.run_config), &zero, &config, BPF_ANY) != 0)
    throw kernel_error("cannot configure the injection programs", errno, "");
}

void Injector::attach_injection(pid_t pid, const std::string& path, uint64_t file_offset, uint32_t site) {
  attach_uprobe(skel_->progs.inject_signal, pid, path, file_offset, site, "injecting");
}

void Injector::attach_check(pid_t pid, const std::string& path, uint64_t file_offset, uint32_t site) {
  attach_uprobe(skel_->progs.check_slots, pid, path, file_offset, site, "checking");
}

void Injector::attach_uprobe(bpf_program* program, pid_t pid, const std::string& path, uint64_t file_offset,
                             uint32_t site, const char* role) {
  LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = site, .retprobe = false);
  bpf_link* link = bpf_program__attach_uprobe_opts(program, pid, path.c_str(), file_offset, &opts);
  if (!link)
    throw kernel_error(
        fmt::format("cannot attach the {} uprobe to {}+{:#x} in process {}", role, path, file_offset, pid),
        errno, "the kernel needs CONFIG_UPROBES; the process may have exited");
  probes_.emplace_back(link);
}

int Injector::dispatch(void* self, void* data, size_t size) {
  auto* injector = static_cast<Injector*>(self);
  if (size >= sizeof(ut_inject_event)) (*injector->on_event_)(*static_cast<const ut_inject_event*>(data));
  return 0;
}

size_t Injector::drain(const std::function<void(const ut_inject_event&)>& on_event) {
  on_event_ = &on_event;
  int n = ring_buffer__consume(ring_);
  on_event_ = nullptr;
  if (n < 0) throw kernel_error("cannot read the ring buffer", -n, "");
  return static_cast<size_t>(n);
}

InjectCounters Injector::site_counters(uint32_t site) const { return read_block(site); }

InjectCounters Injector::process_counters() const { return read_block(UT_INJECT_MAX_SITES); }

InjectCounters Injector::read_block(uint32_t block) const {
  InjectCounters out{};
  int fd = bpf_map__fd(skel_->maps.counters);
  for (uint32_t counter = 0; counter < UT_INJ_COUNTERS; ++counter) {
    uint32_t index = block * UT_INJ_COUNTERS + counter;
    if (bpf_map_lookup_elem(fd, &index, &out[counter]) != 0)
      throw kernel_error("cannot read the injection counters", errno, "");
  }
  return out;
}

}  // namespace ut::trace
