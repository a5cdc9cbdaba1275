// Pooling landing storms (calibrate --landing --pool): landings and exposure add, so the pooled
// w is the one a single storm as long as all of them would estimate; storms of another kind are
// refused, saying what differs.
#include <gtest/gtest.h>

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "host/calibration.h"
#include "model/count_intervals.h"
#include "model/landing_calibration.h"

namespace ut::model {
namespace {

// One storm: exposure 1/seconds_per_landing, `ret` landings at the return-address read and
// `push` after the push, none at the other window instructions.
host::LandingCalibration storm(double exposure, uint64_t ret, uint64_t push, double seconds = 600) {
  host::LandingCalibration l;
  l.cpu_model = "AMD EPYC";
  l.object_path = "/usr/lib/x86_64-linux-gnu/libunwind.so.8";
  l.build_id = "ab12";
  l.symbol = "_Ux86_64_setcontext";
  l.workload = host::LandingWorkload{2, 20000, 0, 9056};
  l.duration_s = seconds;
  l.resumes = 1'000'000;
  l.async_signals = 50'000;
  l.syscall_signals = 400'000;
  l.seconds_per_landing = 1 / exposure;
  l.window_offsets = {0x52, 0x59, 0x5a, 0x61};
  for (auto [offset, n] : {std::pair<uint32_t, uint64_t>{0x52, ret}, {0x59, 0}, {0x5a, push}, {0x61, 0}})
    l.instructions.push_back({offset, n, n / exposure, 0, 0});
  l.instructions.push_back({0x10, 500, 500 / exposure, 0, 0});  // outside the window
  return l;
}

TEST(LandingPool, LandingsAndExposureAddSoWIsThePooledRatio) {
  auto pooled = pool_landings(storm(4e8, 0, 12), storm(6e8, 1, 60));
  EXPECT_EQ(pooled.storms, 2u);
  EXPECT_DOUBLE_EQ(pooled.duration_s, 1200);
  EXPECT_EQ(pooled.resumes, 2'000'000u);
  EXPECT_EQ(pooled.async_signals, 100'000u);
  EXPECT_EQ(pooled.syscall_signals, 800'000u);
  EXPECT_DOUBLE_EQ(pooled.seconds_per_landing, 1 / 1e9);
  ASSERT_NE(pooled.at(0x52), nullptr);
  EXPECT_EQ(pooled.at(0x52)->landings, 1u);
  EXPECT_DOUBLE_EQ(pooled.at(0x52)->w_s, 1e-9);  // 1 landing over exposure 1e9, not a mean of 0 and 1/6e8
  EXPECT_EQ(pooled.at(0x5a)->landings, 72u);
  EXPECT_DOUBLE_EQ(pooled.at(0x5a)->w_s, 72e-9);
  EXPECT_EQ(pooled.at(0x10)->landings, 1000u);
  // The interval is the pooled count's: narrower, relative to the point, than either storm's.
  const Interval ci = poisson_interval(72);
  EXPECT_DOUBLE_EQ(pooled.at(0x5a)->w_low_s, ci.low * 1e-9);
  EXPECT_DOUBLE_EQ(pooled.at(0x5a)->w_high_s, ci.high * 1e-9);
  // A window instruction nobody landed on keeps its row: its upper limit is what the pool excludes.
  ASSERT_NE(pooled.at(0x61), nullptr);
  EXPECT_DOUBLE_EQ(pooled.at(0x61)->w_high_s, poisson_interval(0).high * 1e-9);
}

TEST(LandingPool, PoolingIsOrderFreeAndAccumulates) {
  auto a = storm(4e8, 0, 12), b = storm(6e8, 1, 60), c = storm(5e8, 2, 30);
  auto abc = pool_landings(pool_landings(a, b), c);
  auto cba = pool_landings(pool_landings(c, b), a);
  EXPECT_EQ(abc.storms, 3u);
  EXPECT_EQ(abc.at(0x52)->landings, 3u);
  EXPECT_DOUBLE_EQ(abc.seconds_per_landing, cba.seconds_per_landing);
  EXPECT_DOUBLE_EQ(abc.at(0x5a)->w_s, cba.at(0x5a)->w_s);
  EXPECT_NEAR(abc.at(0x52)->w_s, 3 / 15e8, 1e-20);
}

TEST(LandingPool, StormsOfAnotherKindAreRefusedSayingWhatDiffers) {
  auto base = storm(4e8, 0, 12);
  auto other_cpu = storm(4e8, 0, 12);
  other_cpu.cpu_model = "Intel Xeon";
  auto other_build = storm(4e8, 0, 12);
  other_build.build_id = "cd34";
  auto other_shape = storm(4e8, 0, 12);
  other_shape.workload->padding = 16384;
  auto other_sender = storm(4e8, 0, 12);
  other_sender.workload->sender = "coalesce";
  auto unrecorded_shape = storm(4e8, 0, 12);
  unrecorded_shape.workload.reset();
  for (const auto& [other, says] : {std::pair{other_cpu, "CPU model"}, {other_build, "routine build"},
                                    {other_shape, "padding 16384"}, {other_sender, "(coalesce)"},
                                    {unrecorded_shape, "not recorded"}}) {
    try {
      pool_landings(other, base);
      ADD_FAILURE() << "pooled storms that differ in " << says;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  }
}

TEST(LandingPool, TheWorkloadShapeAndStormCountSurviveTheCache) {
  host::Calibration c;
  c.landing = pool_landings(storm(4e8, 0, 12), storm(6e8, 1, 60));
  auto back = host::calibration_from_json(host::calibration_json(c));
  ASSERT_TRUE(back.landing);
  EXPECT_EQ(back.landing->storms, 2u);
  EXPECT_EQ(back.landing->workload, c.landing->workload);
}

TEST(LandingPool, TheSenderSurvivesTheCacheAndOldCachesReadAsTheWaitingSender) {
  host::Calibration c;
  c.landing = storm(4e8, 0, 12);
  c.landing->workload->sender = "coalesce";
  auto json = nlohmann::json::parse(host::calibration_json(c));
  EXPECT_EQ(host::calibration_from_json(json.dump()).landing->workload->sender, "coalesce");
  // Caches written before the sender was recorded ran the waiting sender, the only one then.
  json["landing"]["workload"].erase("sender");
  EXPECT_EQ(host::calibration_from_json(json.dump()).landing->workload->sender, "wait");
}

}  // namespace
}  // namespace ut::model
