#include "trace/trace_session.h"

#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "errors.h"
#include "host/host_info.h"
#include "model/session_calibration.h"
#include "model/unwinder_routines.h"
#include "proc/exception_unwinder.h"
#include "proc/link_map.h"
#include "proc/process_change.h"
#include "proc/process_info.h"
#include "proc/process_routines.h"
#include "trace/bpf_tracer.h"
#include "trace/privileges.h"
#include "trace/resume_sampler.h"

namespace ut::trace {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Where exceptions unwind, for the report; a failure here must not stop the trace.
std::string describe_exception_unwinder(pid_t pid, host::PackageIndex& packages) {
  try {
    auto unwinder = proc::exception_unwinder(pid, packages);
    return unwinder ? proc::describe(*unwinder)
                    : std::string("nothing refers to _Unwind_RaiseException (no C++ exceptions?)");
  } catch (const std::exception& e) {
    return fmt::format("could not tell: {}", e.what());
  }
}

model::TracedRoutine to_traced(const proc::MappedRoutine& mapped) {
  model::TracedRoutine traced;
  traced.object_path = mapped.object_path;
  traced.build_id = mapped.build_id;
  traced.symbol = mapped.routine.symbol.name;
  traced.start = mapped.start;
  traced.window = mapped.routine.window;
  traced.probes = mapped.routine.probes;
  return traced;
}

// A pidfd, so a process's exit wakes the poll at once; without one, /proc is checked instead.
class ExitWatch {
 public:
  explicit ExitWatch(pid_t pid) : fd_(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))) {}
  ~ExitWatch() {
    if (fd_ >= 0) close(fd_);
  }
  ExitWatch(const ExitWatch&) = delete;
  ExitWatch& operator=(const ExitWatch&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

std::string mode_text(const model::Session& session) {
  if (session.mode != model::TraceMode::Sampled || !session.duty_cycle)
    return model::to_string(session.mode);
  return fmt::format("sampled ({:g}% of every {:g} s)", session.duty_cycle->fraction * 100,
                     session.duty_cycle->period_s);
}

}  // namespace

struct TraceSession::Process {
  explicit Process(pid_t pid) : exit(pid) {}

  TraceResult result;
  proc::ProcessInfo info;
  std::vector<proc::MappedRoutine> routines;  // the traced ones, indexed like ut_target
  std::vector<LinkPtr> probes;                // attached resume probes
  ExitWatch exit;
  bool exited = false;
  std::string changed;               // it exec'd or unmapped a traced object: tracing ends
  bool exit_reported = false;        // by poll()
  Clock::time_point traced_since{};  // attached
  std::optional<Clock::time_point> counting_since;  // probes attached and the period flag up
  uint64_t counted = 0;                             // resumes at the last period's end
  // Resumes of its ended threads, by TID, whose map entries the kernel pruned: added to the
  // live entries' counts, and to a recycled TID's resume seqs (which restart at 1).
  std::map<uint32_t, uint64_t> ended_resumes;
};

TraceSession::TraceSession(SessionOptions options) : options_(std::move(options)) {
  require_tracing_privileges("attach");
  if (options_.mode == model::TraceMode::Full) resume_cycle_ = model::DutyCycle{1.0, 1.0};
  if (options_.mode == model::TraceMode::Sampled) resume_cycle_ = options_.duty_cycle;
}

TraceSession::~TraceSession() {
  if (sampler_) {
    try {
      sampler_->finish();
    } catch (const std::exception&) {
      // The destructor must not throw; the links go with the processes below anyway.
    }
  }
}

BpfTracer& TraceSession::tracer() {
  if (tracer_) return *tracer_;
  const auto start = Clock::now();
  tracer_ = std::make_unique<BpfTracer>(options_.ring_buffer_bytes);
  tracer_->attach_signal_hook();
  if (slot_checks_wanted()) tracer_->attach_slot_checks();
  load_ms_ = seconds_between(start, Clock::now()) * 1000;
  start_sampler();
  return *tracer_;
}

