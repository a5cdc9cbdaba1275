// unwindtrace validate against the real kernel and the bundled workload: signals injected from a
// uprobe land exactly at the window instruction; Debian's libunwind 1.6.2 crashes at once where
// the frame covers the return-address slot and survives where it does not, with the reason;
// unwinders without a window survive 10,000 injections. Which paddings do what is calibrated on
// this host by a sweep, never assumed.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/object_analysis.h"
#include "host/signal_frame.h"
#include "runtime_support.h"

namespace ut::runtime_test {
namespace {

constexpr double kMinLanding = 0.99;

struct ValidateRun {
  std::optional<int> status;
  nlohmann::json report;
  std::string text, errors;
  double seconds = 0;
  BpfObjectIds bpf_objects;  // what the tool held while it ran
};

ValidateRun run_validate(const std::vector<std::string>& args, double timeout_s = 600) {
  auto json_path =
      std::filesystem::temp_directory_path() / fmt::format("unwindtrace-validate-{}.json", getpid());
  std::vector<std::string> argv{tool_path(), "validate", "-q", "--json", json_path.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto started = std::chrono::steady_clock::now();
  proc::ChildProcess child(argv);
  ValidateRun run;
  run.status = wait_recording_bpf_objects(child, timeout_s, run.bpf_objects);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  run.text = child.read_stdout_rest();
  run.errors = child.read_stderr_rest();
  std::ifstream in(json_path);
  if (in) run.report = nlohmann::json::parse(in, nullptr, false);
  std::filesystem::remove(json_path);
  return run;
}

// Every run must leave nothing behind: what the tool held while it ran is gone after its exit.
void expect_detached(const ValidateRun& run) {
  auto left = still_loaded(run.bpf_objects);
  EXPECT_TRUE(left.empty()) << "still loaded: " << left.describe();
}

const nlohmann::json* site_of_kind(const nlohmann::json& report, const std::string& kind) {
  for (const auto& site : report["sites"])
    if (site["kind"] == kind) return &site;
  return nullptr;
}

const nlohmann::json* slot_of_class(const nlohmann::json& site, const std::string& cls) {
  for (const auto& slot : site["slots"])
    if (slot["class"] == cls) return &slot;
  return nullptr;
}

uint64_t hex_value(const nlohmann::json& text) { return std::stoull(text.get<std::string>(), nullptr, 16); }

// A return to 0, or to an address the CPU refuses (non-canonical).
bool wild_return_ip(uint64_t ip) {
  return ip == 0 || (ip >= 0x0000800000000000ull && ip < 0xffff800000000000ull);
}

void expect_landed_where_intended(const nlohmann::json& report) {
  for (const auto& site : report["sites"]) {
    if (site["injections"]["delivered"].get<uint64_t>() == 0) continue;
    EXPECT_GE(site["injections"]["landing_ratio"].get<double>(), kMinLanding)
        << site["offset"] << " landed elsewhere: " << site["injections"]["elsewhere"].dump();
  }
}

// Which paddings of the GNU workload put the return-address slot in bytes the frame writes and
// which do not, measured on this host: a sweep from no padding to past the largest frame.
struct Calibration {
  uint64_t crash_padding = 0;
  std::optional<uint64_t> survive_padding;
  std::string table;  // the sweep's text, for failure messages
};

const Calibration& calibration() {
  static const Calibration measured = [] {
    Calibration c;
    auto frame = host::measure_signal_frame();
    int32_t ip_disp = 0;
    for (const auto& routine : analysis::analyse_object(kGnuLibunwind).routines)
      if (routine.symbol.name == "_Ux86_64_setcontext") ip_disp = routine.window.ip_disp.value_or(0);
    // D > padding, so once padding exceeds frame + red zone + the slot's displacement, the slot
    // lies below every frame: one step past that ends the sweep.
    constexpr uint64_t kStep = 256;
    uint64_t last = (frame.max_bytes + 128 + static_cast<uint64_t>(ip_disp)) / kStep * kStep + kStep;
    auto run = run_validate({"--sweep-padding", fmt::format("0:{}:{}", last, kStep), "--count", "20"});
    c.table = run.text;
    bool found_crash = false;
    for (const auto& point : run.report["sweep"]["runs"]) {
      const auto* site = site_of_kind(point["report"], "return-address");
      if (!site) continue;
      uint64_t padding = point["padding"].get<uint64_t>();
      const auto& crash = (*site)["crash"];
      if (!found_crash && crash.is_object() && wild_return_ip(hex_value(crash["ip"]))) {
        c.crash_padding = padding;
        found_crash = true;
      }
      const auto* slot = slot_of_class(*site, "return-address");
      if (!c.survive_padding && slot && (*slot)["overwritten"] == 0 && !crash.is_object())
        c.survive_padding = padding;
    }
    if (!found_crash) c.table += "\n(no padding crashed)";
    return c;
  }();
  return measured;
}

TEST(Validate, GnuLibunwindCrashesAtTheReturnAddressReadWithinASecond) {
  UT_REQUIRE_ROOT();
  const auto& cal = calibration();
  ASSERT_NE(cal.table.find("crashed"), std::string::npos) << cal.table;

  auto run = run_validate({"--padding", std::to_string(cal.crash_padding), "--count", "1000"});
  expect_detached(run);
  ASSERT_TRUE(run.report.is_object()) << run.errors;
  EXPECT_EQ(run.status, 6) << run.text << run.errors;
  const auto* site = site_of_kind(run.report, "return-address");
  ASSERT_TRUE(site) << run.text;
  ASSERT_EQ((*site)["outcome"], "crashed") << run.text;
  const auto& crash = (*site)["crash"];
  EXPECT_TRUE(wild_return_ip(hex_value(crash["ip"]))) << crash.dump();
  EXPECT_EQ(crash["signal"], "SIGSEGV");
  EXPECT_LT(crash["seconds"].get<double>(), 1.0) << "from the start of injection";
  // The first injections crash: the frame always covers the slot at this padding.
  EXPECT_LE(crash["after_injection"]["seq"].get<uint64_t>(), 3u);
  const auto* slot = slot_of_class(crash["after_injection"], "return-address");
  ASSERT_TRUE(slot);
  EXPECT_TRUE((*slot)["overwritten"].get<bool>());
  EXPECT_TRUE((*slot)["placement"] == "inside" || (*slot)["placement"] == "edge") << slot->dump();
  EXPECT_EQ(hex_value((*slot)["after"]), hex_value(crash["ip"]))
      << "the thread returned to what the frame left";
  expect_landed_where_intended(run.report);
  fmt::print("crash at padding {} B: {:.3f} s after injection started; whole run {:.1f} s\n",
             cal.crash_padding, crash["seconds"].get<double>(), run.seconds);
}

TEST(Validate, GnuLibunwindSurvivesWhereTheFrameDoesNotWriteTheSlotAndSaysWhy) {
  UT_REQUIRE_ROOT();
  const auto& cal = calibration();
  ASSERT_TRUE(cal.survive_padding) << cal.table;

  auto run = run_validate({"--padding", std::to_string(*cal.survive_padding), "--count", "1000"});
  expect_detached(run);
  ASSERT_TRUE(run.report.is_object()) << run.errors;
  const auto* site = site_of_kind(run.report, "return-address");
  ASSERT_TRUE(site) << run.text;
  EXPECT_TRUE((*site)["crash"].is_null()) << run.text;
  EXPECT_EQ((*site)["injections"]["landed"], 1000);
  const auto* slot = slot_of_class(*site, "return-address");
  ASSERT_TRUE(slot);
  EXPECT_EQ((*slot)["overwritten"], 0);
  std::string reason = (*site)["reason"];
  EXPECT_TRUE(
      reason.find("ctx+0xa8 (return address) lay below the signal frame") != std::string::npos ||
      reason.find("ctx+0xa8 (return address) lay inside the signal frame, but in bytes the kernel did "
                  "not write") != std::string::npos)
      << reason;
  // Register slots may still be hit at this padding: the exit status follows the verdict.
  EXPECT_EQ(run.status, run.report["verdict"]["corrupted"].get<bool>() ? 6 : 0) << run.text;
  expect_landed_where_intended(run.report);
  fmt::print("survives at padding {} B: {}\n", *cal.survive_padding, reason);
}

struct NoWindowCase {
  const char* name;
  std::vector<std::string> args;
};

class ValidateNoWindow : public ::testing::TestWithParam<NoWindowCase> {};

TEST_P(ValidateNoWindow, TenThousandInjectionsAfterTheSwitchCorruptNothing) {
  UT_REQUIRE_ROOT();
  auto args = GetParam().args;
  args.insert(args.end(), {"--count", "10000"});
  auto run = run_validate(args);
  expect_detached(run);
  ASSERT_TRUE(run.report.is_object()) << run.errors;
  EXPECT_EQ(run.status, 0) << run.text << run.errors;
  ASSERT_FALSE(run.report["sites"].empty()) << run.text;
  uint64_t landed = 0;
  for (const auto& site : run.report["sites"]) {
    EXPECT_EQ(site["kind"], "after-switch") << run.text;
    EXPECT_EQ(site["outcome"], "survived") << site["reason"];
    EXPECT_EQ(site["injections"]["delivered"], 10000);
    EXPECT_EQ(site["injections"]["corrupted"], 0);
    EXPECT_EQ(site["injections"]["resumed"], site["injections"]["landed"]);
    EXPECT_TRUE(site["crash"].is_null());
    landed += site["injections"]["landed"].get<uint64_t>();
  }
  expect_landed_where_intended(run.report);
  EXPECT_TRUE(
      run.report["verdict"]["text"].get<std::string>().starts_with("no window: nothing reads the abandoned "
                                                                   "stack after the switch"))
      << run.report["verdict"]["text"];
  fmt::print("{}: {} injections landed after the switch, none corrupted, {:.1f} s\n", GetParam().name, landed,
             run.seconds);
}

INSTANTIATE_TEST_SUITE_P(ValidateUnwinders, ValidateNoWindow,
                         ::testing::Values(NoWindowCase{"llvm", {"--unwinder", "llvm"}},
                                           NoWindowCase{"libgcc", {"--unwinder", "libgcc"}},
                                           NoWindowCase{
                                               "upstream_fix",
                                               {"--lib", std::string(UT_FIXTURE_DIR) + "/libut_fixed.so"}}),
                         [](const auto& info) { return std::string(info.param.name); });

// The workload's own handler reads the interrupted IP from its ucontext: an independent count of
// where the injected signals landed, instruction by instruction.
TEST(Validate, LandingMatchesTheTargetsOwnHandlerOnAProcessNamedByPid) {
  UT_REQUIRE_ROOT();
  constexpr uint64_t kCount = 500;
  const auto offsets = gnu_window_offsets();
  ASSERT_FALSE(offsets.empty());
  // Far padding: nothing corrupts, so the one process lives through every instruction's turn.
  Workload workload = injection_workload(offsets, kCount, {"--padding", "16384"});
  workload.go();
  auto run = run_validate(
      {"--pid", std::to_string(workload.pid()), "--i-know-this-crashes", "--count", std::to_string(kCount)});
  expect_detached(run);
  auto own = workload.finish(60);
  ASSERT_TRUE(run.report.is_object()) << run.errors;
  EXPECT_EQ(run.status, 0) << run.text;
  uint64_t delivered = 0;
  for (const auto& site : run.report["sites"]) {
    delivered += site["injections"]["delivered"].get<uint64_t>();
    if (site["kind"] == "after-switch") continue;
    std::string key = site["offset"].get<std::string>().substr(1);  // "+0x52" -> "0x52"
    EXPECT_EQ(site["injections"]["landed"], kCount) << key;
    EXPECT_EQ(own["setcontext"]["residency"].value(key, uint64_t{0}), kCount)
        << "the handler's count at " << key;
  }
  EXPECT_EQ(own["signals_handled"].get<uint64_t>(), delivered);
  expect_landed_where_intended(run.report);
}

TEST(Validate, RefusesAProcessItDidNotStartWithoutTheExplicitFlag) {
  UT_REQUIRE_ROOT();
  Workload workload("gnu", {"--signal-rate", "0", "--duration", "0.2"});
  auto run = run_validate({"--pid", std::to_string(workload.pid())}, 30);
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.errors.find("add --i-know-this-crashes"), std::string::npos) << run.errors;
  EXPECT_TRUE(run.bpf_objects.empty()) << "loaded before refusing: " << run.bpf_objects.describe();
  workload.go();
  EXPECT_EQ(workload.finish(30)["signals_handled"], 0) << "nothing was injected";
}

TEST(Validate, InjectsIntoACommandItStarts) {
  UT_REQUIRE_ROOT();
  const auto& cal = calibration();
  auto run = run_validate({"--count", "100", "--", workload_path("gnu"), "--signal-rate", "0", "--duration",
                           "20", "--padding", std::to_string(cal.crash_padding), "--quiet"});
  expect_detached(run);
  ASSERT_TRUE(run.report.is_object()) << run.errors;
  EXPECT_EQ(run.status, 6) << run.text;
  const auto* site = site_of_kind(run.report, "return-address");
  ASSERT_TRUE(site) << run.text;
  EXPECT_EQ((*site)["outcome"], "crashed") << (*site)["reason"];
  expect_landed_where_intended(run.report);
}

}  // namespace
}  // namespace ut::runtime_test

namespace ut::runtime_test {
namespace {

// A/B: Debian's library as the reference, the upstream fix's sequence as the candidate. The
// candidate decides the exit status; the reference's rows show its window, whatever the geometry
// does to them on this host.
TEST(Validate, CompareShowsBothLibrariesAndTheCandidateDecides) {
  UT_REQUIRE_ROOT();
  auto run = run_validate({"--count", "50", "--compare", UT_GNU_LIBUNWIND,
                           std::string(UT_FIXTURE_DIR) + "/libut_fixed.so"});
  EXPECT_EQ(run.status, 0) << run.text << run.errors;
  EXPECT_NE(run.text.find("return-address"), std::string::npos) << run.text;
  EXPECT_NE(run.text.find("after-switch"), std::string::npos) << run.text;
  EXPECT_EQ(run.report["schema"], "unwindtrace-validate-compare/1");
  EXPECT_TRUE(run.report["a"].is_object());
  EXPECT_TRUE(run.report["b"].is_object());
  expect_detached(run);
}

}  // namespace
}  // namespace ut::runtime_test
