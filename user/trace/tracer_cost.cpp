#include "trace/tracer_cost.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include "trace/bpf_lifecycle.h"

namespace ut::trace {

TracerCost::TracerCost() : stats_fd_(bpf_enable_stats(BPF_STATS_RUN_TIME)) {
  if (stats_fd_ < 0)
    throw kernel_error("cannot turn on the kernel's BPF run-time statistics (BPF_ENABLE_STATS) for the CPU budget",
                       -stats_fd_, "needs Linux 5.8 or later; --cpu-budget 0 traces without a budget");
}

TracerCost::~TracerCost() { close(stats_fd_); }

uint64_t TracerCost::process_cpu_ns() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);  // cannot fail for RUSAGE_SELF with a valid pointer
  auto ns = [](const timeval& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(t.tv_usec) * 1000ull;
  };
  return ns(usage.ru_utime) + ns(usage.ru_stime);
}

uint64_t programs_run_ns(const bpf_object* object) {
  uint64_t total = 0;
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, object) {
    const int fd = bpf_program__fd(program);
    if (fd < 0) continue;  // not loaded (autoload off)
    bpf_prog_info info{};
    __u32 length = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &length))
      throw kernel_error("cannot read a BPF program's run time", errno, "");
    total += info.run_time_ns;
  }
  return total;
}

}  // namespace ut::trace
