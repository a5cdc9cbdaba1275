#include "trace/host_session.h"

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "analysis/analysis_cache.h"
#include "analysis/elf_object.h"
#include "host/host_info.h"
#include "host/package_identity.h"
#include "proc/exception_unwinder.h"
#include "proc/process_container.h"
#include "proc/process_exposure.h"
#include "proc/process_list.h"
#include "proc/process_routines.h"
#include "trace/bpf_tracer.h"
#include "trace/crash_watch.h"
#include "trace/privileges.h"

namespace ut::trace {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string exe_build_id(pid_t pid) {
  try {
    return analysis::ElfObject::open(fmt::format("/proc/{}/exe", pid)).build_id();
  } catch (const std::exception&) {
    return "";  // not an ELF file we can read: the record says so by leaving it empty
  }
}

class HostTracer {
 public:
  explicit HostTracer(const HostTraceOptions& options)
      : options_(options), tracer_(options.ring_buffer_bytes), frame_(options.frame), host_(host::read_host_info()) {
    tracer_.attach_signal_hook();
    if (options.on_crash) crash_watch_ = std::make_unique<CrashWatch>();
  }

  HostScanStats run() {
    EventHandlers handlers{[this](const ut_resume_event& e) { route(e.hdr.tgid, e); },
                           [this](const ut_signal_event& e) { route(e.hdr.tgid, e); }};
    auto started = Clock::now();
    auto last_snapshot = started;
    rescan();
    auto last_scan = Clock::now();
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.poll_interval_ms));
      drain(handlers);
      if ((options_.stop && options_.stop->load()) || seconds_since(started) >= options_.duration_s) break;
      if (seconds_since(last_scan) >= options_.rescan_interval_s) {
        rescan();
        last_scan = Clock::now();
      }
      if (seconds_since(last_snapshot) >= options_.snapshot_interval_s) {
        for (auto& [pid, process] : traced_) snapshot(*process, false);
        last_snapshot = Clock::now();
      }
    }
    drain(handlers);
    for (auto& [pid, process] : traced_) snapshot(*process, true);
    stats_.traced_now = 0;
    return stats_;
  }

 private:
  const HostTraceOptions& options_;
  BpfTracer tracer_;
  std::unique_ptr<CrashWatch> crash_watch_;
  std::optional<host::FrameSize> frame_;
  host::HostInfo host_;
  analysis::AnalysisCache cache_;
  host::PackageIndex packages_;
  std::map<pid_t, std::unique_ptr<HostProcess>> traced_;
  std::set<std::pair<pid_t, uint64_t>> failed_;  // (pid, start) that could not be traced: not retried
  HostScanStats stats_;

  template <typename Event>
  void route(uint32_t tgid, const Event& event) {
    auto it = traced_.find(static_cast<pid_t>(tgid));
    if (it != traced_.end() && !it->second->ended) it->second->joiner->add(event);
  }

  // Window hits first: a hit that preceded a crash must be in its thread's tally before the crash.
  void drain(const EventHandlers& handlers) {
    tracer_.drain(handlers);
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
    auto traced = traced_.find(pid);
    if (traced == traced_.end()) {
      try {
        crash.exe = proc::read_process_info(pid).exe;
      } catch (const std::exception&) {
        // already reaped: the record has no exe
      }
      return crash;
    }
    const HostProcess& p = *traced->second;
    crash.exe = p.info.exe;
    for (const auto& routine : p.session.routines)
      crash.inside_unwinder = crash.inside_unwinder || (e.ip >= routine.start && e.ip < routine.start + routine.window.size);
    auto thread = p.joiner->threads().find(e.hdr.tid);
    crash.window_hit_before = thread != p.joiner->threads().end() && thread->second.hits.total > 0;
    return crash;
  }

  void note(const std::string& text) const {
    if (options_.on_note) options_.on_note(text);
  }

  // Counters so far from the kernel's maps; `final` also closes the joiner.
  void snapshot(HostProcess& p, bool final) {
    model::Session& s = p.session;
    s.ended_at = std::chrono::system_clock::now();
    s.duration_s = std::chrono::duration<double>(s.ended_at - s.started_at).count();
    s.signal_counts.clear();
    for (const auto& c : tracer_.signal_counts(p.info.pid)) s.signal_counts.push_back({c.key, c.count});
    s.kernel_resumes = tracer_.thread_resumes(p.info.pid);
    s.lost_events = tracer_.lost_events();  // host-wide: one ring buffer for every process
    if (final) p.joiner->finish();
    if (options_.on_snapshot) options_.on_snapshot(p, final);
  }

  bool still_same(const HostProcess& p) const {
    try {
      auto now = proc::read_process_info(p.info.pid);
      return now.start_ticks == p.info.start_ticks && now.exe == p.info.exe && proc::process_alive(p.info);
    } catch (const std::exception&) {
      return false;
    }
  }

  void rescan() {
    auto started = Clock::now();
    for (auto it = traced_.begin(); it != traced_.end();) {
      if (still_same(*it->second)) {
        ++it;
        continue;
      }
      it->second->ended = true;
      it->second->session.target_exited = true;
      snapshot(*it->second, true);
      note(fmt::format("PID {} ({}) ended or exec'd: final record written", it->first, it->second->info.comm));
      it = traced_.erase(it);
    }
    auto pids = options_.only.empty() ? proc::list_pids() : options_.only;
    for (pid_t pid : pids)
      if (!traced_.count(pid)) consider(pid);
    stats_.scans++;
    stats_.last_scan_s = seconds_since(started);
    stats_.traced_now = traced_.size();
    if (options_.on_scan) options_.on_scan(stats_);
  }

  void consider(pid_t pid) {
    std::vector<output::ScanObject> objects;
    auto assessed = proc::assess_process(pid, cache_, packages_, objects);
    if (!assessed.error.empty() || !assessed.exposed) return;
    proc::ProcessInfo info;
    try {
      info = proc::read_process_info(pid);
      if (failed_.count({pid, info.start_ticks})) return;
      start(info, assessed);
    } catch (const std::exception& e) {
      failed_.insert({pid, info.start_ticks});
      note(fmt::format("PID {} ({}): not traced: {}", pid, assessed.comm, e.what()));
    }
  }

  void start(const proc::ProcessInfo& info, const output::ScanProcess& assessed) {
    auto found = proc::find_process_routines(info.pid, cache_);
    if (found.routines.empty()) return;
    if (found.routines.size() > UT_MAX_ROUTINES) found.routines.resize(UT_MAX_ROUTINES);
    auto p = std::make_unique<HostProcess>();
    p->info = info;
    p->warnings = found.warnings;
    model::Session& s = p->session;
    s.pid = info.pid;
    s.comm = info.comm;
    s.exe = info.exe;
    s.unwinder = fmt::format("{} ({})", assessed.unwinder_path, assessed.unwinder_name);
    s.host = host_;
    s.frame_size = frame_;
    for (const auto& mapped : found.routines)
      s.routines.push_back({mapped.object_path, mapped.build_id, mapped.routine.symbol.name, mapped.start,
                            mapped.routine.window, mapped.routine.probes});
    p->facts.start_ticks = info.start_ticks;
    p->facts.placement = proc::read_process_placement(info.pid);
    p->facts.exe_build_id = exe_build_id(info.pid);
    p->facts.unwinder_object = found.routines.front().object_path;
    p->facts.unwinder_build_id = found.routines.front().build_id;
    if (p->facts.placement.container_id.empty())  // dpkg knows the host's files, not a container's
      if (auto owner = packages_.owner(p->facts.unwinder_object))
        p->facts.unwinder_package = fmt::format("{} {} {}", owner->package, owner->version, owner->architecture);
    p->facts.mode = options_.mode;
    p->facts.sample_duty = options_.sample_duty;

    model::JoinOptions join_options;
    join_options.frame = frame_;
    p->joiner = std::make_unique<model::Joiner>(join_options);
    s.started_at = std::chrono::system_clock::now();
    s.start_ktime_ns = monotonic_ns();
    tracer_.watch_process(info.pid, proc::make_target(found.routines));
    size_t probes = 0;
    if (options_.mode != output::TraceMode::SignalOnly)
      for (uint32_t index = 0; index < found.routines.size(); ++index)
        for (const auto& probe : found.routines[index].routine.probes) {
          tracer_.attach_resume_probe(info.pid, found.routines[index].attach_path, probe.file_offset, index);
          ++probes;
        }
    note(fmt::format("tracing PID {} ({}): {} routine(s), {} resume probe(s)", info.pid, info.comm,
                     found.routines.size(), probes));
    traced_[info.pid] = std::move(p);
    stats_.traced_total++;
  }
};

}  // namespace

HostScanStats trace_host(const HostTraceOptions& options) {
  require_tracing_privileges("record");
  HostTracer tracer(options);
  return tracer.run();
}

}  // namespace ut::trace
