#include "trace/host_session.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "analysis/analysis_cache.h"
#include "analysis/elf_object.h"
#include "host/package_identity.h"
#include "proc/process_container.h"
#include "proc/process_exposure.h"
#include "proc/process_info.h"
#include "proc/process_list.h"
#include "trace/crash_watch.h"

namespace ut::trace {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string exe_build_id(pid_t pid) {
  try {
    return analysis::ElfObject::open(fmt::format("/proc/{}/exe", pid)).build_id();
  } catch (const std::exception&) {
    return "";  // not an ELF file we can read: the record leaves it empty
  }
}

// What host mode keeps per traced process besides the session's own state.
struct Tracked {
  proc::ProcessInfo info;  // to notice an exec (same PID and start, another exe)
  output::ProcessFacts facts;
  std::vector<std::pair<uint64_t, uint64_t>> routines;  // [start, end) of its hazardous routines
};

class HostTracer {
 public:
  explicit HostTracer(const HostTraceOptions& options) : options_(options), session_(session_options(options)) {
    if (options.on_crash) crash_watch_ = std::make_unique<CrashWatch>();
  }

  HostScanStats run() {
    auto started = Clock::now();
    auto segment_started = started;
    rescan();
    auto last_scan = Clock::now();
    for (;;) {
      for (pid_t pid : session_.poll(options_.poll_interval_ms)) end(pid, "exited");
      drain_crashes();
      if ((options_.stop && options_.stop->load()) || seconds_since(started) >= options_.duration_s) break;
      if (seconds_since(last_scan) >= options_.rescan_interval_s) {
        rescan();
        last_scan = Clock::now();
      }
      if (seconds_since(segment_started) >= options_.segment_s) {
        for (pid_t pid : session_.processes()) next_segment(pid);
        segment_started = Clock::now();
      }
    }
    drain_crashes();
    for (pid_t pid : session_.processes()) hand_out(pid, true);
    stats_.traced_now = 0;
    return stats_;
  }

 private:
  const HostTraceOptions& options_;
  std::set<std::pair<uint32_t, uint32_t>> hit_threads_;  // (tgid, tid) with a window hit
  TraceSession session_;
  std::unique_ptr<CrashWatch> crash_watch_;
  analysis::AnalysisCache cache_;
  host::PackageIndex packages_;
  std::map<pid_t, Tracked> tracked_;
  std::set<std::pair<pid_t, uint64_t>> failed_;  // (pid, start) that could not be traced: not retried
  HostScanStats stats_;

  SessionOptions session_options(const HostTraceOptions& options) {
    SessionOptions session = options.session;
    auto on_hit = options.session.on_hit;
    session.on_hit = [this, on_hit](const model::JoinedSignal& hit, const model::Session& traced) {
      hit_threads_.insert({hit.tgid, hit.tid});
      if (on_hit) on_hit(hit, traced);
    };
    return session;
  }

  void note(const std::string& text) const {
    if (options_.on_note) options_.on_note(text);
  }

  void hand_out(pid_t pid, bool last) {
    auto result = session_.remove_process(pid);
    if (options_.on_segment) options_.on_segment(result, tracked_.at(pid).facts, last);
    if (last) tracked_.erase(pid);
  }

  void end(pid_t pid, const char* why) {
    auto comm = tracked_.at(pid).info.comm;
    hand_out(pid, true);
    note(fmt::format("PID {} ({}) {}: last record written", pid, comm, why));
  }

  void next_segment(pid_t pid) {
    hand_out(pid, false);
    try {
      session_.add_process(pid);
    } catch (const std::exception& e) {  // it went away between the segments
      tracked_.erase(pid);
      note(fmt::format("PID {}: not traced further: {}", pid, e.what()));
    }
  }

  bool exec_d(const Tracked& t) const {
    try {
      return proc::read_process_info(t.info.pid).exe != t.info.exe;
    } catch (const std::exception&) {
      return false;  // gone: the session reports the exit
    }
  }

