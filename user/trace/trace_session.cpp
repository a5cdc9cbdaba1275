#include "trace/trace_session.h"

#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include <fmt/format.h>

#include "errors.h"
#include "host/host_info.h"
#include "host/signal_frame.h"
#include "proc/exception_unwinder.h"
#include "proc/link_map.h"
#include "proc/process_change.h"
#include "proc/process_info.h"
#include "proc/process_routines.h"
#include "trace/bpf_tracer.h"
#include "trace/privileges.h"

namespace ut::trace {

namespace {

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Where exceptions unwind, for the report; a failure here must not stop the trace.
std::string describe_exception_unwinder(pid_t pid) {
  try {
    host::PackageIndex packages;
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

// Waits on a pidfd so the target's exit ends the wait at once; falls back to sleeping.
class ExitWatch {
 public:
  explicit ExitWatch(pid_t pid) : fd_(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))) {}
  ~ExitWatch() {
    if (fd_ >= 0) close(fd_);
  }
  // True when the process has exited.
  bool wait(int timeout_ms) {
    if (fd_ < 0) {
      usleep(static_cast<useconds_t>(timeout_ms) * 1000);
      return false;
    }
    pollfd pfd{fd_, POLLIN, 0};
    return poll(&pfd, 1, timeout_ms) > 0;
  }

 private:
  int fd_;
};

}  // namespace

TraceResult trace_process(const TraceOptions& options) {
  require_tracing_privileges("attach");
  // The pidfd first: it stays bound to this process, so if the PID is recycled while we analyse
  // and attach, the watch still reports this process's exit and the trace ends at once.
  ExitWatch exit_watch(options.pid);
  auto info = proc::read_process_info(options.pid);
  if (!proc::process_alive(info))
    throw UserError(ExitCode::Target, fmt::format("process {} has exited (a zombie its parent has not "
                                                  "reaped yet): nothing to trace", options.pid));
  if (proc::dynamic_linker_pending(options.pid))
    throw UserError(ExitCode::Target, fmt::format("process {} is still starting: its dynamic linker has not "
                                                  "loaded its libraries yet; attach again in a moment",
                                                  options.pid));
  analysis::AnalysisCache cache;
  auto found = proc::find_process_routines(options.pid, cache);

  TraceResult result;
  result.warnings = found.warnings;
  model::Session& session = result.session;
  session.pid = options.pid;
  session.comm = info.comm;
  session.exe = info.exe;
  session.unwinder = describe_exception_unwinder(options.pid);
  session.host = host::read_host_info();
  session.frame_size = host::measure_signal_frame();
  if (session.frame_size->max_bytes == 0) {
    session.frame_size.reset();
    result.warnings.push_back("could not measure this host's signal frame: hit geometry unknown");
  }
  if (found.routines.size() > UT_MAX_ROUTINES)
    result.warnings.push_back(fmt::format("{} hazardous routines mapped; tracing the first {}",
                                          found.routines.size(), UT_MAX_ROUTINES));
  for (size_t i = 0; i < found.routines.size() && i < UT_MAX_ROUTINES; ++i) {
    session.routines.push_back(to_traced(found.routines[i]));
    if (found.routines[i].routine.window.window.size() > UT_MAX_WINDOW_INSNS)
      result.warnings.push_back(fmt::format("{}: window of {} instructions; the kernel checks the first {}",
                                            found.routines[i].object_path,
                                            found.routines[i].routine.window.window.size(),
                                            UT_MAX_WINDOW_INSNS));
  }

  model::JoinOptions join_options;
  join_options.frame = session.frame_size;
  if (options.on_hit)
    join_options.on_hit = [&](const model::JoinedSignal& hit) { options.on_hit(hit, session); };
  result.joiner = std::make_unique<model::Joiner>(join_options);

  session.started_at = std::chrono::system_clock::now();
  session.start_ktime_ns = monotonic_ns();
  if (session.routines.empty()) {
    result.joiner->finish();
    session.ended_at = session.started_at;
    return result;
  }

  BpfTracer tracer(options.ring_buffer_bytes);
  std::vector<proc::MappedRoutine> traced(found.routines.begin(),
                                          found.routines.begin() + static_cast<long>(session.routines.size()));
  tracer.watch_process(options.pid, proc::make_target(traced));
  tracer.attach_signal_hook();
  for (uint32_t index = 0; index < traced.size(); ++index) {
    if (traced[index].routine.probes.empty())
      result.warnings.push_back(fmt::format("{}: no safe place to count resumes of {}; signals only",
                                            traced[index].object_path, traced[index].routine.symbol.name));
    for (const auto& probe : traced[index].routine.probes)
      tracer.attach_resume_probe(options.pid, traced[index].attach_path, probe.file_offset, index);
  }

  EventHandlers handlers{[&](const ut_resume_event& e) { result.joiner->add(e); },
                         [&](const ut_signal_event& e) { result.joiner->add(e); }};
  if (options.on_attached)
    options.on_attached(fmt::format("attached to PID {} ({}): {} routine(s), {} probe(s)",
                                    options.pid, session.comm, traced.size(),
                                    tracer.attached_links() - 1));
  std::vector<proc::WatchedAddress> watched;
  for (const auto& routine : session.routines) watched.push_back({routine.object_path, routine.start});
  auto started = std::chrono::steady_clock::now();
  for (;;) {
    bool exited = exit_watch.wait(options.poll_interval_ms) || !proc::process_alive(info);
    if (!exited) session.target_change = proc::process_change(info, watched).value_or("");
    tracer.drain(handlers);
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (exited) session.target_exited = true;
    if (exited || !session.target_change.empty() || (options.stop && options.stop->load()) ||
        (options.duration_s && elapsed >= *options.duration_s)) {
      session.duration_s = elapsed;
      break;
    }
  }
  tracer.drain(handlers);
  session.ended_at = std::chrono::system_clock::now();
  for (const auto& c : tracer.signal_counts(options.pid)) session.signal_counts.push_back({c.key, c.count});
  session.kernel_resumes = tracer.thread_resumes(options.pid);
  session.lost_events = tracer.lost_events();
  result.joiner->finish();
  return result;
}

}  // namespace ut::trace
