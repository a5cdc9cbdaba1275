// Shared by the runtime tests: they run the real tool against the real kernel and the bundled
// workload, so they need root. Without root they skip loudly; under CI=true they fail instead.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
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

// `unwindtrace attach -p PID --json FILE -q ...`, started and waited until it says it attached.
class Tracer {
 public:
  Tracer(pid_t pid, const std::vector<std::string>& extra_args = {});
  ~Tracer();
  bool attached() const { return attached_; }
  const std::string& first_stderr_line() const { return first_line_; }
  proc::ChildProcess& process() { return *child_; }
  // Waits for the exit; returns its status and leaves the report in report().
  std::optional<int> finish(double timeout_s);
  const nlohmann::json& report() const { return report_; }
  const std::string& stdout_text() const { return stdout_; }
  const std::string& stderr_text() const { return stderr_; }

 private:
  std::string json_path_;
  std::unique_ptr<proc::ChildProcess> child_;
  bool attached_ = false;
  std::string first_line_;
  nlohmann::json report_;
  std::string stdout_, stderr_;
};

// Kinds of the BPF links process `pid` holds open ("tracing", "perf" for a uprobe, ...), read
// from /proc/PID/fdinfo: what one tracer attached, whatever other tracers on the host do.
std::vector<std::string> bpf_link_types(pid_t pid);

// Programs of ours still loaded in the kernel (by program name).
std::vector<std::string> loaded_unwindtrace_programs();

}  // namespace ut::runtime_test
