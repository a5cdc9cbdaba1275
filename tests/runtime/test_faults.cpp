// Faults of the tracer itself: killed outright, or stopped while it is still starting. Either way
// the kernel must be left with nothing of it: every program, link and map it held (recorded by
// kernel ID from its descriptors, so other tracers on the host do not matter) is gone. A pinned
// object would outlive the process and keep its ID, so this also checks that nothing is pinned.
#include <gtest/gtest.h>

#include <signal.h>

#include <fmt/format.h>

#include "runtime_support.h"

namespace ut::runtime_test {
namespace {

TEST(Faults, KillNineLeavesNoProgramLinkOrMapBehind) {
  UT_REQUIRE_ROOT();
  Workload workload("gnu", {"--threads", "2", "--signal-rate", "5000", "--duration", "60"});
  workload.go();
  Tracer tracer(workload.pid(), {"--mode", "full", "--slot-checks"});
  ASSERT_TRUE(tracer.attached()) << tracer.first_stderr_line();
  const BpfObjectIds& held = tracer.bpf_objects();
  // Full mode: the signal hook, the resume probe, the slot check at rt_sigreturn, the
  // thread-exit hook, their links, and the maps (ring buffer, targets, ...).
  EXPECT_EQ(held.programs.size(), 4u) << held.describe();
  EXPECT_GE(held.links.size(), 4u) << held.describe();
  EXPECT_GE(held.maps.size(), 4u) << held.describe();
  ASSERT_TRUE(still_loaded(held, 0) == held) << "not all listed by bpftool: " << held.describe();

  tracer.process().send_signal(SIGKILL);
  EXPECT_EQ(tracer.finish(30), 128 + SIGKILL);
  auto left = still_loaded(held);
  EXPECT_TRUE(left.empty()) << "left behind: " << left.describe();
  workload.process().send_signal(SIGKILL);
}

// SIGTERM at a chosen moment of start-up: before the handlers exist (default action: killed),
// during the analysis, while loading, while attaching. Whatever it interrupts, the tool either
// dies before holding anything or stops cleanly (exit 0, a report, no error), and in both cases
// leaves nothing loaded.
class SigtermDuringStartUp : public ::testing::TestWithParam<int> {};

TEST_P(SigtermDuringStartUp, ExitsCleanlyAndLeavesNothingBehind) {
  UT_REQUIRE_ROOT();
  Workload workload("gnu", {"--threads", "1", "--signal-rate", "2000", "--duration", "60"});
  workload.go();
  proc::ChildProcess tool({tool_path(), "attach", "-p", std::to_string(workload.pid()), "-q"});
  BpfObjectIds held;
  auto early = wait_recording_bpf_objects(tool, GetParam() / 1000.0, held);
  ASSERT_FALSE(early) << "the tool ended before the signal: " << tool.read_stderr_rest();
  tool.send_signal(SIGTERM);
  auto status = wait_recording_bpf_objects(tool, 30, held);
  std::string out = tool.read_stdout_rest(), err = tool.read_stderr_rest();
  ASSERT_TRUE(status) << "no exit 30 s after SIGTERM";
  if (*status == 128 + SIGTERM) {
    EXPECT_TRUE(held.empty()) << "killed while holding " << held.describe();
  } else {
    EXPECT_EQ(*status, 0) << err;
    EXPECT_EQ(err.find("error"), std::string::npos) << err;
    EXPECT_NE(out.find("unwindtrace: pid"), std::string::npos) << "no report: " << out;
  }
  auto left = still_loaded(held);
  EXPECT_TRUE(left.empty()) << "left behind: " << left.describe();
  RecordProperty("exit_status", *status);
  RecordProperty("bpf_objects_held", held.describe());
  workload.process().send_signal(SIGKILL);
}

// Milliseconds after the spawn: 0 is before main() runs; the analysis of the target takes some
// tens of ms here, loading and attaching some more.
INSTANTIATE_TEST_SUITE_P(Delays, SigtermDuringStartUp, ::testing::Values(0, 3, 10, 30, 60, 100, 200, 400),
                         [](const auto& info) { return fmt::format("after_{}ms", info.param); });

}  // namespace
}  // namespace ut::runtime_test
