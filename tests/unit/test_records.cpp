// Records (docs/records.md): host facts and container placement parsed from /proc text, the
// counted-event intervals, what a process and a crash record hold (and never hold), and the
// writer's promises: whole lines only, rotation, 0640 files, drops counted when writes fail.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "errors.h"
#include "host/host_identity.h"
#include "model/count_intervals.h"
#include "output/record_builder.h"
#include "output/record_writer.h"
#include "proc/process_container.h"
#include "synthetic_fleet.h"

namespace ut::output {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kDockerId(64, 'a');

TEST(ProcessPlacement, InnermostNamespacePidIsTheLastNspidField) {
  EXPECT_EQ(proc::innermost_nspid("Name:\tx\nNSpid:\t4242\t17\nPPid:\t1\n"), 17);
  EXPECT_EQ(proc::innermost_nspid("NSpid:\t4242\n"), 4242);
  EXPECT_FALSE(proc::innermost_nspid("Name:\tx\n").has_value());
  EXPECT_FALSE(proc::innermost_nspid("NSpid:\tgarbage\n").has_value());
}

TEST(ProcessPlacement, CgroupPathPrefersTheUnifiedHierarchy) {
  EXPECT_EQ(proc::cgroup_path("1:cpu:/a\n0::/system.slice/x.service\n"), "/system.slice/x.service");
  // Hybrid host: v2 says "/", the container lives in the v1 hierarchies.
  EXPECT_EQ(proc::cgroup_path("4:memory:/docker/" + kDockerId + "\n0::/\n"), "/docker/" + kDockerId);
  EXPECT_EQ(proc::cgroup_path("garbage\n"), "");
}

TEST(ProcessPlacement, ContainerIdFromTheRuntimesNamingSchemes) {
  for (const std::string& path :
       {"/system.slice/docker-" + kDockerId + ".scope", "/kubepods.slice/kubepods-burstable.slice/cri-containerd-" +
                                                            kDockerId + ".scope",
        "/docker/" + kDockerId, "/machine.slice/libpod-" + kDockerId + ".scope/container",
        "/kubepods/besteffort/pod1234/" + kDockerId})
    EXPECT_EQ(proc::container_id_from_cgroup(path), kDockerId) << path;
  EXPECT_EQ(proc::container_id_from_cgroup("/user.slice/user-0.slice/session-3.scope"), "");
  EXPECT_EQ(proc::container_id_from_cgroup("/docker/" + std::string(63, 'b')), "");  // not an id
}

TEST(ProcessPlacement, OwnProcessHasNoNamespacePidOfItsOwnOnTheHost) {
  auto placement = proc::read_process_placement(getpid());
  if (placement.namespace_pid) {
    EXPECT_NE(*placement.namespace_pid, getpid());
  }
}

TEST(HostIdentity, XsaveFeaturesFromTheFirstFlagsLine) {
  auto features = host::xsave_features_from_cpuinfo(
      "processor\t: 0\nflags\t\t: fpu sse2 xsave avx avx2 avx512f xsaveopt pku amx_tile ht\nflags\t: avx512bw\n");
  EXPECT_EQ(features, (std::vector<std::string>{"xsave", "avx", "avx2", "avx512f", "xsaveopt", "pku", "amx_tile"}));
  EXPECT_TRUE(host::xsave_features_from_cpuinfo("processor: 0\n").empty());
}

TEST(CountIntervals, PoissonIntervalsAreTheExactOnes) {
  auto zero = model::poisson_interval(0);
  EXPECT_EQ(zero.low, 0);
  EXPECT_NEAR(zero.high, -std::log(0.025), 1e-9);
  auto ten = model::poisson_interval(10);  // Garwood: 4.795 .. 18.390
  EXPECT_NEAR(ten.low, 4.795, 1e-3);
  EXPECT_NEAR(ten.high, 18.390, 1e-3);
}

TEST(CountIntervals, BinomialUpperTail) {
  EXPECT_DOUBLE_EQ(model::binomial_upper_tail(0, 10, 0.1), 1);
  EXPECT_NEAR(model::binomial_upper_tail(10, 10, 0.5), std::pow(0.5, 10), 1e-15);
  EXPECT_NEAR(model::binomial_upper_tail(1, 3, 0.5), 0.875, 1e-12);
  EXPECT_EQ(model::binomial_upper_tail(4, 3, 0.5), 0);
}

TEST(Records, ProcessRecordCarriesIdentityPlacementAndTheCorruptionEstimate) {
  auto report = testing::synthetic_report(4242, "/usr/bin/ingest", 4, 3, 100);
  report.mode = model::TraceMode::Sampled;
  report.duty_cycle = model::DutyCycle{0.05, 10};
  ProcessFacts facts;
  facts.placement = {17, "/docker/" + kDockerId, kDockerId};
  facts.unwinder_build_id = "abc";
  json record = process_record(report, testing::synthetic_host("node-7"), facts, 2);
  EXPECT_EQ(record["schema"], kRecordSchemaVersion);
  EXPECT_EQ(record["kind"], "process");
  EXPECT_EQ(record["host"], "node-7");
  EXPECT_EQ(record["ns_pid"], 17);
  EXPECT_EQ(record["container_id"], kDockerId);
  EXPECT_EQ(record["mode"], "sampled");
  EXPECT_DOUBLE_EQ(record["sample_duty"].get<double>(), 0.05);
  EXPECT_EQ(record["records_dropped"], 2);
  EXPECT_EQ(record["hits"]["corrupting"], 4);
  EXPECT_DOUBLE_EQ(record["model"]["predicted_crashes_per_s"].get<double>(), 0.04);
  EXPECT_LT(record["model"]["low_per_s"].get<double>(), 0.04);
  EXPECT_GT(record["model"]["high_per_s"].get<double>(), 0.04);
  EXPECT_TRUE(record["exposure_model"].is_null()) << "no model section in this report";
  report.model = ModelSection{};
  EXPECT_EQ(process_record(report, testing::synthetic_host("node-7"), facts, 2)["exposure_model"],
            model_json(*report.model));
  EXPECT_EQ(record.dump().find(std::to_string(0x5ec7e7)), std::string::npos);
  EXPECT_EQ(record.dump().find("5ec7e7"), std::string::npos);
}

TEST(Records, HostAndCrashRecords) {
  json host = host_record(testing::synthetic_host("node-7"), host::FrameSize{3024, 3080}, "2026-11-25T21:00:00Z");
  EXPECT_EQ(host["kind"], "host");
  EXPECT_EQ(host["calibration"]["signal_frame_bytes"]["max"], 3080);
  EXPECT_EQ(host["xsave_features"].size(), 2u);
  CrashSignature crash;
  crash.sig = SIGSEGV;
  crash.fault_ip = 0;
  crash.return_to_zero = true;
  crash.rsp_misaligned_by_8 = true;
  json record = crash_record(crash, testing::synthetic_host("node-7"), "2026-11-25T21:00:00Z");
  EXPECT_EQ(record["signal"], "SIGSEGV");
  EXPECT_EQ(record["fault_ip"], "0x0");
  EXPECT_TRUE(record["rsp_misaligned_by_8"].get<bool>());
}

TEST(Records, FaultSignatureFromRegisters) {
  auto to_zero = fault_signature(SIGSEGV, 0, 0x7ffd'0000'1000);
  EXPECT_TRUE(to_zero.return_to_zero);
  EXPECT_FALSE(to_zero.non_canonical_ip);
  EXPECT_FALSE(to_zero.rsp_misaligned_by_8);
  auto wild = fault_signature(SIGSEGV, 0x4141'4141'4141'4141, 0x7ffd'0000'1008);
  EXPECT_TRUE(wild.non_canonical_ip);
  EXPECT_TRUE(wild.rsp_misaligned_by_8);
  EXPECT_FALSE(fault_signature(SIGSEGV, 0x7f00'0000'1000, 0x7ffd'0000'1004).rsp_misaligned_by_8);
  EXPECT_FALSE(fault_signature(SIGSEGV, 0xffff'ffff'8100'0000, 0).non_canonical_ip);  // kernel half: canonical
}

class RecordWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("ut-records-{}-{}", getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<fs::path> files() const {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(dir_)) out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::vector<json> lines(const fs::path& file) {
    std::vector<json> out;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
  }
  fs::path dir_;
};

TEST_F(RecordWriterTest, OneLinePerRecordInA0640File) {
  mode_t old = umask(0);
  {
    RecordWriter writer(dir_.string(), {}, "node/7");
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(writer.write({{"n", i}}));
    EXPECT_EQ(writer.written(), 3u);
  }
  umask(old);
  auto found = files();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].filename().string().find("node_7"), std::string::npos);
  EXPECT_EQ(found[0].extension(), ".jsonl");
  struct stat st {};
  ASSERT_EQ(stat(found[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  auto records = lines(found[0]);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2]["n"], 2);
}

TEST_F(RecordWriterTest, RotatesBySizeWithoutSplittingLines) {
  RecordWriter writer(dir_.string(), {200, 3600}, "h");
  for (int i = 0; i < 20; ++i) writer.write({{"n", i}, {"pad", std::string(40, 'x')}});
  auto found = files();
  EXPECT_GT(found.size(), 3u);
  size_t total = 0;
  for (const auto& file : found) {
    EXPECT_LE(fs::file_size(file), 200u);
    total += lines(file).size();
  }
  EXPECT_EQ(total, 20u);
  EXPECT_EQ(writer.files_opened(), found.size());
}

TEST_F(RecordWriterTest, RotatesByAge) {
  RecordWriter writer(dir_.string(), {1u << 20, 0.05}, "h");
  writer.write({{"n", 1}});
  usleep(100'000);
  writer.write({{"n", 2}});
  EXPECT_EQ(files().size(), 2u);
}

TEST_F(RecordWriterTest, MissingDirectoryIsAUsageError) {
  try {
    RecordWriter writer((dir_ / "absent").string(), {}, "h");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_EQ(e.code(), ExitCode::Usage);
    EXPECT_NE(std::string(e.what()).find("not a directory"), std::string::npos);
  }
}

// A full disk, simulated with RLIMIT_FSIZE (no root needed): the write that crosses the limit is
// short; it must be cut back off and counted, and the file must hold whole lines only.
TEST_F(RecordWriterTest, FullDiskDropsWholeRecordsAndCountsThem) {
  struct rlimit old {};
  getrlimit(RLIMIT_FSIZE, &old);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = old;
  limit.rlim_cur = 1000;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  uint64_t written = 0, dropped = 0;
  {
    RecordWriter writer(dir_.string(), {1u << 20, 3600}, "h");
    ::testing::internal::CaptureStderr();
    for (int i = 0; i < 30; ++i) writer.write({{"n", i}, {"pad", std::string(60, 'x')}});
    std::string err = ::testing::internal::GetCapturedStderr();
    written = writer.written();
    dropped = writer.dropped();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;  // one line for the run of failures
    EXPECT_NE(err.find("dropping records"), std::string::npos);
  }
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  EXPECT_GT(written, 0u);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(written + dropped, 30u);
  auto found = files();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(lines(found[0]).size(), written);  // parses line by line: nothing torn
  EXPECT_LE(fs::file_size(found[0]), 1000u);
}

}  // namespace
}  // namespace ut::output