void TraceSession::start_sampler() {
  if (!resume_cycle_) return;
  sampler_ = std::make_unique<ResumeSampler>(
      *resume_cycle_, ResumeSwitch{[this] { attach_missing_probes(); },
                                   [this](uint32_t period) {
                                     tracer_->set_resume_period(period);
                                     const auto now = Clock::now();
                                     if (period == 0) period_down_at_ = now;
                                     for (auto& [pid, process] : processes_)
                                       if (period != 0 && !process->probes.empty()) process->counting_since = now;
                                   },
                                   [this] { detach_all_probes(); },
                                   [this](double) { end_period(); }});
}

void TraceSession::set_resume_cycle(std::optional<model::DutyCycle> cycle) {
  if (options_.mode == model::TraceMode::SignalOnly) return;
  resume_cycle_ = cycle;
  if (!tracer_) return;  // applied when the programs load
  if (sampler_) sampler_->finish();  // ends the on-period: counts close, probes detach
  sampler_.reset();
  if (slot_checks_wanted() && !tracer_->slot_checks_attached()) tracer_->attach_slot_checks();
  if (!slot_checks_wanted() && tracer_->slot_checks_attached()) {
    tracer_->detach_slot_checks();
    for (auto& [pid, process] : processes_) process->result.session.slot_checks_attached = false;  // partial
  }
  start_sampler();
  if (sampler_ && !processes_.empty()) sampler_->tick();  // the next period starts now
}

// Slot checks slow every syscall on the host, which costs more than the resume probes: only when
// asked for, and only while full mode runs as configured (the CPU budget may lower it).
bool TraceSession::slot_checks_wanted() const {
  return options_.slot_checks && options_.mode == model::TraceMode::Full && resume_cycle_ && resume_cycle_->fraction >= 1.0;
}

uint64_t TraceSession::programs_run_ns() const { return tracer_ ? tracer_->programs_run_ns() : 0; }

void TraceSession::attach_probes(Process& process) {
  for (uint32_t index = 0; index < process.routines.size(); ++index)
    for (const auto& probe : process.routines[index].routine.probes)
      process.probes.push_back(tracer_->attach_resume_probe(
          process.info.pid, process.routines[index].attach_path, probe.file_offset, index));
}

void TraceSession::attach_missing_probes() {
  for (auto& [pid, process] : processes_) {
    if (!process->probes.empty() || process->exited || !process->changed.empty()) continue;
    if (!attach_probes_unless_gone(*process)) process->exited = true;  // the next poll reports it
  }
}

bool TraceSession::attach_probes_unless_gone(Process& process) {
  try {
    if (options_.before_probes) options_.before_probes(process.info.pid);
    attach_probes(process);
    return true;
  } catch (const UserError&) {
    destroy_links(process.probes);
    if (!proc::process_exiting(process.info)) throw;  // a real failure: the kernel refused
    return false;  // it died meanwhile (perf_event_open: ESRCH)
  }
}

void TraceSession::detach_all_probes() {
  std::vector<LinkPtr> all;
  for (auto& [pid, process] : processes_)
    for (auto& link : process->probes) all.push_back(std::move(link));
  for (auto& [pid, process] : processes_) process->probes.clear();
  destroy_links(all);  // in parallel: each waits for an RCU grace period
}

void TraceSession::count_period(Process& process, const std::map<uint32_t, ut_thread_state>& states,
                                Clock::time_point until) {
  if (!process.counting_since) return;
  uint64_t total = 0;
  for (const auto& [tid, resumes] : process.ended_resumes) total += resumes;
  for (const auto& [tid, state] : states)
    if (state.tgid == static_cast<uint32_t>(process.info.pid)) total += state.resumes;
  const double on_s = std::max(0.0, seconds_between(*process.counting_since, until));
  model::Session& session = process.result.session;
  session.resume_traced_s += on_s;
  session.resume_periods.add_period(total - process.counted, on_s);
  process.counted = total;
  process.counting_since.reset();
}

void TraceSession::end_period() {
  drain();  // threads that ended this period: their resumes are in the records, not the map
  const auto states = tracer_->thread_states();
  for (auto& [pid, process] : processes_) count_period(*process, states, period_down_at_);
}

