#include "trace/injection_session.h"

#include <signal.h>
#include <time.h>

#include <chrono>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "analysis/elf_object.h"
#include "errors.h"
#include "host/signal_frame.h"
#include "proc/child_process.h"
#include "proc/exception_unwinder.h"
#include "proc/process_info.h"
#include "proc/process_routines.h"
#include "trace/injector.h"
#include "trace/privileges.h"
#include "validate/injection_plan.h"

namespace ut::trace {

namespace {

using Clock = std::chrono::steady_clock;
using Kind = InjectionTarget::Kind;

constexpr auto kPollInterval = std::chrono::milliseconds(20);
constexpr double kDiscoverySeconds = 5;      // a command's wait for its unwinder to be mapped
constexpr double kCrashGraceSeconds = 0.05;  // after the last injection, for the crash it may cause
constexpr double kStopGraceSeconds = 2;      // SIGTERM to SIGKILL

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One run of the target: a child started for one run (Workload, Command), or the process given.
class TargetRun {
 public:
  explicit TargetRun(const InjectionTarget& target) : kind_(target.kind) {
    if (kind_ == Kind::Process) {
      info_ = proc::read_process_info(target.pid);
      return;
    }
    try {
      child_ = std::make_unique<proc::ChildProcess>(target.argv);
    } catch (const std::runtime_error& e) {
      throw UserError(ExitCode::Target, e.what());
    }
    if (kind_ == Kind::Command) {
      child_->close_stdin();
      return;
    }
    auto ready = child_->read_stdout_line(10);
    if (!ready || !ready->starts_with("ready "))
      throw UserError(ExitCode::Internal,
                      fmt::format("{} did not start: {}", target.argv.front(), child_->read_stderr_rest()));
  }

  pid_t pid() const { return child_ ? child_->pid() : info_.pid; }

  void go() {
    if (kind_ == Kind::Workload) child_->write_stdin("go\n");
  }

  bool exited() {
    if (!child_) return !proc::process_alive(info_);
    pass_output_through();
    return child_->wait(0).has_value();
  }

  // Ends a child still running; a process we did not start is left alone.
  void stop() {
    if (!child_ || child_->wait(0)) return;
    stopped_ = true;
    child_->send_signal(SIGTERM);
    if (!child_->wait(kStopGraceSeconds)) {
      child_->send_signal(SIGKILL);
      child_->wait(kStopGraceSeconds);
    }
  }

  validate::TargetEnd end(double duration_s) {
    validate::TargetEnd end;
    end.duration_s = duration_s;
    end.stopped_by_validate = stopped_;
    if (!child_) {
      end.exited = !proc::process_alive(info_);
      return end;
    }
    auto status = child_->wait(0);
    end.exited = status.has_value();
    end.status = status.value_or(0);
    return end;
  }

 private:
  // A command's output goes to our stderr, so a chatty target never blocks on a full pipe.
  void pass_output_through() {
    if (kind_ != Kind::Command) return;
    while (auto line = child_->read_stdout_line(0.001)) fmt::print(stderr, "[target] {}\n", *line);
    while (auto line = child_->read_stderr_line(0.001)) fmt::print(stderr, "[target] {}\n", *line);
  }

