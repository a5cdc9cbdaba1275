// attach's life cycle: clean detach on SIGTERM and at the target's exit, and clear errors.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include "runtime_support.h"

namespace ut::runtime_test {
namespace {

TEST(AttachLifecycle, SigtermDetachesAndLeavesNoProgramsBehind) {
  UT_REQUIRE_ROOT();
  Workload workload("gnu", {"--threads", "1", "--signal-rate", "2000", "--duration", "60"});
  workload.go();
  Tracer tracer(workload.pid(), {"--mode", "full", "--slot-checks"});  // resumes counted from the start
  ASSERT_TRUE(tracer.attached()) << tracer.first_stderr_line();
  // Full mode: the signal hook, the resume probe, the slot check at rt_sigreturn and the
  // thread-exit hook that prunes the per-thread maps.
  EXPECT_EQ(tracer.bpf_objects().programs.size(), 4u) << tracer.bpf_objects().describe();
  usleep(300'000);  // some resumes to count
  tracer.process().send_signal(SIGTERM);
  auto status = tracer.finish(30);
  EXPECT_EQ(status, 0) << tracer.stderr_text();
  EXPECT_FALSE(tracer.report()["target"]["exited"].get<bool>());
  EXPECT_GT(tracer.report()["process"]["resumes"]["count"].get<uint64_t>(), 0u);
  EXPECT_TRUE(still_loaded(tracer.bpf_objects()).empty()) << still_loaded(tracer.bpf_objects()).describe();
  workload.process().send_signal(SIGKILL);
}

TEST(AttachLifecycle, DurationEndsTheTrace) {
  UT_REQUIRE_ROOT();
  Workload workload("gnu", {"--threads", "1", "--signal-rate", "1000", "--duration", "60"});
  workload.go();
  Tracer tracer(workload.pid(), {"--duration", "1.5"});
  ASSERT_TRUE(tracer.attached()) << tracer.first_stderr_line();
  auto status = tracer.finish(30);
  EXPECT_EQ(status, 0) << tracer.stderr_text();
  double duration = tracer.report()["trace"]["duration_s"].get<double>();
  EXPECT_GE(duration, 1.5);
  EXPECT_LT(duration, 5.0);
  EXPECT_TRUE(still_loaded(tracer.bpf_objects()).empty()) << still_loaded(tracer.bpf_objects()).describe();
  workload.process().send_signal(SIGKILL);
}

TEST(AttachLifecycle, NoSuchProcessExitsThreeWithOneLine) {
  UT_REQUIRE_ROOT();
  proc::ChildProcess tool({tool_path(), "attach", "-p", "999999999"});
  auto status = tool.wait(30);
  std::string err = tool.read_stderr_rest();
  EXPECT_EQ(status, 3) << err;
  EXPECT_NE(err.find("no process with PID 999999999"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST(AttachLifecycle, WithoutCapabilitiesExitsFourNamingThem) {
  UT_REQUIRE_ROOT();  // root can drop what it has; an unprivileged run has nothing to compare
  proc::ChildProcess tool({"setpriv", "--inh-caps=-all", "--bounding-set=-bpf,-perfmon", tool_path(),
                           "attach", "-p", "1"});
  BpfObjectIds held;
  auto status = wait_recording_bpf_objects(tool, 30, held);
  std::string err = tool.read_stderr_rest();
  EXPECT_EQ(status, 4) << err;
  EXPECT_NE(err.find("missing: CAP_BPF, CAP_PERFMON"), std::string::npos) << err;
  EXPECT_TRUE(held.empty()) << held.describe();
}

TEST(AttachLifecycle, BadOptionExitsTwo) {
  proc::ChildProcess tool({tool_path(), "attach", "--pid", "notanumber"});
  EXPECT_EQ(tool.wait(30), 2);
}

}  // namespace
}  // namespace ut::runtime_test