const model::Session& TraceSession::add_process(pid_t pid) {
  const auto start = Clock::now();
  auto process = std::make_unique<Process>(pid);
  process->info = proc::read_process_info(pid);
  if (!proc::process_alive(process->info))
    throw UserError(ExitCode::Target, fmt::format("process {} has exited (a zombie its parent has not "
                                                  "reaped yet): nothing to trace", pid));
  if (proc::dynamic_linker_pending(pid))
    throw UserError(ExitCode::Target, fmt::format("process {} is still starting: its dynamic linker has not "
                                                  "loaded its libraries yet; attach again in a moment", pid));
  auto found = proc::find_process_routines(pid, cache_);

  TraceResult& result = process->result;
  result.warnings = found.warnings;
  model::Session& session = result.session;
  session.pid = pid;
  session.comm = process->info.comm;
  session.exe = process->info.exe;
  session.unwinder = describe_exception_unwinder(pid, packages_);
  if (!host_) host_ = host::read_host_info();
  if (!calibration_) calibration_ = model::load_session_calibration();
  session.host = *host_;
  session.mode = options_.mode;
  if (options_.mode == model::TraceMode::Sampled) session.duty_cycle = options_.duty_cycle;
  model::apply(*calibration_, session, result.warnings);
  session.slot_checks_attached = slot_checks_wanted();
  if (found.routines.size() > UT_MAX_ROUTINES)
    result.warnings.push_back(fmt::format("{} hazardous routines mapped; tracing the first {}",
                                          found.routines.size(), UT_MAX_ROUTINES));
  for (size_t i = 0; i < found.routines.size() && i < UT_MAX_ROUTINES; ++i) {
    const proc::MappedRoutine& routine = found.routines[i];
    process->routines.push_back(routine);
    session.routines.push_back(to_traced(routine));
    if (routine.routine.window.window.size() > UT_MAX_WINDOW_INSNS)
      result.warnings.push_back(fmt::format("{}: window of {} instructions; the kernel checks the first {}",
                                            routine.object_path, routine.routine.window.window.size(),
                                            UT_MAX_WINDOW_INSNS));
    if (routine.routine.probes.empty() && options_.mode != model::TraceMode::SignalOnly)
      result.warnings.push_back(fmt::format("{}: no safe place to count resumes of {}; signals only",
                                            routine.object_path, routine.routine.symbol.name));
  }

  model::JoinOptions join_options;
  join_options.frame = session.frame_size;
  join_options.routines = model::unwinder_routines(session.routines);
  if (options_.on_hit)
    join_options.on_hit = [this, &session](const model::JoinedSignal& hit) { options_.on_hit(hit, session); };
  result.joiner = std::make_unique<model::Joiner>(join_options);

  Process& added = *process;
  processes_[pid] = std::move(process);
  order_.push_back(pid);
  // Its memory already gone while it was read (no routines found): it died, not "not exposed".
  if (proc::process_exiting(added.info)) added.exited = true;
  if (!added.exited && !added.routines.empty()) {
    try {
      tracer().watch_process(pid, proc::make_target(added.routines));
      if (sampler_) {
        if (!sampler_->on()) {
          sampler_->tick();  // the first process starts the duty cycle (and may find it dead)
        } else if (attach_probes_unless_gone(added)) {  // mid-period: counts from now, to its end
          added.counting_since = Clock::now();
        } else {
          added.exited = true;
        }
      }
      if (added.exited) {  // died while its probes were being attached
        tracer_->unwatch_process(pid);
        tracer_->forget_process(pid);
      }
    } catch (...) {
      processes_.erase(pid);
      order_.pop_back();
      throw;
    }
    session.load_ms = load_ms_;
  }
  if (added.exited) {
    added.routines.clear();  // nothing is traced: remove_process leaves the kernel side alone
    result.warnings.push_back(fmt::format("process {} exited while it was being attached: nothing was traced", pid));
  }
  session.started_at = std::chrono::system_clock::now();
  session.start_ktime_ns = monotonic_ns();
  added.traced_since = Clock::now();
  session.attach_ms = seconds_between(start, added.traced_since) * 1000;
  return session;
}

