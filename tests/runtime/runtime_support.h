// Shared by the runtime tests: they run the real tool against the real kernel and the bundled
// workload, so they need root. Without root they skip loudly; under CI=true they fail instead.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "proc/child_process.h"

namespace ut::runtime_test {

// Call first in every runtime test.
#define UT_REQUIRE_ROOT()                                      \
  do {                                                         \
    if (auto why = ::ut::runtime_test::why_cannot_trace()) {   \
      if (::ut::runtime_test::skipping_forbidden())            \
        FAIL() << *why << " (CI=true: runtime tests must run)"; \
      GTEST_SKIP() << "SKIPPING BPF RUNTIME TEST: " << *why;   \
    }                                                          \
  } while (0)

std::optional<std::string> why_cannot_trace();
bool skipping_forbidden();

std::string tool_path();                              // the built unwindtrace
inline constexpr const char* kGnuLibunwind = "/usr/lib/x86_64-linux-gnu/libunwind.so.8";
// Offsets ("0x52", ...) of every window instruction of kGnuLibunwind's routines, from its analysis
// on this machine: the GNU workload's --window-offsets. Empty if nothing was found.
std::vector<std::string> gnu_window_offsets();

std::string workload_path(const std::string& unwinder);  // gnu, llvm, libgcc

// A workload started with --wait-for-go: it has printed "ready PID" and waits for go().
class Workload {
 public:
  Workload(const std::string& unwinder, const std::vector<std::string>& args);
  pid_t pid() const { return child_->pid(); }
  void go();
  // Waits for the exit and returns the workload's own JSON result.
  nlohmann::json finish(double timeout_s);
  proc::ChildProcess& process() { return *child_; }

 private:
  std::unique_ptr<proc::ChildProcess> child_;
};

// A GNU workload without a storm (waiting for go()) that stops once its handler has seen
// `per_offset` signals at each of `offsets` (injected by `validate --pid`), or after 120 s.
Workload injection_workload(const std::vector<std::string>& offsets, uint64_t per_offset,
                            const std::vector<std::string>& extra_args);

// Kernel IDs of BPF objects, as bpftool shows them.
struct BpfObjectIds {
  std::set<uint32_t> programs, links, maps;
  bool empty() const { return programs.empty() && links.empty() && maps.empty(); }
  bool operator==(const BpfObjectIds&) const = default;
  void merge(const BpfObjectIds& other);
  std::string describe() const;  // "programs 12 13, links 4, maps 7" or "none"
};

// The BPF programs, links and maps process `pid` holds open, from its descriptors' fdinfo
// (prog_id, link_id, map_id): per process, so another tracer on the host cannot confuse a check.
// (This bpftool is built without skeletons, so its "pids" fields are not available.)
BpfObjectIds bpf_objects_held_by(pid_t pid);
// Of `ids`, those the kernel still has (bpftool -j prog|link|map show), after waiting up to
// `timeout_s` for them to go: a detached tp_btf program is freed after an RCU grace period.
BpfObjectIds still_loaded(const BpfObjectIds& ids, double timeout_s = 3);
// `bpftool -j ARGS`, parsed (discarded when bpftool fails).
nlohmann::json bpftool_json(const std::string& args);
// Entries of the map named `name` among `held` (one tracer's maps), or nullopt if none is.
std::optional<size_t> map_entries(const BpfObjectIds& held, const std::string& name);
// ChildProcess::wait that meanwhile records every BPF object the child holds.
std::optional<int> wait_recording_bpf_objects(proc::ChildProcess& child, double timeout_s,
                                              BpfObjectIds& held);

// `unwindtrace attach -p PID --json FILE -q ...`, started and waited until it says it attached.
class Tracer {
 public:
  Tracer(pid_t pid, const std::vector<std::string>& extra_args = {});
  ~Tracer();
  bool attached() const { return attached_; }
  const std::string& first_stderr_line() const { return first_line_; }
  proc::ChildProcess& process() { return *child_; }
  // What the tracer held once attached: check still_loaded(bpf_objects()) after it exits.
  const BpfObjectIds& bpf_objects() const { return bpf_objects_; }
  // Waits for the exit; returns its status (nullopt after a timeout, when it is killed) and
  // leaves the report in report().
  std::optional<int> finish(double timeout_s);
  const nlohmann::json& report() const { return report_; }
  const std::string& stdout_text() const { return stdout_; }
  const std::string& stderr_text() const { return stderr_; }

 private:
  std::string json_path_;
  std::unique_ptr<proc::ChildProcess> child_;
  bool attached_ = false;
  std::string first_line_;
  BpfObjectIds bpf_objects_;
  nlohmann::json report_;
  std::string stdout_, stderr_;
};

// Kinds of the BPF links process `pid` holds open ("raw_tracepoint", "perf uprobe",
// "perf tracepoint": a perf link with its event type, ...), read
// from /proc/PID/fdinfo: what one tracer attached, whatever other tracers on the host do.
std::vector<std::string> bpf_link_types(pid_t pid);

}  // namespace ut::runtime_test
