// `unwindtrace record`: host mode finds exposed processes by itself (also ones started after it),
// leaves unexposed ones alone, writes records that `report` reads, and ends cleanly.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "record_support.h"
#include "runtime_support.h"

namespace ut::runtime_test {
namespace {

template <typename Predicate>
bool eventually(double timeout_s, Predicate done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

TEST(RecordHostMode, TracesTheExposedProcessAndWritesItsRecords) {
  UT_REQUIRE_ROOT();
  Workload exposed("gnu", {"--threads", "1", "--signal-rate", "2000", "--duration", "60"});
  Workload safe("libgcc", {"--threads", "1", "--signal-rate", "2000", "--duration", "60"});
  exposed.go();
  safe.go();
  RecordRun run({"-p", std::to_string(exposed.pid()), "-p", std::to_string(safe.pid()), "--duration", "5",
                 "--segment-s", "1"});
  auto status = run.process().wait(60);
  std::string err = run.process().read_stderr_rest();
  ASSERT_EQ(status, 0) << err;
  EXPECT_NE(err.find("record(s) written, 0 dropped"), std::string::npos) << err;

  auto records = run.records();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front()["kind"], "host");
  EXPECT_FALSE(records.front()["cpu_model"].get<std::string>().empty());
  auto last = run.last_process_record(exposed.pid());
  ASSERT_FALSE(last.is_null()) << "no record for the exposed workload";
  EXPECT_EQ(last["mode"], "signal_only");
  double traced_s = 0;
  uint64_t signals = 0;
  size_t segments = 0;
  for (const auto& r : records)
    if (r["kind"] == "process" && r["pid"] == exposed.pid()) {
      traced_s += r["duration_s"].get<double>();
      signals += r["counts"]["signals"].get<uint64_t>();
      ++segments;
    }
  EXPECT_GT(signals, 0u);
  EXPECT_GE(traced_s, 1.0);  // of 5 s: the first scan (dpkg's file lists) can take seconds when cold
  EXPECT_NE(last["unwinder"]["object"].get<std::string>().find("libunwind"), std::string::npos);
  EXPECT_GT(last["process_start_ticks"].get<uint64_t>(), 0u);
  EXPECT_GE(segments, 2u) << "a record per segment and the last one";
  EXPECT_TRUE(run.last_process_record(safe.pid()).is_null()) << "libgcc's unwinder is not exposed";

  for (const auto& entry : std::filesystem::directory_iterator(run.directory())) {
    struct stat st {};
    ASSERT_EQ(stat(entry.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u) << entry.path();
  }
  proc::ChildProcess report({tool_path(), "report", run.directory().string(), "--json", "-"});
  auto report_status = report.wait(30);
  auto json = nlohmann::json::parse(report.read_stdout_rest());
  EXPECT_EQ(report_status, 0);
  EXPECT_EQ(json["fleet"]["processes"], 1);
  EXPECT_EQ(json["input"]["bad_lines"], 0);
  exposed.process().send_signal(SIGKILL);
  safe.process().send_signal(SIGKILL);
}

TEST(RecordHostMode, PicksUpAProcessStartedLaterAndWritesItsFinalRecordAtExit) {
  UT_REQUIRE_ROOT();
  // Every process running the workload's executable: others' processes on this host stay out.
  RecordRun run({"--duration", "60", "--rescan-s", "0.5", "--segment-s", "60", "--exe", workload_path("gnu")},
                {.notes = true});
  ASSERT_TRUE(run.wait_for_note("first scan done", 30));
  Workload late("gnu", {"--threads", "1", "--signal-rate", "1000", "--duration", "2"});
  late.go();
  late.finish(30);
  EXPECT_TRUE(eventually(15, [&] {
    auto last = run.last_process_record(late.pid());
    return !last.is_null() && last["target_exited"].get<bool>();
  })) << "no final record for a process started after record";
  run.process().send_signal(SIGTERM);
  auto status = run.process().wait(30);
  EXPECT_EQ(status, 0) << run.process().read_stderr_rest();
}

TEST(RecordHostMode, UnwritableOutputIsAUsageErrorBeforeTracing) {
  UT_REQUIRE_ROOT();
  proc::ChildProcess tool({tool_path(), "record", "--output", "/nonexistent/records", "--duration", "1"});
  auto status = tool.wait(30);
  std::string err = tool.read_stderr_rest();
  EXPECT_EQ(status, 2) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("not a directory"), std::string::npos) << err;
}

}  // namespace
}  // namespace ut::runtime_test