TraceResult TraceSession::remove_process(pid_t pid) {
  auto it = processes_.find(pid);
  if (it == processes_.end()) throw std::out_of_range(fmt::format("process {} is not traced", pid));
  Process& process = *it->second;
  model::Session& session = process.result.session;
  if (!process.routines.empty()) {
    tracer_->unwatch_process(pid);  // its counters stop here, mid-period or not
    const auto stopped = Clock::now();
    destroy_links(process.probes);
    drain();  // ended threads' counts first: the kernel pruned them from the maps
    const auto states = tracer_->thread_states();
    count_period(process, states, stopped);
    for (const auto& c : tracer_->signal_counts(pid)) session.signal_counts.push_back({c.key, c.count});
    for (const auto& [tid, state] : states)
      if (state.tgid == static_cast<uint32_t>(pid)) session.kernel_resumes[tid] += state.resumes;
    model::ResumeShapes shapes;
    for (const auto& [key, count] : tracer_->resume_shapes(pid))
      shapes.add({key.routine, key.distance, key.sp_align}, count);
    process.result.joiner->add_shapes(shapes);
    session.lost_events = tracer_->lost_events(pid);
    tracer_->forget_process(pid);
  }
  session.duration_s = seconds_between(process.traced_since, Clock::now());
  session.ended_at = std::chrono::system_clock::now();
  session.target_exited = process.exited;
  session.target_change = process.changed;
  TraceResult result = std::move(process.result);
  processes_.erase(it);
  order_.erase(std::find(order_.begin(), order_.end(), pid));
  return result;
}

void TraceSession::add_ended_thread(Process& process, const ut_thread_end_event& e) {
  model::Session& session = process.result.session;
  if (e.resumes != 0) {
    process.ended_resumes[e.hdr.tid] += e.resumes;
    session.kernel_resumes[e.hdr.tid] += e.resumes;
  }
  for (int sig = 1; sig <= UT_MAX_SIGNAL; ++sig)
    for (uint32_t delivery = 0; delivery < UT_DELIVERY_KINDS; ++delivery)
      if (const uint64_t count = e.signals[sig - 1][delivery])
        session.signal_counts.push_back({{e.hdr.tgid, e.hdr.tid, sig, delivery}, count});
}

void TraceSession::drain() {
  if (!tracer_) return;
  auto joiner_of = [this](uint32_t tgid) -> model::Joiner* {
    auto it = processes_.find(static_cast<pid_t>(tgid));
    return it == processes_.end() ? nullptr : it->second->result.joiner.get();
  };
  auto session_of = [this](uint32_t tgid) -> model::Session* {
    auto it = processes_.find(static_cast<pid_t>(tgid));
    return it == processes_.end() ? nullptr : &it->second->result.session;
  };
  // A recycled TID's resume seqs restart at 1: continue them after the ended threads' resumes.
  auto seq_base = [this](const ut_event_header& hdr) -> uint64_t {
    auto it = processes_.find(static_cast<pid_t>(hdr.tgid));
    if (it == processes_.end()) return 0;
    auto ended = it->second->ended_resumes.find(hdr.tid);
    return ended == it->second->ended_resumes.end() ? 0 : ended->second;
  };
  EventHandlers handlers{[&](ut_signal_event e) {
                           if (auto* joiner = joiner_of(e.hdr.tgid)) {
                             if (!e.resume_off) e.resume_seq += seq_base(e.hdr);
                             joiner->add(e);
                           }
                         },
                         [&](const ut_slot_check_event& e) {
                           if (auto* session = session_of(e.hdr.tgid))
                             model::add_slot_check(session->slot_checks[e.hdr.tid], e);
                         },
                         [&](const ut_fatal_event& e) {
                           if (auto* session = session_of(e.hdr.tgid))
                             session->fatal_signals.push_back(model::to_fatal_signal(e));
                         },
                         [&](const ut_thread_end_event& e) {
                           auto it = processes_.find(static_cast<pid_t>(e.hdr.tgid));
                           if (it != processes_.end()) add_ended_thread(*it->second, e);
                         }};
  tracer_->drain(handlers);
}

