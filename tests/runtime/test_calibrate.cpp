// unwindtrace calibrate against this machine: the frame map it caches agrees with frames measured
// in this process, a landing storm finds signals on the window's instructions' routine, and a
// traced storm then reports the model's prediction next to what it observed.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "host/calibration.h"
#include "host/signal_frame.h"
#include "proc/child_process.h"
#include "runtime_support.h"

namespace ut::runtime_test {
namespace {

struct ToolRun {
  std::optional<int> status;
  std::string out, err;
};

ToolRun run_tool(const std::vector<std::string>& args, const std::string& cache, double timeout_s) {
  std::vector<std::string> argv{"env", "UNWINDTRACE_CALIBRATION=" + cache, tool_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  proc::ChildProcess child(argv);
  child.close_stdin();
  ToolRun run;
  run.out = child.read_stdout_rest();
  run.err = child.read_stderr_rest();
  run.status = child.wait(timeout_s);
  return run;
}

class Calibrate : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("ut-calibrate-{}", getpid());
    std::filesystem::create_directories(dir_);
    cache_ = (dir_ / "calibration.json").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string cache_;
};

TEST_F(Calibrate, CachesAFrameMapThatAgreesWithFramesTakenHere) {
  auto run = run_tool({"calibrate", "--json", "-"}, cache_, 60);
  ASSERT_EQ(run.status, 0) << run.err;
  auto calibration = host::calibration_from_json(run.out);
  ASSERT_EQ(calibration.frame.layouts.size(), 16u);
  const auto here = host::measure_signal_frame();
  const auto mapped = calibration.frame.size();
  EXPECT_GE(here.min_bytes, mapped.min_bytes);
  EXPECT_LE(here.max_bytes, mapped.max_bytes);
  EXPECT_NE(run.err.find("none cached"), std::string::npos) << run.err;
  ASSERT_TRUE(std::filesystem::exists(cache_));

  auto again = run_tool({"calibrate"}, cache_, 60);
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.err.find("calibration from"), std::string::npos) << again.err;
  EXPECT_NE(again.out.find("never written (holes)"), std::string::npos) << again.out;
}

TEST_F(Calibrate, LandingStormThenTracedStormReportsThePrediction) {
  UT_REQUIRE_ROOT();
  auto run = run_tool({"calibrate", "--landing", "4", "--json", "-"}, cache_, 120);
  ASSERT_EQ(run.status, 0) << run.err;
  auto calibration = host::calibration_from_json(run.out);
  ASSERT_TRUE(calibration.landing) << run.err;
  const auto& landing = *calibration.landing;
  EXPECT_GT(landing.resumes, 0u);
  EXPECT_GT(landing.async_signals, 0u);
  EXPECT_GT(landing.seconds_per_landing, 0);
  // The model's w needs signals on the sender's own clock: the default landing storm coalesces.
  ASSERT_TRUE(landing.workload);
  EXPECT_EQ(landing.workload->sender, "coalesce");
  ASSERT_FALSE(landing.window_offsets.empty());
  for (uint32_t offset : landing.window_offsets) {
    const auto* at = landing.at(offset);
    ASSERT_NE(at, nullptr) << "every window instruction has a row, landed or not";
    EXPECT_GT(at->w_high_s, at->w_s);
  }

  auto traced = run_tool({"demo", "--duration", "3", "--hits", "0", "-q", "--json", "-"}, cache_, 120);
  ASSERT_EQ(traced.status, 0) << traced.err;
  auto report = nlohmann::json::parse(traced.out);
  const auto& model = report.at("model");
  ASSERT_FALSE(model.is_null());
  ASSERT_FALSE(model.at("geometry").empty());
  ASSERT_FALSE(model.at("resume_shapes").empty());
  const auto& prediction = model.at("prediction");
  ASSERT_FALSE(prediction.is_null()) << model.dump(2);
  EXPECT_GT(prediction.at("resumes_per_s").get<double>(), 0);
  EXPECT_GE(prediction.at("hits_per_s").at("high").get<double>(),
            prediction.at("hits_per_s").at("value").get<double>());
  // The interrupt-delivered window hits are the observation the model is compared with (one
  // delivered as the last handler returns is a hit, not a fresh landing).
  const auto hits = report.at("hits").at("total").get<uint64_t>();
  EXPECT_EQ(prediction.at("observed_hits").at("count").get<uint64_t>(),
            report.at("process").at("hits").at("interrupt").get<uint64_t>());
  // Every hit whose handler returned had its slot read again; a changed slot is a measured corruption.
  const auto& checks = model.at("slot_checks");
  ASSERT_FALSE(checks.is_null());
  EXPECT_LE(checks.at("checked").get<uint64_t>(), hits);
  EXPECT_LE(checks.at("overwritten").get<uint64_t>(), checks.at("checked").get<uint64_t>());
  EXPECT_EQ(prediction.at("observed_corruptions").at("count"), checks.at("overwritten"));
  EXPECT_TRUE(model.at("crashes").empty()) << "the workload does not crash at the default padding";
}

// Deterministic: `validate --pid` injects signals exactly at every window instruction of the traced
// workload (a uprobe on the instruction before sends them: docs/validate.md), so the hits do not
// depend on a storm's luck. At the default padding the stale slots lie far below the frame: no
// injection corrupts, the workload lives through every instruction's turn.
TEST_F(Calibrate, EveryWindowHitsSlotIsReadAgainWhenItsHandlerReturns) {
  UT_REQUIRE_ROOT();
  constexpr uint64_t kCount = 3;
  const auto offsets = gnu_window_offsets();
  ASSERT_FALSE(offsets.empty());
  Workload workload = injection_workload(offsets, kCount, {"--depth", "0"});
  Tracer tracer(workload.pid(), {"--mode", "full", "--slot-checks"});
  ASSERT_TRUE(tracer.attached()) << tracer.first_stderr_line();
  workload.go();
  auto injected = run_tool({"validate", "-q", "--pid", std::to_string(workload.pid()), "--i-know-this-crashes",
                            "--count", std::to_string(kCount)},
                           cache_, 300);
  EXPECT_EQ(injected.status, 0) << injected.err;
  auto own = workload.finish(60);
  ASSERT_EQ(tracer.finish(60), 0) << tracer.stderr_text();
  const auto& report = tracer.report();
  const auto hits = report.at("hits").at("total").get<uint64_t>();
  // The workload's handler counted kCount at each window instruction; the tracer saw them all.
  EXPECT_EQ(hits, kCount * offsets.size()) << own.dump();
  const auto& checks = report.at("model").at("slot_checks");
  ASSERT_FALSE(checks.is_null());
  EXPECT_EQ(checks.at("checked").get<uint64_t>(), hits);
  EXPECT_EQ(checks.at("unreadable").get<uint64_t>(), 0u);
  EXPECT_EQ(checks.at("overwritten").get<uint64_t>(), 0u) << "the slots lie below the frame at this padding";
}

}  // namespace
}  // namespace ut::runtime_test
