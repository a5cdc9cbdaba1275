// The tool tried as a new user would: a wrong PID, no privileges, a directory where a file goes,
// a binary of another architecture, bad option values. Each gets one clear line on stderr and
// the documented exit code (docs/reliability.md lists them), and nothing is loaded meanwhile.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "runtime_support.h"

namespace ut::runtime_test {
namespace {

struct Run {
  std::optional<int> status;
  std::string out, err;
  BpfObjectIds held;
};

Run run_tool(std::vector<std::string> args, const std::vector<std::string>& prefix = {}) {
  std::vector<std::string> argv = prefix;
  argv.push_back(tool_path());
  argv.insert(argv.end(), args.begin(), args.end());
  proc::ChildProcess child(argv);
  Run run;
  run.status = wait_recording_bpf_objects(child, 60, run.held);
  run.out = child.read_stdout_rest();
  run.err = child.read_stderr_rest();
  return run;
}

// One line on stderr containing `text`, exit `status`, nothing loaded.
void expect_one_line(const Run& run, int status, const std::string& text) {
  EXPECT_EQ(run.status, status) << run.err;
  EXPECT_NE(run.err.find(text), std::string::npos) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_TRUE(run.held.empty()) << run.held.describe();
}

const std::vector<std::string> kNobody{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                       "--inh-caps=-all"};
constexpr const char* kGnuLibunwind = "/usr/lib/x86_64-linux-gnu/libunwind.so.8";

TEST(NewUser, KernelThreadPidIsRefused) {
  UT_REQUIRE_ROOT();
  expect_one_line(run_tool({"attach", "-p", "2"}), 3, "no user-space memory (a kernel thread?)");
}

TEST(NewUser, UnprivilegedAttachNamesEveryMissingCapability) {
  UT_REQUIRE_ROOT();  // root drops everything; an unprivileged run has nothing to compare
  Workload workload("gnu", {"--signal-rate", "0", "--duration", "0.2"});
  expect_one_line(run_tool({"attach", "-p", std::to_string(workload.pid())}, kNobody), 4,
                  "missing: CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE");
  expect_one_line(run_tool({"validate", "--", "/bin/true"}, kNobody), 4,
                  "missing: CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE");
}

TEST(NewUser, UnprivilegedScanOfAnotherUsersProcessSaysSoInsteadOfFindingNothing) {
  UT_REQUIRE_ROOT();
  Workload workload("gnu", {"--signal-rate", "0", "--duration", "0.2"});
  auto run = run_tool({"scan", "-p", std::to_string(workload.pid())}, kNobody);
  EXPECT_NE(run.status, 0) << run.out;
  EXPECT_NE(run.err.find("run as root"), std::string::npos) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
}

TEST(NewUser, DirectoryGivenToScanIsReportedAndTheRestIsAnalysed) {
  UT_REQUIRE_ROOT();
  auto dir = std::filesystem::temp_directory_path().string();
  auto run = run_tool({"scan", dir, kGnuLibunwind});
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find(dir + ": is a directory"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("EXPOSED"), std::string::npos) << "libunwind not analysed: " << run.out;
}

TEST(NewUser, DirectoryGivenAsJsonOutputIsRefusedBeforeTracing) {
  UT_REQUIRE_ROOT();
  Workload workload("gnu", {"--signal-rate", "0", "--duration", "5"});
  auto dir = std::filesystem::temp_directory_path().string();
  expect_one_line(run_tool({"attach", "-p", std::to_string(workload.pid()), "--json", dir}), 2,
                  "is a directory; name a file");
  expect_one_line(run_tool({"scan", "--json", dir, kGnuLibunwind}), 2, "is a directory; name a file");
  expect_one_line(run_tool({"attach", "-p", std::to_string(workload.pid()), "--json", "/nonexistent/r.json"}),
                  2, "no directory /nonexistent");
  EXPECT_FALSE(std::filesystem::exists(dir + ".tmp"));
}

TEST(NewUser, ObjectOfAnotherArchitectureIsNamedAsSuch) {
  UT_REQUIRE_ROOT();
  auto object = std::string(UT_FIXTURE_DIR) + "/ut_i386.o";
  auto run = run_tool({"scan", object});
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find("32-bit ELF; unwindtrace analyses x86-64 objects only"), std::string::npos) << run.out;
}

TEST(NewUser, BadOptionValuesExitTwoNamingTheOption) {
  UT_REQUIRE_ROOT();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"attach", "-p", "0"}, {"attach", "-p", "abc"}, {"attach", "-p", "1", "--duration", "-1"},
           {"attach", "-p", "1", "--poll-ms", "0"}, {"attach", "-p", "1", "--ring-buffer-mb", "0"},
           {"attach", "-p", "1", "--slot-checks", "--mode", "sampled"},
           {"scan", "--routine", "no-colon", kGnuLibunwind}, {"attach"}}) {
    auto run = run_tool(args);
    EXPECT_EQ(run.status, 2) << args.back() << ": " << run.err;
    EXPECT_NE(run.err.find(args.size() > 2 ? args[args.size() - 2] : "--pid"), std::string::npos)
        << run.err;
    EXPECT_TRUE(run.held.empty());
  }
}

}  // namespace
}  // namespace ut::runtime_test
