// scan -p against the bundled workloads: the verdict and the --fail-on gate.
#include <gtest/gtest.h>

#include "runtime_support.h"

namespace ut::runtime_test {
namespace {

struct ScanRun {
  int status = -1;
  nlohmann::json json;
  std::string err;
};

ScanRun scan(const std::vector<std::string>& args) {
  std::vector<std::string> argv{tool_path(), "scan", "--json", "-"};
  argv.insert(argv.end(), args.begin(), args.end());
  proc::ChildProcess tool(argv);
  ScanRun run;
  run.json = nlohmann::json::parse(tool.read_stdout_rest(), nullptr, false);
  run.err = tool.read_stderr_rest();
  run.status = tool.wait(60).value_or(-1);
  return run;
}

TEST(Scan, GnuWorkloadIsExposedAndTripsTheGate) {
  UT_REQUIRE_ROOT();
  Workload workload("gnu", {"--signal-rate", "0", "--duration", "30"});
  auto run = scan({"-p", std::to_string(workload.pid()), "--fail-on", "exposed"});
  EXPECT_EQ(run.status, 6) << run.err;
  ASSERT_EQ(run.json["processes"].size(), 1u) << run.json.dump(2);
  const auto& process = run.json["processes"][0];
  EXPECT_TRUE(process["exposed"].get<bool>());
  EXPECT_EQ(process["pid"], workload.pid());
  EXPECT_NE(process["unwinder"]["path"].get<std::string>().find("libunwind.so.8"), std::string::npos);
  EXPECT_NE(process["verdict"].get<std::string>().find("(GNU libunwind 1.6.2): exposed"), std::string::npos)
      << process["verdict"];
}

TEST(Scan, LibgccWorkloadIsNotExposed) {
  UT_REQUIRE_ROOT();
  Workload workload("libgcc", {"--signal-rate", "0", "--duration", "30"});
  auto run = scan({"-p", std::to_string(workload.pid()), "--fail-on", "exposed"});
  EXPECT_EQ(run.status, 0) << run.err;
  ASSERT_EQ(run.json["processes"].size(), 1u);
  const auto& process = run.json["processes"][0];
  EXPECT_FALSE(process["exposed"].get<bool>());
  EXPECT_NE(process["verdict"].get<std::string>().find("unwind through"), std::string::npos);
  EXPECT_NE(process["unwinder"]["name"].get<std::string>().find("libgcc_s"), std::string::npos)
      << process["unwinder"];
}

TEST(Scan, MissingProcessExitsThree) {
  auto run = scan({"-p", "999999999"});
  EXPECT_EQ(run.status, 3) << run.err;
}

TEST(Scan, AllFindsTheExposedWorkloadAmongTheRest) {
  UT_REQUIRE_ROOT();
  Workload workload("gnu", {"--signal-rate", "0", "--duration", "30"});
  auto run = scan({"--all"});
  EXPECT_EQ(run.status, 0) << run.err;
  bool found = false;
  for (const auto& p : run.json["processes"])
    if (p["pid"] == workload.pid()) found = p["exposed"].get<bool>();
  EXPECT_TRUE(found) << run.json.dump(2);
}

}  // namespace
}  // namespace ut::runtime_test
