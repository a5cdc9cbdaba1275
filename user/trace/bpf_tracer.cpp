#include "trace/bpf_tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "errors.h"
#include "trace.skel.h"
#include "trace/bpf_lifecycle.h"
#include "trace/libbpf_log.h"
#include "trace/tracer_cost.h"

namespace ut::trace {

BpfTracer::BpfTracer(uint32_t ring_buffer_bytes) {
  install_libbpf_log();
  require_kernel_btf();
  skel_ = trace_bpf__open();
  if (!skel_)
    throw kernel_error("cannot open the BPF programs", errno, "is libbpf installed (scripts/setup.sh)?");
  int err = bpf_map__set_max_entries(skel_->maps.events, ring_buffer_bytes);
  if (err) {
    trace_bpf__destroy(skel_);
    throw kernel_error("cannot size the ring buffer", -err, "use a power of two of at least 4096");
  }
  err = trace_bpf__load(skel_);
  if (err) {
    trace_bpf__destroy(skel_);
    throw kernel_error("cannot load the BPF programs", -err,
                       "needs tp_btf and uprobes; libbpf's log above says more (or rerun with -v)");
  }
  ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &BpfTracer::dispatch, this, nullptr);
  if (!ring_) {
    err = errno;
    trace_bpf__destroy(skel_);
    throw kernel_error("cannot create the ring buffer reader", err, "");
  }
}

BpfTracer::~BpfTracer() {
  links_.clear();  // detach before the programs go away
  slot_checks_.reset();
  ring_buffer__free(ring_);
  trace_bpf__destroy(skel_);
}

void BpfTracer::watch_process(pid_t pid, const ut_target& target) {
  uint32_t key = static_cast<uint32_t>(pid);
  if (bpf_map__update_elem(skel_->maps.targets, &key, sizeof(key), &target, sizeof(target), BPF_ANY))
    throw kernel_error(fmt::format("cannot register process {} with the kernel side", pid), errno,
                       "too many traced processes?");
}

void BpfTracer::unwatch_process(pid_t pid) {
  uint32_t key = static_cast<uint32_t>(pid);
  if (bpf_map__delete_elem(skel_->maps.targets, &key, sizeof(key), 0) && errno != ENOENT)
    throw kernel_error(fmt::format("cannot unregister process {} from the kernel side", pid), errno, "");
}

namespace {

// Keys of `map` that `select` accepts; collected first, since deleting while walking restarts it.
template <typename Key, typename Select>
std::vector<Key> keys_where(int fd, Select select) {
  std::vector<Key> keys;
  Key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (select(next)) keys.push_back(next);
    key = next;
    prev = &key;
  }
  return keys;
}

void delete_keys(int fd, const auto& keys, const char* what) {
  for (const auto& key : keys)
    if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
      throw kernel_error(fmt::format("cannot delete an entry of the {} map", what), errno, "");
}

}  // namespace

void BpfTracer::forget_process(pid_t pid) {
  const auto tgid = static_cast<uint32_t>(pid);
  int counts_fd = bpf_map__fd(skel_->maps.signal_counts);
  delete_keys(counts_fd,
              keys_where<ut_signal_key>(counts_fd, [tgid](const ut_signal_key& k) { return k.tgid == tgid; }),
              "signal_counts");
  std::vector<uint32_t> tids;
  for (const auto& [tid, state] : thread_states())
    if (state.tgid == tgid) tids.push_back(tid);
  delete_keys(bpf_map__fd(skel_->maps.threads), tids, "threads");
  int shapes_fd = bpf_map__fd(skel_->maps.resume_shapes);
  delete_keys(shapes_fd,
              keys_where<ut_shape_key>(shapes_fd, [tgid](const ut_shape_key& k) { return k.tgid == tgid; }),
              "resume_shapes");
  delete_keys(bpf_map__fd(skel_->maps.lost_events), std::vector<uint32_t>{tgid}, "lost_events");
}

void BpfTracer::set_resume_period(uint32_t period) {
  // The bss is mapped into this process: a plain store the programs see at once.
  __atomic_store_n(&skel_->bss->resume_period, period, __ATOMIC_SEQ_CST);
}

void BpfTracer::attach_signal_hook() {
  const std::pair<bpf_program*, const char*> hooks[] = {
      {skel_->progs.handle_signal_deliver, "signal_deliver"},
      {skel_->progs.handle_thread_exit, "sched_process_exit"}};
  for (const auto& [program, tracepoint] : hooks) {
    bpf_link* link = bpf_program__attach_trace(program);
    if (!link)
      throw kernel_error(fmt::format("cannot attach to tp_btf/{}", tracepoint), errno,
                         "this kernel lacks BTF-enabled tracepoints (CONFIG_DEBUG_INFO_BTF)");
    links_.emplace_back(link);
  }
}

void BpfTracer::attach_slot_checks() {
  bpf_link* link = bpf_program__attach(skel_->progs.handle_sigreturn);
  if (!link)
    throw kernel_error("cannot attach to tracepoint syscalls/sys_enter_rt_sigreturn", errno,
                       "this kernel lacks syscall tracepoints (CONFIG_FTRACE_SYSCALLS)");
  slot_checks_.reset(link);
  __atomic_store_n(&skel_->bss->slot_checks_on, 1, __ATOMIC_SEQ_CST);
}

