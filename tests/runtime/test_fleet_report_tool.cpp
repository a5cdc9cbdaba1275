// `unwindtrace report` on a synthetic fleet written to disk as a campaign would leave it (one
// directory per host, the real record writer): the real binary must separate the two crash
// populations, window crashes spread over the fleet and misaligned-stack crashes concentrated on
// one host, and carry on past bad lines with one file:line message each. No root needed.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../unit/synthetic_fleet.h"
#include "output/record_writer.h"
#include "proc/child_process.h"
#include "runtime_support.h"

namespace ut::runtime_test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class FleetReportTool : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("ut-fleet-tool-{}", getpid());
    fs::remove_all(dir_);
    for (const auto& [host, records] : testing::synthetic_fleet()) {
      fs::create_directories(dir_ / host);
      output::RecordWriter writer((dir_ / host).string(), {}, host);
      for (const auto& record : records) ASSERT_TRUE(writer.write(record));
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  struct Result {
    int status = -1;
    std::string out, err;
  };
  Result report(const std::vector<std::string>& args) {
    std::vector<std::string> argv{tool_path(), "report"};
    argv.insert(argv.end(), args.begin(), args.end());
    proc::ChildProcess tool(argv);
    Result r;
    r.out = tool.read_stdout_rest();
    r.err = tool.read_stderr_rest();
    r.status = tool.wait(60).value_or(-1);
    return r;
  }

  fs::path dir_;
};

TEST_F(FleetReportTool, SeparatesSuspectHardwareFromWindowCrashes) {
  auto r = report({dir_.string(), "--json", "-"});
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["fleet"]["hosts"], testing::kFleetHosts);
  EXPECT_EQ(j["input"]["files"], testing::kFleetHosts);
  bool saw_window = false, saw_misaligned = false;
  for (const auto& cluster : j["crashes"]["clusters"]) {
    std::vector<std::string> outliers;
    for (const auto& host : cluster["hosts"])
      if (host["outlier"].get<bool>()) outliers.push_back(host["host"]);
    if (cluster["class"] == "window") {
      saw_window = true;
      EXPECT_FALSE(cluster["concentrated"].get<bool>());
      EXPECT_TRUE(outliers.empty());
      EXPECT_EQ(cluster["hosts"].size(), size_t(testing::kFleetHosts));
    }
    if (cluster["class"] == "misaligned_stack") {
      saw_misaligned = true;
      EXPECT_TRUE(cluster["concentrated"].get<bool>());
      EXPECT_EQ(outliers, std::vector<std::string>{testing::kBadHost});
      EXPECT_NE(cluster["reading"].get<std::string>().find("suspect hardware"), std::string::npos);
    }
  }
  EXPECT_TRUE(saw_window);
  EXPECT_TRUE(saw_misaligned);
  EXPECT_GT(j["fleet"]["predicted_crashes"]["per_day"].get<double>(), 0);
}

TEST_F(FleetReportTool, TextAndHtmlAndBadLines) {
  std::ofstream(dir_ / "node-0" / "torn.jsonl") << "{\"schema\":1,\"kind\":\"crash\",\"host\":\"node-0\"\n"
                                                << "garbage\n";
  fs::path html = dir_ / "fleet.html";
  auto r = report({dir_.string(), "--html", html.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("OUTLIER"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 bad line(s) left out"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r.err;
  EXPECT_NE(r.err.find("torn.jsonl:1: bad record"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("torn.jsonl:2: bad record"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(html));
  std::ifstream in(html);
  std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("suspect hardware"), std::string::npos);
}

TEST_F(FleetReportTool, NoRecordsIsAUsageError) {
  fs::create_directories(dir_ / "empty");
  auto r = report({(dir_ / "empty").string()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no records found"), std::string::npos) << r.err;
  auto missing = report({(dir_ / "absent").string()});
  EXPECT_EQ(missing.status, 2) << missing.err;
}

}  // namespace
}  // namespace ut::runtime_test
