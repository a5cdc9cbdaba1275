// The calibration cache: a JSON round trip keeps everything, a stale or foreign file is measured
// again, and the landing calibration survives a re-measurement on the same CPU model.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "host/calibration.h"

namespace ut::host {
namespace {

class CalibrationStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ut-calibration-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "sub" / "calibration.json").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

LandingCalibration some_landing(const std::string& cpu) {
  LandingCalibration l;
  l.cpu_model = cpu;
  l.object_path = "/lib/x86_64-linux-gnu/libunwind.so.8";
  l.symbol = "_Ux86_64_setcontext";
  l.duration_s = 30;
  l.resumes = 900'000;
  l.async_signals = 60'000;
  l.window_offsets = {0x52, 0x59, 0x5a, 0x61};
  l.instructions = {{0x52, 0, 0, 0, 1e-10}, {0x61, 30, 1.6e-11, 1e-11, 2.2e-11}};
  return l;
}

TEST_F(CalibrationStore, MeasuresOnceThenReusesTheCache) {
  auto first = load_or_measure_calibration(path_, false);
  EXPECT_TRUE(first.measured_now);
  EXPECT_FALSE(first.calibration.frame.empty());
  ASSERT_TRUE(std::filesystem::exists(path_)) << first.note;
  auto second = load_or_measure_calibration(path_, false);
  EXPECT_FALSE(second.measured_now);
  EXPECT_EQ(second.calibration.key, first.calibration.key);
  EXPECT_EQ(second.calibration.frame.layouts.size(), first.calibration.frame.layouts.size());
  EXPECT_TRUE(load_or_measure_calibration(path_, true).measured_now);
}

TEST_F(CalibrationStore, JsonRoundTripKeepsEverything) {
  Calibration c = load_or_measure_calibration(path_, false).calibration;
  c.landing = some_landing(c.key.cpu_model);
  Calibration back = calibration_from_json(calibration_json(c));
  EXPECT_EQ(back.key, c.key);
  ASSERT_EQ(back.frame.layouts.size(), c.frame.layouts.size());
  for (size_t i = 0; i < c.frame.layouts.size(); ++i) {
    EXPECT_EQ(back.frame.layouts[i].written, c.frame.layouts[i].written);
    EXPECT_EQ(back.frame.layouts[i].frame_bytes, c.frame.layouts[i].frame_bytes);
    EXPECT_EQ(back.frame.layouts[i].written_constant, c.frame.layouts[i].written_constant);
  }
  ASSERT_TRUE(back.landing);
  EXPECT_EQ(back.landing->window_offsets, c.landing->window_offsets);
  ASSERT_NE(back.landing->at(0x61), nullptr);
  EXPECT_EQ(back.landing->at(0x61)->landings, 30u);
  EXPECT_DOUBLE_EQ(back.landing->at(0x61)->w_s, 1.6e-11);
  EXPECT_EQ(back.landing->at(0x59), nullptr);
}

TEST_F(CalibrationStore, ACacheOfAnotherVersionIsMeasuredAgain) {
  Calibration c = load_or_measure_calibration(path_, false).calibration;
  c.version = kCalibrationVersion - 1;
  write_calibration(path_, c);
  EXPECT_FALSE(read_calibration(path_));
  EXPECT_TRUE(load_or_measure_calibration(path_, false).measured_now);
}

TEST_F(CalibrationStore, AnotherKernelMeansMeasuringAgainButKeepsTheLandingOfThisCpu) {
  Calibration c = load_or_measure_calibration(path_, false).calibration;
  c.key.kernel_release = "0.0.0-elsewhere";
  c.landing = some_landing(c.key.cpu_model);
  write_calibration(path_, c);
  auto again = load_or_measure_calibration(path_, false);
  EXPECT_TRUE(again.measured_now);
  EXPECT_NE(again.calibration.key.kernel_release, "0.0.0-elsewhere");
  ASSERT_TRUE(again.calibration.landing);
  EXPECT_EQ(again.calibration.landing->async_signals, 60'000u);
}

TEST_F(CalibrationStore, ALandingFromAnotherCpuModelIsDropped) {
  Calibration c = load_or_measure_calibration(path_, false).calibration;
  c.key.xcr0 ^= 1ull << 40;  // a different XSAVE set forces a new measurement
  c.landing = some_landing("Some Other CPU");
  write_calibration(path_, c);
  auto again = load_or_measure_calibration(path_, false);
  EXPECT_TRUE(again.measured_now);
  EXPECT_FALSE(again.calibration.landing);
}

TEST_F(CalibrationStore, AMalformedFileIsMeasuredAgain) {
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  std::ofstream(path_) << "{ not json";
  EXPECT_FALSE(read_calibration(path_));
  EXPECT_TRUE(load_or_measure_calibration(path_, false).measured_now);
}

}  // namespace
}  // namespace ut::host