void BpfTracer::detach_slot_checks() {
  __atomic_store_n(&skel_->bss->slot_checks_on, 0, __ATOMIC_SEQ_CST);
  slot_checks_.reset();
}

LinkPtr BpfTracer::attach_resume_probe(pid_t pid, const std::string& path, uint64_t file_offset,
                                       uint32_t routine_index) {
  LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = routine_index, .retprobe = false);
  bpf_link* link = bpf_program__attach_uprobe_opts(skel_->progs.handle_resume, pid, path.c_str(),
                                                   file_offset, &opts);
  if (!link)
    throw kernel_error(fmt::format("cannot attach a uprobe to {}+{:#x} in process {}", path,
                                   file_offset, pid),
                       errno, "the kernel needs CONFIG_UPROBES; the process may have exited");
  return LinkPtr(link);
}

int BpfTracer::dispatch(void* self, void* data, size_t size) {
  auto* tracer = static_cast<BpfTracer*>(self);
  const auto* hdr = static_cast<const ut_event_header*>(data);
  if (size < sizeof(*hdr)) return 0;
  if (hdr->kind == UT_EVENT_SIGNAL && size >= sizeof(ut_signal_event) &&
           tracer->handlers_->on_signal)
    tracer->handlers_->on_signal(*static_cast<const ut_signal_event*>(data));
  else if (hdr->kind == UT_EVENT_SLOT_CHECK && size >= sizeof(ut_slot_check_event) && tracer->handlers_->on_slot_check)
    tracer->handlers_->on_slot_check(*static_cast<const ut_slot_check_event*>(data));
  else if (hdr->kind == UT_EVENT_FATAL && size >= sizeof(ut_fatal_event) && tracer->handlers_->on_fatal)
    tracer->handlers_->on_fatal(*static_cast<const ut_fatal_event*>(data));
  else if (hdr->kind == UT_EVENT_THREAD_END && size >= sizeof(ut_thread_end_event) &&
           tracer->handlers_->on_thread_end)
    tracer->handlers_->on_thread_end(*static_cast<const ut_thread_end_event*>(data));
  return 0;
}

size_t BpfTracer::drain(const EventHandlers& handlers) {
  handlers_ = &handlers;
  int n = ring_buffer__consume(ring_);
  handlers_ = nullptr;
  if (n < 0) throw kernel_error("cannot read the ring buffer", -n, "");
  return static_cast<size_t>(n);
}

std::vector<SignalCount> BpfTracer::signal_counts(pid_t pid) const {
  std::vector<SignalCount> out;
  int fd = bpf_map__fd(skel_->maps.signal_counts);
  const auto tgid = static_cast<uint32_t>(pid);
  for (const auto& key : keys_where<ut_signal_key>(fd, [tgid](const ut_signal_key& k) { return k.tgid == tgid; })) {
    uint64_t count = 0;
    if (bpf_map_lookup_elem(fd, &key, &count) == 0) out.push_back({key, count});
  }
  return out;
}

std::map<uint32_t, ut_thread_state> BpfTracer::thread_states() const {
  std::map<uint32_t, ut_thread_state> out;
  int fd = bpf_map__fd(skel_->maps.threads);
  for (uint32_t tid : keys_where<uint32_t>(fd, [](uint32_t) { return true; })) {
    ut_thread_state state{};
    if (bpf_map_lookup_elem(fd, &tid, &state) == 0) out[tid] = state;
  }
  return out;
}

std::vector<std::pair<ut_shape_key, uint64_t>> BpfTracer::resume_shapes(pid_t pid) const {
  std::vector<std::pair<ut_shape_key, uint64_t>> out;
  int fd = bpf_map__fd(skel_->maps.resume_shapes);
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) throw kernel_error("cannot count the possible CPUs", -ncpu, "");
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu));
  const auto tgid = static_cast<uint32_t>(pid);
  for (const auto& key : keys_where<ut_shape_key>(fd, [tgid](const ut_shape_key& k) { return k.tgid == tgid; })) {
    if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) != 0) continue;
    uint64_t count = 0;
    for (uint64_t n : per_cpu) count += n;
    out.emplace_back(key, count);
  }
  return out;
}

std::array<uint64_t, UT_LOST_KINDS> BpfTracer::lost_events(pid_t pid) const {
  std::array<uint64_t, UT_LOST_KINDS> out{};
  int fd = bpf_map__fd(skel_->maps.lost_events);
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return out;
  std::vector<ut_lost_counts> per_cpu(static_cast<size_t>(ncpu));
  const auto tgid = static_cast<uint32_t>(pid);
  if (bpf_map_lookup_elem(fd, &tgid, per_cpu.data()) != 0) return out;  // nothing lost
  for (const ut_lost_counts& cpu : per_cpu)
    for (size_t kind = 0; kind < UT_LOST_KINDS; ++kind) out[kind] += cpu.n[kind];
  return out;
}

uint64_t BpfTracer::programs_run_ns() const { return trace::programs_run_ns(skel_->obj); }

}  // namespace ut::trace