std::vector<pid_t> TraceSession::poll(int timeout_ms) {
  auto wait = std::chrono::milliseconds(timeout_ms);
  if (sampler_)
    wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(sampler_->tick()));
  std::vector<pollfd> fds;
  std::vector<Process*> watched;
  for (auto& [pid, process] : processes_)
    if (!process->exited && process->exit.fd() >= 0) {
      fds.push_back({process->exit.fd(), POLLIN, 0});
      watched.push_back(process.get());
    }
  if (::poll(fds.data(), fds.size(), static_cast<int>(wait.count())) < 0 && errno != EINTR)
    throw UserError(ExitCode::Internal, fmt::format("poll failed: {}", std::strerror(errno)));
  if (sampler_) sampler_->tick();
  drain();

  std::vector<pid_t> exited;
  for (pid_t pid : order_) {
    Process& process = *processes_.at(pid);
    if (process.exit_reported) continue;
    if (!process.exited) {
      const auto polled = std::find(watched.begin(), watched.end(), &process);
      process.exited = polled != watched.end()
                           ? fds[static_cast<size_t>(polled - watched.begin())].revents != 0
                           : !proc::process_alive(process.info);  // no pidfd: /proc tells
    }
    if (!process.exited && !process.routines.empty()) {
      std::vector<proc::WatchedAddress> addresses;
      for (const auto& routine : process.result.session.routines)
        addresses.push_back({routine.object_path, routine.start});
      process.changed = proc::process_change(process.info, addresses).value_or("");
    }
    if (process.exited || !process.changed.empty()) {
      process.exit_reported = true;
      exited.push_back(pid);
    }
  }
  return exited;
}

std::vector<TraceResult> TraceSession::finish() {
  if (sampler_) sampler_->finish();  // ends the on-period: every process's count closes at once
  std::vector<TraceResult> results;
  for (pid_t pid : std::vector<pid_t>(order_)) results.push_back(remove_process(pid));
  return results;
}

std::vector<pid_t> TraceSession::processes() const { return order_; }

std::string TraceSession::describe(pid_t pid) const {
  const Process& process = *processes_.at(pid);
  const model::Session& session = process.result.session;
  if (process.exited && process.routines.empty())
    return fmt::format("PID {} ({}) exited while it was being attached: nothing traced; its report says so",
                       pid, session.comm);
  size_t probes = 0;
  for (const auto& routine : process.routines) probes += routine.routine.probes.size();
  return fmt::format("attached to PID {} ({}): {} routine(s), {} resume probe(s), mode {}; "
                     "load {:.0f} ms, attach {:.0f} ms",
                     pid, session.comm, process.routines.size(),
                     session.mode == model::TraceMode::SignalOnly ? 0 : probes, mode_text(session),
                     session.load_ms, session.attach_ms);
}

std::vector<TraceResult> trace_processes(const TraceOptions& options) {
  TraceSession session(options.session);
  for (pid_t pid : options.pids) {
    session.add_process(pid);
    if (options.on_attached) options.on_attached(session.describe(pid));
  }
  std::vector<TraceResult> results(options.pids.size());
  auto store = [&](TraceResult result) {
    auto at = std::find(options.pids.begin(), options.pids.end(), result.session.pid);
    results[static_cast<size_t>(at - options.pids.begin())] = std::move(result);
  };
  const auto started = Clock::now();
  while (!session.processes().empty()) {
    for (pid_t pid : session.poll(options.poll_interval_ms)) store(session.remove_process(pid));
    if ((options.stop && options.stop->load()) ||
        (options.duration_s && seconds_between(started, Clock::now()) >= *options.duration_s))
      break;
  }
  for (auto& result : session.finish()) store(std::move(result));
  return results;
}

TraceResult trace_process(const TraceOptions& options) {
  if (options.pids.size() != 1)
    throw std::invalid_argument("trace_process traces exactly one process");
  return std::move(trace_processes(options).front());
}

}  // namespace ut::trace