  Kind kind_;
  std::unique_ptr<proc::ChildProcess> child_;
  proc::ProcessInfo info_;
  bool stopped_ = false;
};

// Routines of a process, waiting for a command's unwinder to be mapped.
proc::ProcessRoutines discover(TargetRun& run, Kind kind, analysis::AnalysisCache& cache) {
  auto started = Clock::now();
  for (;;) {
    auto found = proc::find_process_routines(run.pid(), cache, proc::RoutineSelection::UnwinderSwitches);
    if (kind != Kind::Command || !found.routines.empty() || run.exited() ||
        seconds_since(started) > kDiscoverySeconds)
      return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// A site placed in one run: the routine as this run maps it.
struct RunSite {
  size_t routine;
  validate::InjectionSite site;
  proc::MappedRoutine mapped;
};

uint64_t file_offset(const proc::MappedRoutine& mapped, uint64_t offset) {
  auto elf = analysis::ElfObject::open(mapped.attach_path);
  auto file = elf.file_offset_of(mapped.routine.symbol.vaddr + offset);
  if (!file)
    throw UserError(ExitCode::Target, fmt::format("{}: {}+{:#x} is not in the file", mapped.object_path,
                                                  mapped.routine.symbol.name, offset));
  return *file;
}

ut_inject_config make_config(const InjectionOptions& options, pid_t pid, const std::vector<RunSite>& sites) {
  ut_inject_config config{};
  config.limit = options.count;
  config.tgid = static_cast<uint32_t>(pid);
  config.sig = options.sig;
  for (const auto& run_site : sites) {
    ut_inject_site& wire = config.sites[config.n_sites++];
    wire.landing_ip = run_site.mapped.start + run_site.site.offset;
    wire.sp_disp = run_site.mapped.routine.window.sp_disp;
    wire.ctx_reg = static_cast<uint8_t>(run_site.mapped.routine.window.ctx_reg);
    for (const auto& slot : run_site.site.slots) {
      if (wire.n_slots == UT_INJECT_MAX_SLOTS) break;
      wire.slot_disp[wire.n_slots++] = slot.disp;
    }
  }
  return config;
}

// Injects at every site of one run of the target until each has its count, or the run ends.
class RunInjector {
 public:
  RunInjector(const InjectionOptions& options, Injector& injector, std::optional<host::FrameSize> frame)
      : options_(options), injector_(injector), frame_(frame) {}

  std::vector<validate::SiteResult> run(TargetRun& target, const std::vector<RunSite>& sites) {
    injector_.start_run(make_config(options_, target.pid(), sites));
    struct EndRun {  // every way out of the run detaches its uprobes
      Injector& injector;
      ~EndRun() { injector.end_run(); }
    } end_run{injector_};
    std::vector<validate::SiteAccumulator::Context> contexts;
    uint64_t start_ns = monotonic_ns();
    for (uint32_t i = 0; i < sites.size(); ++i) {
      const auto& s = sites[i];
      injector_.attach_check(target.pid(), s.mapped.attach_path, file_offset(s.mapped, s.site.offset), i);
      injector_.attach_injection(target.pid(), s.mapped.attach_path,
                                 file_offset(s.mapped, s.site.inject_offset), i);
      contexts.push_back({s.site, s.routine, s.mapped.start, options_.count, options_.sig,
                          s.mapped.routine.window.ctx_known, frame_, start_ns,
                          options_.target.handler_stack});
    }
    validate::RunAccumulator accumulator(std::move(contexts));
    std::function<void(const ut_inject_event&)> on_event = [&](const ut_inject_event& e) {
      accumulator.add(e);
    };

    auto started = Clock::now();
    target.go();
    wait_for_injections(target, sites.size(), on_event, started);
    double duration = seconds_since(started);
    target.stop();
    injector_.drain(on_event);
    std::vector<validate::InjectCounters> counters;
    for (uint32_t i = 0; i < sites.size(); ++i) counters.push_back(injector_.site_counters(i));
    return accumulator.finish(counters, injector_.process_counters(), target.end(duration));
  }

 private:
  // Until every site is done (count delivered, every landed one resumed, a moment for a crash),
  // or the sites left have never run while others are done (not on this target's path), or no
  // injection for idle_s, or the timeout, the target's exit, or Ctrl-C.
  void wait_for_injections(TargetRun& target, size_t n_sites,
                           const std::function<void(const ut_inject_event&)>& on_event,
                           Clock::time_point started) {
    auto last_progress = started;
    uint64_t last_delivered = 0;
    std::optional<Clock::time_point> settled;
    for (;;) {
      std::this_thread::sleep_for(kPollInterval);
      injector_.drain(on_event);
      uint64_t delivered = 0;
      size_t done = 0, never_ran = 0;
      for (uint32_t i = 0; i < n_sites; ++i) {
        auto c = injector_.site_counters(i);
        delivered += c[UT_INJ_DELIVERED];
        if (c[UT_INJ_DELIVERED] >= options_.count && c[UT_INJ_CHECKED] >= c[UT_INJ_LANDED])
          ++done;
        else if (c[UT_INJ_PASSES] + c[UT_INJ_BUSY] + c[UT_INJ_MASKED] == 0)
          ++never_ran;
      }
      if (delivered != last_delivered) {
        last_delivered = delivered;
        last_progress = Clock::now();
      }
      if (target.exited() || (options_.stop && options_.stop->load())) return;
      if (done > 0 && done + never_ran == n_sites) {
        if (!settled) settled = Clock::now();
        if (seconds_since(*settled) > kCrashGraceSeconds) return;
      }
      if (seconds_since(last_progress) > options_.idle_s || seconds_since(started) > options_.timeout_s)
        return;
    }
  }

  const InjectionOptions& options_;
  Injector& injector_;
  std::optional<host::FrameSize> frame_;
};

// Where the target's exceptions unwind, for the report; not knowing must not stop the validation.
std::string exception_unwinder(pid_t pid) {
  try {
    host::PackageIndex packages;
    auto unwinder = proc::exception_unwinder(pid, packages);
    return unwinder ? proc::describe(*unwinder) : std::string("nothing refers to _Unwind_RaiseException");
  } catch (const std::exception& e) {
    return fmt::format("unknown ({})", e.what());
  }
}

// Every routine found, with its sites in order.
std::vector<std::vector<validate::InjectionSite>> fill_routines(validate::ValidateResult& result,
                                                                const proc::ProcessRoutines& found) {
  std::vector<std::vector<validate::InjectionSite>> plan;
  result.warnings.insert(result.warnings.end(), found.warnings.begin(), found.warnings.end());
  for (const auto& mapped : found.routines) {
    result.routines.push_back({mapped.object_path, mapped.build_id, mapped.routine.symbol.name,
                               analysis::to_string(mapped.routine.family), mapped.routine.window, false});
    plan.push_back(validate::plan_injection_sites(mapped.routine.window));
    if (plan.back().empty())
      result.warnings.push_back(fmt::format("{}: {} has no instruction to inject at", mapped.object_path,
                                            mapped.routine.symbol.name));
  }
  return plan;
}

// The same routine in another run of the target (its address moves with ASLR).
const proc::MappedRoutine* find_routine(const proc::ProcessRoutines& found,
                                        const validate::ValidatedRoutine& routine) {
  for (const auto& mapped : found.routines)
    if (mapped.object_path == routine.object_path && mapped.routine.symbol.name == routine.symbol)
      return &mapped;
  return nullptr;
}

}  // namespace

InjectionSession::InjectionSession() {
  require_tracing_privileges("validate");
  injector_ = std::make_unique<Injector>();
  frame_ = host::measure_signal_frame();
  if (frame_->max_bytes == 0) frame_.reset();
}

InjectionSession::~InjectionSession() = default;

validate::ValidateResult InjectionSession::run(const InjectionOptions& options) {
  validate::ValidateResult result;
  result.argv = options.target.argv;
  result.pid = options.target.kind == Kind::Process ? options.target.pid : 0;
  result.sig = options.sig;
  result.count = options.count;
  result.frame = frame_;
  if (!frame_) result.warnings.push_back("could not measure this host's signal frame: slot geometry unknown");
  auto started = Clock::now();
  analysis::AnalysisCache cache;

  // A first run finds the routines; an existing process is that run for every round.
  auto target = std::make_unique<TargetRun>(options.target);
  auto plan = fill_routines(result, discover(*target, options.target.kind, cache));
  result.unwinder = exception_unwinder(target->pid());
  std::vector<bool> candidate(plan.size());  // not yet known not to run
  for (size_t r = 0; r < plan.size(); ++r)
    candidate[r] = !options.unreached.count({result.routines[r].object_path, result.routines[r].symbol});
  RunInjector injector(options, *injector_, frame_);

  // Round k injects at the k-th site of every routine still in play: one instruction per
  // routine per run, so each outcome is attributable. Round 0 also finds which routines run.
  for (size_t round = 0;; ++round) {
    if (options.stop && options.stop->load()) break;
    std::vector<std::pair<size_t, validate::InjectionSite>> wanted;
    for (size_t r = 0; r < plan.size(); ++r)
      if (candidate[r] && round < plan[r].size()) wanted.emplace_back(r, plan[r][round]);
    if (wanted.empty()) break;
    if (wanted.size() > UT_INJECT_MAX_SITES) {
      result.warnings.push_back(
          fmt::format("{} routines to inject into; the first {} only", wanted.size(), UT_INJECT_MAX_SITES));
      wanted.resize(UT_INJECT_MAX_SITES);
    }
    if (options.target.kind != Kind::Process) {
      target.reset();  // the previous child is gone before the next starts
      target = std::make_unique<TargetRun>(options.target);
    } else if (target->exited()) {
      result.warnings.push_back(
          fmt::format("process {} exited: not every site was injected", options.target.pid));
      break;
    }
    auto found = discover(*target, options.target.kind, cache);
    std::vector<RunSite> sites;
    for (auto& [r, site] : wanted) {
      if (const auto* mapped = find_routine(found, result.routines[r]))
        sites.push_back({r, site, *mapped});
      else
        result.warnings.push_back(fmt::format("{} in {} not mapped in run {}: +{:#x} skipped",
                                              result.routines[r].symbol, result.routines[r].object_path,
                                              round + 1, site.offset));
    }
    if (sites.empty()) break;
    auto results = injector.run(*target, sites);
    for (auto& site : results) {
      auto& routine = result.routines[site.routine];
      if (round == 0)
        routine.reached =
            site.counters[UT_INJ_PASSES] + site.counters[UT_INJ_BUSY] + site.counters[UT_INJ_MASKED] > 0;
      candidate[site.routine] = routine.reached;
      if (!routine.reached) continue;
      if (options.on_site) options.on_site(site);
      result.sites.push_back(std::move(site));
    }
  }
  result.duration_s = seconds_since(started);
  return result;
}

}  // namespace ut::trace