  void rescan() {
    auto started = Clock::now();
    for (pid_t pid : session_.processes())
      if (exec_d(tracked_.at(pid))) end(pid, "exec'd");
    auto pids = options_.only.empty() ? proc::list_pids() : options_.only;
    for (pid_t pid : pids)
      if (!tracked_.count(pid)) consider(pid);
    stats_.scans++;
    stats_.last_scan_s = seconds_since(started);
    stats_.traced_now = tracked_.size();
    if (options_.on_scan) options_.on_scan(stats_);
  }

  bool wanted_exe(pid_t pid) const {
    if (options_.exes.empty()) return true;
    try {
      auto exe = proc::read_process_info(pid).exe;
      return std::find(options_.exes.begin(), options_.exes.end(), exe) != options_.exes.end();
    } catch (const std::exception&) {
      return false;
    }
  }

  void consider(pid_t pid) {
    if (!wanted_exe(pid)) return;
    std::vector<output::ScanObject> objects;
    auto assessed = proc::assess_process(pid, cache_, packages_, objects);
    if (!assessed.error.empty() || !assessed.exposed) return;
    Tracked tracked;
    try {
      tracked.info = proc::read_process_info(pid);
      if (failed_.count({pid, tracked.info.start_ticks})) return;
      const model::Session& session = session_.add_process(pid);
      if (session.routines.empty()) {  // exposed by its binding, but nothing mapped to watch yet
        session_.remove_process(pid);
        return;
      }
      for (const auto& routine : session.routines)
        tracked.routines.push_back({routine.start, routine.start + routine.window.size});
      tracked.facts = facts(pid, tracked.info, session);
      note(session_.describe(pid));
      tracked_[pid] = std::move(tracked);
      stats_.traced_total++;
    } catch (const std::exception& e) {
      failed_.insert({pid, tracked.info.start_ticks});
      note(fmt::format("PID {} ({}): not traced: {}", pid, assessed.comm, e.what()));
    }
  }

  output::ProcessFacts facts(pid_t pid, const proc::ProcessInfo& info, const model::Session& session) {
    output::ProcessFacts facts;
    facts.start_ticks = info.start_ticks;
    facts.placement = proc::read_process_placement(pid);
    facts.exe_build_id = exe_build_id(pid);
    facts.unwinder_object = session.routines.front().object_path;
    facts.unwinder_build_id = session.routines.front().build_id;
    if (facts.placement.container_id.empty())  // dpkg knows the host's files, not a container's
      if (auto owner = packages_.owner(facts.unwinder_object))
        facts.unwinder_package = fmt::format("{} {} {}", owner->package, owner->version, owner->architecture);
    return facts;
  }

  // After the session's poll: a window hit that preceded a crash is already in hit_threads_.
  void drain_crashes() {
    if (crash_watch_) crash_watch_->drain([this](const ut_crash_event& e) { options_.on_crash(signature(e)); });
  }

  output::CrashSignature signature(const ut_crash_event& e) const {
    auto crash = output::fault_signature(e.sig, e.ip, e.sp);
    pid_t pid = static_cast<pid_t>(e.hdr.tgid);
    crash.pid = pid;
    crash.comm = std::string(e.comm, strnlen(e.comm, sizeof(e.comm)));
    crash.fault_addr = e.fault_addr;
    crash.fatal = !(e.flags & UT_SIG_HANDLER);
    auto placement = proc::read_process_placement(pid);  // empty once the process is gone
    crash.namespace_pid = placement.namespace_pid;
    crash.container_id = placement.container_id;
    crash.window_hit_before = hit_threads_.count({e.hdr.tgid, e.hdr.tid}) > 0;
    if (auto t = tracked_.find(pid); t != tracked_.end()) {
      crash.exe = t->second.info.exe;
      for (const auto& [start, end] : t->second.routines)
        crash.inside_unwinder = crash.inside_unwinder || (e.ip >= start && e.ip < end);
    } else {
      try {
        crash.exe = proc::read_process_info(pid).exe;
      } catch (const std::exception&) {
        // already reaped: the record has no exe
      }
    }
    return crash;
  }
};

}  // namespace

HostScanStats trace_host(const HostTraceOptions& options) {
  HostTracer tracer(options);
  return tracer.run();
}

}  // namespace ut::trace