namespace ut::runtime_test {
namespace {

// Any process on the host, traced or not: its fault becomes a crash record with the registers'
// facts (a jump to 0 has IP 0).
TEST(RecordHostMode, RecordsACrashOfAnyProcess) {
  UT_REQUIRE_ROOT();
  proc::ChildProcess crasher({std::string(UT_PROGRAM_DIR) + "/ut_jump_to_zero"});
  ASSERT_EQ(crasher.read_stdout_line(10), "ready");
  RecordRun run({"--duration", "60", "-p", std::to_string(crasher.pid())}, {.notes = true});
  ASSERT_TRUE(run.wait_for_note("first scan done", 30)) << "the crash watch is attached before the first scan";
  crasher.write_stdin("go\n");
  EXPECT_EQ(crasher.wait(10), 128 + SIGSEGV);
  nlohmann::json crash;
  EXPECT_TRUE(eventually(10, [&] {
    for (auto& r : run.records())
      if (r["kind"] == "crash" && r["pid"] == crasher.pid()) crash = r;
    return !crash.is_null();
  })) << "no crash record";
  EXPECT_EQ(crash["signal"], "SIGSEGV");
  EXPECT_EQ(crash["fault_ip"], "0x0");
  EXPECT_TRUE(crash["return_to_zero"].get<bool>());
  EXPECT_FALSE(crash["window_hit_before"].get<bool>());  // not an exposed process
  EXPECT_EQ(crash["comm"], "ut_jump_to_zero");
  run.process().send_signal(SIGTERM);
  EXPECT_EQ(run.process().wait(30), 0);
}

}  // namespace
}  // namespace ut::runtime_test

namespace ut::runtime_test {
namespace {

// `attach --all`: host mode with attach's reports, one per exposed process found.
TEST(AttachAll, ReportsEveryExposedProcessItFound) {
  UT_REQUIRE_ROOT();
  Workload exposed("gnu", {"--threads", "1", "--signal-rate", "2000", "--duration", "60"});
  exposed.go();
  auto json_path = std::filesystem::temp_directory_path() / fmt::format("ut-attach-all-{}.json", getpid());
  proc::ChildProcess tool({tool_path(), "attach", "--all", "-d", "3", "-q", "--json", json_path.string()});
  tool.read_stdout_rest();  // the text reports: other exposed processes on the host can fill the pipe
  auto status = tool.wait(120);
  std::string err = tool.read_stderr_rest();
  ASSERT_EQ(status, 0) << err;
  std::ifstream in(json_path);
  auto reports = nlohmann::json::parse(in);
  std::filesystem::remove(json_path);
  if (!reports.is_array()) reports = nlohmann::json::array({reports});  // one process: one report, as attach -p
  bool found = false;
  for (const auto& report : reports) found = found || report["target"]["pid"] == exposed.pid();
  EXPECT_TRUE(found) << "the exposed workload is not among the reports";
  exposed.process().send_signal(SIGKILL);
}

TEST(AttachAll, PidAndAllExcludeEachOther) {
  UT_REQUIRE_ROOT();
  proc::ChildProcess tool({tool_path(), "attach", "--all", "-p", "1"});
  EXPECT_EQ(tool.wait(30), 2);
  proc::ChildProcess neither({tool_path(), "attach"});
  EXPECT_EQ(neither.wait(30), 2);
  EXPECT_NE(neither.read_stderr_rest().find("-p PID or --all"), std::string::npos);
}

}  // namespace
}  // namespace ut::runtime_test

namespace ut::runtime_test {
namespace {

// A full file system, made with a file size limit: records that do not fit are dropped whole,
// said once, counted, and the run exits 1; what was written parses line by line.
TEST(RecordHostMode, FullDiskDropsWholeRecordsSaysSoOnceAndExitsOne) {
  UT_REQUIRE_ROOT();
  Workload exposed("gnu", {"--threads", "1", "--signal-rate", "1000", "--duration", "60"});
  exposed.go();
  RecordRun run({"--duration", "4", "--segment-s", "0.5", "-p", std::to_string(exposed.pid())},
                {.file_size_limit = 3000});
  auto status = run.process().wait(60);
  std::string err = run.process().read_stderr_rest();
  EXPECT_EQ(status, 1) << err;
  std::smatch dropped;
  ASSERT_TRUE(std::regex_search(err, dropped, std::regex("(\\d+) record\\(s\\) written, (\\d+) dropped"))) << err;
  EXPECT_GT(std::stoul(dropped[2].str()), 0u);
  // One line per run of failures (a small crash record of another process may still fit between
  // two runs), never one per record.
  size_t said = 0;
  for (size_t at = err.find("dropping records until it works again"); at != std::string::npos;
       at = err.find("dropping records until it works again", at + 1))
    ++said;
  EXPECT_GE(said, 1u) << err;
  EXPECT_LT(said, std::stoul(dropped[2].str())) << err;
  auto records = run.records();  // throws on a torn line
  EXPECT_EQ(records.size(), std::stoul(dropped[1].str()));
  exposed.process().send_signal(SIGKILL);
}

}  // namespace
}  // namespace ut::runtime_test

