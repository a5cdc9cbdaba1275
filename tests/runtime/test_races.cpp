// Races with the target while attached: it exits, execs, churns threads, dlcloses its unwinder,
// has already died (a zombie), or is still starting. Each case ends with a clear message or a
// report of what was seen, never a crash, and leaves nothing loaded.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/ranges.h>

#include "runtime_support.h"
#include "trace/trace_session.h"

namespace ut::runtime_test {
namespace {

std::string program_path(const std::string& name) { return std::string(UT_PROGRAM_DIR) + "/" + name; }

// A test program that says "ready" first.
std::unique_ptr<proc::ChildProcess> start_program(const std::vector<std::string>& argv) {
  auto child = std::make_unique<proc::ChildProcess>(argv);
  auto ready = child->read_stdout_line(10);
  if (ready != "ready") throw std::runtime_error(argv[0] + " did not start: " + child->read_stderr_rest());
  return child;
}

// Sends one command line and waits for the answer line.
std::string ask(proc::ChildProcess& child, const std::string& command) {
  child.write_stdin(command + "\n");
  return child.read_stdout_line(60).value_or("(no answer)");
}

bool maps_contain(pid_t pid, const std::string& path) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  std::stringstream text;
  text << in.rdbuf();
  return text.str().find(path) != std::string::npos;
}

void expect_released(const Tracer& tracer) {
  auto left = still_loaded(tracer.bpf_objects());
  EXPECT_TRUE(left.empty()) << "left behind: " << left.describe();
}

TEST(Races, TargetExitsWhileAttached) {
  UT_REQUIRE_ROOT();
  Workload workload("gnu", {"--threads", "2", "--signal-rate", "5000", "--duration", "1.5"});
  Tracer tracer(workload.pid(), {"--mode", "full"});  // exact counts: every resume traced
  ASSERT_TRUE(tracer.attached()) << tracer.first_stderr_line();
  workload.go();
  auto own = workload.finish(30);
  ASSERT_EQ(tracer.finish(30), 0) << tracer.stderr_text();
  const auto& report = tracer.report();
  ASSERT_TRUE(report.is_object()) << tracer.stderr_text();
  EXPECT_TRUE(report["target"]["exited"].get<bool>());
  EXPECT_TRUE(report["target"]["changed"].is_null());
  EXPECT_NE(tracer.stdout_text().find("the target exited during tracing"), std::string::npos)
      << tracer.stdout_text();
  // Its whole life was traced: the counts are the workload's own.
  EXPECT_EQ(report["process"]["resumes"]["count"], own["resumes"]);
  EXPECT_EQ(report["lost"]["uncounted"], 0);
  expect_released(tracer);
}

TEST(Races, TargetExecsAnotherProgram) {
  UT_REQUIRE_ROOT();
  auto target = start_program({program_path("ut_throw_gnu")});
  Tracer tracer(target->pid(), {"--mode", "full"});  // exact counts: every resume traced
  ASSERT_TRUE(tracer.attached()) << tracer.first_stderr_line();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(ask(*target, "throw"), "thrown");
  target->write_stdin("exec\n");
  auto status = tracer.finish(30);
  ASSERT_EQ(status, 0) << tracer.stderr_text();
  const auto& report = tracer.report();
  ASSERT_TRUE(report.is_object()) << tracer.stderr_text();
  EXPECT_FALSE(report["target"]["exited"].get<bool>());
  ASSERT_TRUE(report["target"]["changed"].is_string()) << report["target"].dump();
  EXPECT_NE(report["target"]["changed"].get<std::string>().find("exec'd"), std::string::npos)
      << report["target"]["changed"];
  EXPECT_NE(tracer.stdout_text().find("tracing stopped early: it exec'd"), std::string::npos)
      << tracer.stdout_text();
  // What was seen before the exec is reported: the five throws resumed.
  EXPECT_GE(report["process"]["resumes"]["count"].get<uint64_t>(), 5u);
  EXPECT_EQ(report["process"]["resumes"]["count"], report["process"]["distance"]["count"]);
  expect_released(tracer);
}

TEST(Races, ThreadsComeAndGoWhileAttached) {
  UT_REQUIRE_ROOT();
  auto target = start_program({program_path("ut_thread_churn")});
  Tracer tracer(target->pid(), {"--mode", "full"});  // exact counts: every resume traced
  ASSERT_TRUE(tracer.attached()) << tracer.first_stderr_line();
  constexpr int kThreads = 300, kThrows = 20;
  ASSERT_EQ(ask(*target, "churn " + std::to_string(kThreads) + " " + std::to_string(kThrows)),
            "churned " + std::to_string(kThreads));
  // Every churned thread has ended: the kernel pruned its entries (the main thread neither
  // resumes nor takes signals, and this tracer traces nothing else).
  EXPECT_EQ(map_entries(tracer.bpf_objects(), "threads"), 0u);
  EXPECT_EQ(map_entries(tracer.bpf_objects(), "signal_counts"), 0u);
  tracer.process().send_signal(SIGTERM);
  ASSERT_EQ(tracer.finish(30), 0) << tracer.stderr_text();
  const auto& report = tracer.report();
  ASSERT_TRUE(report.is_object()) << tracer.stderr_text();
  // Every ended thread is still accounted for: each resumed and took its signals, kernel counts
  // equal the events and the program's own (K throws and K raise(SIGUSR1) per thread).
  EXPECT_EQ(report["lost"]["uncounted"], 0);
  uint64_t resumes = report["process"]["resumes"]["count"].get<uint64_t>();
  EXPECT_GE(resumes, static_cast<uint64_t>(kThreads * kThrows));
  EXPECT_EQ(report["process"]["distance"]["count"].get<uint64_t>(), resumes);
  EXPECT_EQ(report["process"]["signals"]["total"].get<uint64_t>(), static_cast<uint64_t>(kThreads * kThrows));
  size_t resuming_threads = 0, signalled_threads = 0;
  for (const auto& thread : report["threads"]) {
    if (thread["resumes"]["count"].get<uint64_t>() > 0) ++resuming_threads;
    if (thread["signals"]["total"].get<uint64_t>() == static_cast<uint64_t>(kThrows)) ++signalled_threads;
  }
  EXPECT_EQ(resuming_threads, static_cast<size_t>(kThreads));
  EXPECT_EQ(signalled_threads, static_cast<size_t>(kThreads));
  expect_released(tracer);
}

// A process that dies just before its resume probes are attached (killed and reaped from the
// session's hook, so the uprobe's perf_event_open fails with ESRCH) is reported as exited; the
// other process is traced as usual. First: its probes are attached by the duty cycle's start
// (the first process added); second: by add_process, mid-period.
class DiesDuringAttach : public ::testing::TestWithParam<bool> {};

TEST_P(DiesDuringAttach, IsReportedAsExitedAndTheOtherIsTraced) {
  UT_REQUIRE_ROOT();
  const bool dying_first = GetParam();
  Workload survivor("gnu", {"--threads", "1", "--signal-rate", "1000", "--duration", "30"});
  Workload dying("gnu", {"--threads", "1", "--signal-rate", "0", "--duration", "30"});
  survivor.go();
  trace::TraceOptions options;
  options.pids = dying_first ? std::vector<pid_t>{dying.pid(), survivor.pid()}
                             : std::vector<pid_t>{survivor.pid(), dying.pid()};
  options.session.mode = model::TraceMode::Full;
  options.duration_s = 1;
  bool killed = false;
  options.session.before_probes = [&](pid_t pid) {
    if (pid != dying.pid() || killed) return;
    dying.process().send_signal(SIGKILL);
    killed = dying.process().wait(10).has_value();  // reaped: its PID is gone
  };
  std::vector<std::string> attached;
  options.on_attached = [&](const std::string& what) { attached.push_back(what); };
  std::vector<trace::TraceResult> results;
  ASSERT_NO_THROW(results = trace::trace_processes(options));
  ASSERT_TRUE(killed);
  ASSERT_EQ(results.size(), 2u);
  const auto& gone = results[dying_first ? 0 : 1];
  const auto& traced = results[dying_first ? 1 : 0];
  EXPECT_EQ(gone.session.pid, dying.pid());
  EXPECT_TRUE(gone.session.target_exited);
  EXPECT_FALSE(gone.session.routines.empty()) << "its routines were found before it died";
  EXPECT_TRUE(std::any_of(gone.warnings.begin(), gone.warnings.end(), [](const std::string& w) {
    return w.find("exited while it was being attached") != std::string::npos;
  })) << fmt::format("{}", fmt::join(gone.warnings, "; "));
  EXPECT_TRUE(std::any_of(attached.begin(), attached.end(), [](const std::string& a) {
    return a.find("exited while it was being attached") != std::string::npos;
  })) << fmt::format("{}", fmt::join(attached, "; "));
  EXPECT_FALSE(traced.session.target_exited);
  uint64_t resumes = 0;
  for (const auto& [tid, count] : traced.session.kernel_resumes) resumes += count;
  EXPECT_GT(resumes, 0u) << "the other process was not traced";
  survivor.process().send_signal(SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(Races, DiesDuringAttach, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "AddedFirst" : "AddedSecond"; });

TEST(Races, TargetDlclosesItsUnwinder) {
  UT_REQUIRE_ROOT();
  auto target = start_program({program_path("ut_dlopen_host"), program_path("libut_throw_in_library.so")});
  ASSERT_EQ(ask(*target, "open"), "opened");
  Tracer tracer(target->pid(), {"--mode", "full"});  // exact counts: every resume traced
  ASSERT_TRUE(tracer.attached()) << tracer.first_stderr_line();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(ask(*target, "call"), "called 7");
  ASSERT_EQ(ask(*target, "close"), "closed");
  // The tracer stops by itself exactly when the unwinder is gone from the maps. Here it stays
  // (a library with unique symbols, as libstdc++ gives it, is never unloaded): still traced,
  // so it is stopped here.
  bool stopped_by_itself = tracer.process().wait(3).has_value();
  bool unmapped = !maps_contain(target->pid(), UT_GNU_LIBUNWIND);
  RecordProperty("libunwind_unmapped_by_dlclose", unmapped ? "yes" : "no");
  EXPECT_EQ(stopped_by_itself, unmapped);
  if (!stopped_by_itself) tracer.process().send_signal(SIGTERM);
  ASSERT_EQ(tracer.finish(30), 0) << tracer.stderr_text();
  const auto& report = tracer.report();
  ASSERT_TRUE(report.is_object()) << tracer.stderr_text();
  if (unmapped) {
    ASSERT_TRUE(report["target"]["changed"].is_string()) << report["target"].dump();
    EXPECT_NE(report["target"]["changed"].get<std::string>().find("was unmapped"), std::string::npos);
  } else {
    EXPECT_TRUE(report["target"]["changed"].is_null()) << report["target"].dump();
  }
  EXPECT_GE(report["process"]["resumes"]["count"].get<uint64_t>(), 3u);
  expect_released(tracer);
}

TEST(Races, ZombieTargetIsRefusedAsExited) {
  UT_REQUIRE_ROOT();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  usleep(100'000);  // it has exited; unreaped, its PID is a zombie's
  proc::ChildProcess tool({tool_path(), "attach", "-p", std::to_string(child)});
  BpfObjectIds held;
  auto status = wait_recording_bpf_objects(tool, 30, held);
  std::string err = tool.read_stderr_rest();
  waitpid(child, nullptr, 0);
  EXPECT_EQ(status, 3) << err;
  EXPECT_NE(err.find("has exited"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_TRUE(held.empty()) << held.describe();
}

// Stopped by ptrace at its exec, before the dynamic linker has run: no library is mapped yet.
TEST(Races, TargetStillStartingGetsAClearMessage) {
  UT_REQUIRE_ROOT();
  std::string workload = workload_path("gnu");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    execl(workload.c_str(), workload.c_str(), "--duration", "0.1", static_cast<char*>(nullptr));
    _exit(127);
  }
  int raw = 0;
  ASSERT_EQ(waitpid(child, &raw, 0), child);
  ASSERT_TRUE(WIFSTOPPED(raw)) << "not stopped at its exec";
  proc::ChildProcess tool({tool_path(), "attach", "-p", std::to_string(child)});
  auto status = tool.wait(30);
  std::string err = tool.read_stderr_rest();
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(status, 3) << err;
  EXPECT_NE(err.find("is still starting"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

}  // namespace
}  // namespace ut::runtime_test
