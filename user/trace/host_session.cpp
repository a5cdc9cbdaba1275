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
#include "proc/link_map.h"
#include "trace/host_watch.h"
#include "trace/tracer_cost.h"

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
  output::ProcessFacts facts;  // its cpu_budget_level: the most degraded during the segment
  std::vector<std::pair<uint64_t, uint64_t>> routines;  // [start, end) of its hazardous routines
};

class HostTracer {
 public:
  explicit HostTracer(const HostTraceOptions& options)
      : options_(options), session_(session_options(options)), watch_(static_cast<bool>(options.on_crash)) {
    if (options.budget.percent > 0) {
      model::BudgetPolicy policy = options.budget;
      policy.resume_probes = configured_cycle().has_value();
      budget_.emplace(policy);
      cost_ = std::make_unique<TracerCost>();
    }
  }

  HostScanStats run() {
    started_ = Clock::now();
    auto segment_started = started_;
    rescan();
    measure_cost();  // from here: the first scan (dpkg's file lists, every process) is a start-up cost
    auto last_scan = Clock::now();
    for (;;) {
      auto ended = session_.poll(options_.poll_interval_ms);
      drain_watch();  // first: an exec the session saw as a change is ended as an exec
      for (pid_t pid : ended)
        if (tracked_.count(pid)) end(pid, "exited");
      analyse_execd();
      measure_cost();
      if ((options_.stop && options_.stop->load()) || seconds_since(started_) >= options_.duration_s) break;
      if (seconds_since(last_scan) >= options_.rescan_interval_s) {
        rescan();
        last_scan = Clock::now();
      }
      if (seconds_since(segment_started) >= options_.segment_s) {
        for (pid_t pid : session_.processes()) next_segment(pid);
        segment_started = Clock::now();
      }
    }
    drain_watch();
    for (pid_t pid : session_.processes()) hand_out(pid, true);
    stats_.traced_now = 0;
    return stats_;
  }

 private:
  const HostTraceOptions& options_;
  std::set<std::pair<uint32_t, uint32_t>> hit_threads_;  // (tgid, tid) with a window hit
  TraceSession session_;
  HostWatch watch_;
  std::set<pid_t> execd_;  // exec'd since their trace ended: their new image is analysed at once
  analysis::AnalysisCache cache_;
  host::PackageIndex packages_;
  std::map<pid_t, Tracked> tracked_;
  std::set<std::pair<pid_t, uint64_t>> failed_;  // (pid, start) that could not be traced: not retried
  HostScanStats stats_;
  std::optional<model::CpuBudget> budget_;
  std::unique_ptr<TracerCost> cost_;  // bpf_stats on while a budget is held
  Clock::time_point started_{};

  std::optional<model::DutyCycle> configured_cycle() const {
    switch (options_.session.mode) {
      case model::TraceMode::Full: return model::DutyCycle{1.0, 1.0};
      case model::TraceMode::Sampled: return options_.session.duty_cycle;
      case model::TraceMode::SignalOnly: break;
    }
    return std::nullopt;
  }

  // The tracer's cost so far (this process's CPU and its BPF programs' run time), to the budget.
  void measure_cost() {
    if (!budget_) return;
    uint64_t cost = TracerCost::process_cpu_ns() + session_.programs_run_ns() +
                    watch_.programs_run_ns();
    auto step = budget_->add({seconds_since(started_), cost});
    stats_.cpu_used_percent = budget_->used_percent();
    if (!step) return;
    session_.set_resume_cycle(model::budget_duty_cycle(step->to, configured_cycle()));
    for (auto& [pid, tracked] : tracked_)
      tracked.facts.cpu_budget_level = std::max(tracked.facts.cpu_budget_level.value_or(step->to), step->to);
    stats_.budget_level = step->to;
    stats_.budget_degradations = budget_->degradations();
    stats_.budget_recoveries = budget_->recoveries();
    if (options_.on_budget) options_.on_budget(*step, *budget_);
  }

  std::optional<model::BudgetLevel> budget_level() const {
    return budget_ ? std::optional(budget_->level()) : std::nullopt;
  }

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

  void hand_out(pid_t pid, bool last, const char* change = nullptr) {
    auto result = session_.remove_process(pid);
    if (change && result.session.target_change.empty()) result.session.target_change = change;
    if (options_.on_segment) options_.on_segment(result, tracked_.at(pid).facts, last);
    if (last) {
      tracked_.erase(pid);
      watch_.unwatch_exec(pid);
    }
  }

  void end(pid_t pid, const char* why, const char* change = nullptr) {
    auto comm = tracked_.at(pid).info.comm;
    hand_out(pid, true, change);
    note(fmt::format("PID {} ({}) {}: last record written", pid, comm, why));
  }

  void next_segment(pid_t pid) {
    hand_out(pid, false);
    tracked_.at(pid).facts.cpu_budget_level = budget_level();
    try {
      session_.add_process(pid);
    } catch (const std::exception& e) {  // it went away between the segments
      tracked_.erase(pid);
      watch_.unwatch_exec(pid);
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
      if (exec_d(tracked_.at(pid))) end(pid, "exec'd", "it exec'd another program");
    // Over budget at the last step: the processes traced stay, no new one is looked for.
    if (budget_level() != model::BudgetLevel::NoNewProcesses) {
      auto pids = options_.only.empty() ? proc::list_pids() : options_.only;
      for (pid_t pid : pids)
        if (!tracked_.count(pid)) consider(pid);
    }
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

  // Processes that exec'd: each new image once its dynamic linker is done (until then, again at
  // the next poll); one that is gone, or not exposed any more, is dropped.
  void analyse_execd() {
    for (pid_t pid : std::set<pid_t>(execd_)) {
      try {
        if (proc::dynamic_linker_pending(pid)) continue;
      } catch (const std::exception&) {
        // gone: nothing to analyse
      }
      execd_.erase(pid);
      if (!tracked_.count(pid)) consider(pid);
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
      watch_.watch_exec(pid);  // first: an exec while it is being added is seen too
      const model::Session& session = session_.add_process(pid);
      if (session.routines.empty()) {  // exposed by its binding, but nothing mapped to watch yet
        session_.remove_process(pid);
        watch_.unwatch_exec(pid);
        return;
      }
      for (const auto& routine : session.routines)
        tracked.routines.push_back({routine.start, routine.start + routine.window.size});
      tracked.facts = facts(pid, tracked.info, session);
      tracked.facts.cpu_budget_level = budget_level();
      note(session_.describe(pid));
      tracked_[pid] = std::move(tracked);
      stats_.traced_total++;
    } catch (const std::exception& e) {
      watch_.unwatch_exec(pid);
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
  void drain_watch() {
    watch_.drain({[this](const ut_crash_event& e) {
                    if (options_.on_crash) options_.on_crash(signature(e));
                  },
                  [this](pid_t pid) {
                    if (tracked_.count(pid)) end(pid, "exec'd", "it exec'd (sched_process_exec)");
                    execd_.insert(pid);
                  }});
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