namespace ut::runtime_test {
namespace {

// The CPU budget under a storm: a budget no tracer can keep makes record degrade step by step,
// say so on stderr, write each step as a host record, and really stop the resume probes.
TEST(RecordCpuBudget, ATinyBudgetDegradesStepByStepAndRecordsEachStep) {
  UT_REQUIRE_ROOT();
  Workload exposed("gnu", {"--threads", "2", "--signal-rate", "5000", "--duration", "60"});
  exposed.go();
  RecordRun run({"--duration", "12", "--segment-s", "3", "--mode", "full", "--cpu-budget", "0.01",
                 "--cpu-budget-window", "1", "-p", std::to_string(exposed.pid())});
  auto status = run.process().wait(120);
  std::string err = run.process().read_stderr_rest();
  ASSERT_EQ(status, 0) << err;
  for (const char* step : {"(normal -> reduced_duty)", "(reduced_duty -> signal_only)",
                           "(signal_only -> no_new_processes)"})
    EXPECT_NE(err.find(step), std::string::npos) << "no line for " << step << " in:\n" << err;

  std::vector<std::string> levels;
  std::vector<nlohmann::json> processes;
  for (const auto& r : run.records()) {
    if (r["kind"] == "host") {
      ASSERT_FALSE(r["cpu_budget"].is_null());
      EXPECT_DOUBLE_EQ(r["cpu_budget"]["percent"].get<double>(), 0.01);
      levels.push_back(r["cpu_budget"]["level"]);
    }
    if (r["kind"] == "process" && r["pid"] == exposed.pid()) processes.push_back(r);
  }
  ASSERT_GE(levels.size(), 4u);
  EXPECT_EQ(levels.front(), "normal");  // the host record at start
  EXPECT_EQ(std::vector<std::string>(levels.begin() + 1, levels.begin() + 4),
            (std::vector<std::string>{"reduced_duty", "signal_only", "no_new_processes"}));
  ASSERT_GE(processes.size(), 2u);
  const auto& last = processes.back();
  EXPECT_EQ(last["cpu_budget_level"], "no_new_processes");
  EXPECT_EQ(last["counts"]["resumes"], 0) << "resume probes still counting after signal-only";
  EXPECT_GT(last["counts"]["signals"].get<uint64_t>(), 0u) << "the signal side stays";
  uint64_t earlier_resumes = 0;
  for (size_t i = 0; i + 1 < processes.size(); ++i) earlier_resumes += processes[i]["counts"]["resumes"].get<uint64_t>();
  EXPECT_GT(earlier_resumes, 0u) << "full mode counted no resume before degrading";
  exposed.process().send_signal(SIGKILL);
}

// An exec of the same program: the path does not change, the exec tracepoint tells. The old
// image's trace ends at the exec and the new image is traced at once, long before a rescan.
TEST(RecordHostMode, AnExecOfTheSameProgramEndsTheSegmentAndTracesTheNewImage) {
  UT_REQUIRE_ROOT();
  proc::ChildProcess target({std::string(UT_PROGRAM_DIR) + "/ut_throw_gnu"});
  ASSERT_EQ(target.read_stdout_line(10), "ready");
  RecordRun run({"--duration", "120", "--rescan-s", "600", "--segment-s", "600", "-p", std::to_string(target.pid())},
                {.notes = true});
  std::string attached = fmt::format("attached to PID {} ", target.pid());
  ASSERT_TRUE(run.wait_for_note(attached, 60)) << "the first image was not traced";
  target.write_stdin("reexec\n");
  ASSERT_EQ(target.read_stdout_line(10), "ready") << "the program did not exec itself";
  ASSERT_TRUE(run.wait_for_note("exec'd", 30)) << "the exec did not end the first image's trace";
  ASSERT_TRUE(run.wait_for_note(attached, 30)) << "the new image was not traced";
  run.process().send_signal(SIGTERM);
  ASSERT_EQ(run.process().wait(30), 0) << run.process().read_stderr_rest();

  std::vector<nlohmann::json> segments;
  for (const auto& r : run.records())
    if (r["kind"] == "process" && r["pid"] == target.pid()) segments.push_back(r);
  ASSERT_EQ(segments.size(), 2u) << "one segment per image";
  EXPECT_TRUE(segments[0]["target_exited"].get<bool>()) << "the first image's trace ends at the exec";
  EXPECT_FALSE(segments[1]["target_exited"].get<bool>());
  EXPECT_EQ(segments[0]["process_start_ticks"], segments[1]["process_start_ticks"]);  // one process
  EXPECT_EQ(segments[0]["exe"], segments[1]["exe"]);
  EXPECT_LE(segments[0]["ended_at"].get<std::string>(), segments[1]["started_at"].get<std::string>());
  EXPECT_NE(segments[1]["unwinder"]["object"].get<std::string>().find("libunwind"), std::string::npos);
}

}  // namespace
}  // namespace ut::runtime_test
