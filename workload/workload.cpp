// unwindtrace workload: the tracer's test oracle and demo target.
//
// Worker threads throw and catch C++ exceptions in a tight loop (see throw_path.h) while a
// signal storm hits them (see signal_storm.h). Everything a tracer must see is counted exactly:
// throws, resumes (landing pads entered through the unwinder), signals sent and handled, and
// where inside GNU libunwind's _Ux86_64_setcontext the handled signals interrupted the thread.
// The result is one JSON object (docs/workload.md).
#include "counters.h"
#include "options.h"
#include "signal_storm.h"
#include "throw_path.h"
#include "unwinder_info.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#ifndef UT_WORKLOAD_UNWINDER
#define UT_WORKLOAD_UNWINDER "libgcc"
#endif

namespace workload {
namespace {

constexpr const char* kUnwinder = UT_WORKLOAD_UNWINDER;
constexpr const char* kSetcontext = "_Ux86_64_setcontext";

// Which object _Unwind_RaiseException should come from in this build.
constexpr const char* expected_raise_object() {
  const std::string_view u = kUnwinder;
  return u == "gnu" ? "libunwind.so.8" : u == "llvm" ? "libunwind.so.1" : "libgcc_s.so.1";
}

struct Shared {
  const Options* options = nullptr;
  std::atomic<unsigned> parked{0};
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
};

struct Worker {
  WorkerCounters counters;
  Shared* shared = nullptr;
  unsigned index = 0;
  pthread_t thread{};
  std::string error;  // set if the thread failed to set itself up
};

void* worker_main(void* arg) {
  auto* w = static_cast<Worker*>(arg);
  Shared& s = *w->shared;
  const Options& o = *s.options;
  pthread_setname_np(pthread_self(), fmt::format("ut-worker-{}", w->index).c_str());
  std::optional<AltStack> altstack;
  try {
    if (o.altstack) altstack.emplace(o.handler_stack);
  } catch (const std::exception& e) {
    w->error = e.what();
  }
  // Warm-up throw, not counted: lazy binding and the unwinder's first-use set-up happen before
  // 'ready', not while a tracer is counting.
  WorkerCounters scratch;
  t_counters = &scratch;
  throw_and_catch_once();

  t_counters = &w->counters;
  w->counters.tid.store(gettid(), std::memory_order_release);
  s.parked.fetch_add(1, std::memory_order_release);
  s.parked.notify_all();
  s.go.wait(false, std::memory_order_acquire);
  if (w->error.empty()) {
    unblock_signal_in_this_thread(o.signal);
    while (!s.stop.load(std::memory_order_relaxed)) throw_and_catch_once();
    block_signal_in_this_thread(o.signal);
  }
  t_counters = nullptr;
  return nullptr;
}

std::size_t worker_stack_size(const Options& o) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::size_t need = (std::size_t{o.depth} + 1) * (o.padding + 2 * page) + o.handler_stack +
                     (std::size_t{1} << 20);
  need = std::max(need, std::size_t{8} << 20);
  return (need + page - 1) / page * page;
}

std::string hex(std::uintptr_t v) { return fmt::format("{:#x}", v); }

void sleep_until_ns(std::int64_t deadline) {
  const timespec ts{static_cast<time_t>(deadline / 1'000'000'000),
                    static_cast<long>(deadline % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

std::uint64_t window_hits(const Residency& r, const std::vector<std::size_t>& offsets) {
  std::uint64_t hits = 0;
  for (std::size_t off : offsets) {
    if (off < r.size) hits += read(r.by_offset[off]);
  }
  return hits;
}

// Lets signals already sent reach their threads before the workers stop (a signal pending when
// a worker exits would be lost): until every worker handled what it was sent, at most 1 s.
void drain_signals(const StormStats& storm, const std::vector<WorkerCounters*>& targets) {
  const std::int64_t start = monotonic_ns();
  // itimer, or a coalescing sender: nothing to compare with, give in-flight signals a moment.
  if (!storm.counts_sent || storm.coalesces) {
    sleep_until_ns(start + 2'000'000);
    return;
  }
  for (std::int64_t now = start; now - start < 1'000'000'000; now = monotonic_ns()) {
    bool pending = false;
    for (const WorkerCounters* c : targets) {
      pending |= read(c->signals_sent) != read(c->signals_handled);
    }
    if (!pending) return;
    sleep_until_ns(now + 100'000);
  }
}

int run(const Options& o) {
  const char* prog = UT_WORKLOAD_UNWINDER;
  auto warn = [&](const std::string& msg) {
    if (!o.quiet) std::fprintf(stderr, "unwindtrace-workload-%s: warning: %s\n", prog, msg.c_str());
  };

  // --- what the unwinder is -----------------------------------------------------------------
  const RoutineInfo routine = find_routine(kSetcontext);
  Residency residency;
  if (routine.address != 0 && routine.size != 0) {
    residency.start = routine.address;
    residency.size = routine.size;
    residency.by_offset = std::make_unique<Counter[]>(routine.size);
  }
  if (o.stop_after_window_hits != 0) {
    if (residency.start == 0) {
      warn(fmt::format("{} is not in this process: --stop-after-window-hits never triggers",
                       kSetcontext));
    } else {
      for (std::size_t off : o.window_offsets) {
        if (off >= residency.size) {
          std::fprintf(stderr, "unwindtrace-workload-%s: error: --window-offsets: %#zx is "
                       "outside %s (size %#zx)\n", prog, off, kSetcontext, residency.size);
          return 2;
        }
      }
    }
  }
  const std::string raise_object = raise_exception_object();
  if (raise_object.find(expected_raise_object()) == std::string::npos) {
    warn(fmt::format("_Unwind_RaiseException resolves to '{}', expected {}", raise_object,
                     expected_raise_object()));
  }

  // --- set-up: handler, parked workers ------------------------------------------------------
  configure_throw_path({o.depth, o.padding});
  // Threads created from here on inherit the blocked signal; only workers unblock it, so an
  // itimer signal never lands on the main or sender thread.
  block_signal_in_this_thread(o.signal);
  install_handler({o.signal, o.handler_stack, o.altstack, &residency});

  Shared shared;
  shared.options = &o;
  std::deque<Worker> workers(o.threads);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, worker_stack_size(o));
  unsigned created = 0;
  for (unsigned i = 0; i < o.threads; ++i) {
    workers[i].shared = &shared;
    workers[i].index = i;
    if (int rc = pthread_create(&workers[i].thread, &attr, worker_main, &workers[i]); rc != 0) {
      pthread_attr_destroy(&attr);
      shared.stop.store(true);
      shared.go.store(true);
      shared.go.notify_all();
      for (unsigned j = 0; j < created; ++j) pthread_join(workers[j].thread, nullptr);
      throw std::system_error(rc, std::generic_category(), "pthread_create(worker)");
    }
    ++created;
  }
  pthread_attr_destroy(&attr);
  for (unsigned p = 0; (p = shared.parked.load(std::memory_order_acquire)) < o.threads;) {
    shared.parked.wait(p, std::memory_order_acquire);
  }
  for (const Worker& w : workers) {
    if (!w.error.empty()) {
      shared.stop.store(true);
      shared.go.store(true);
      shared.go.notify_all();
      for (Worker& x : workers) pthread_join(x.thread, nullptr);
      throw std::runtime_error(w.error);
    }
  }
  if (!o.quiet) {
    std::string where = routine.address
                            ? fmt::format("{} at {} (+{} bytes) in {}", kSetcontext,
                                          hex(routine.address), routine.size, routine.object)
                            : fmt::format("no {}", kSetcontext);
    std::fprintf(stderr, "unwindtrace-workload-%s: pid %d, _Unwind_RaiseException from %s, %s\n",
                 prog, getpid(), raise_object.c_str(), where.c_str());
  }

  // --- phase: wait for go -------------------------------------------------------------------
  if (o.wait_for_go) {
    std::printf("ready %d\n", getpid());
    std::fflush(stdout);
    std::string line;
    bool got_go = false;
    while (std::getline(std::cin, line)) {
      line.erase(0, line.find_first_not_of(" \t\r"));
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (line == "go") {
        got_go = true;
        break;
      }
    }
    if (!got_go) {
      std::fprintf(stderr, "unwindtrace-workload-%s: error: stdin closed before 'go'\n", prog);
      shared.stop.store(true);
      shared.go.store(true);
      shared.go.notify_all();
      for (Worker& w : workers) pthread_join(w.thread, nullptr);
      return 1;
    }
  }

  // --- phase: run -----------------------------------------------------------------------------
  std::vector<WorkerCounters*> targets;
  for (Worker& w : workers) targets.push_back(&w.counters);
  std::deque<TgkillStorm> tgkill_storms;  // --senders of them, each with its share of the threads
  std::optional<ItimerStorm> itimer_storm;
  if (o.signal_rate > 0 && o.itimer) {
    itimer_storm.emplace(o.signal_rate);
  } else if (o.signal_rate > 0) {
    const unsigned senders = std::min(o.senders, o.threads);
    for (unsigned k = 0; k < senders; ++k) {
      std::vector<WorkerCounters*> share;
      for (std::size_t i = k; i < targets.size(); i += senders) share.push_back(targets[i]);
      tgkill_storms.emplace_back(o.signal, o.signal_rate / senders, o.batch_us, std::move(share), o.coalesce);
    }
  }

  const std::int64_t t_start = monotonic_ns();
  shared.go.store(true, std::memory_order_release);
  shared.go.notify_all();
  for (TgkillStorm& sender : tgkill_storms) sender.start();
  if (itimer_storm) itimer_storm->start();

  const std::int64_t deadline = t_start + static_cast<std::int64_t>(o.duration_s * 1e9);
  bool stopped_early = false;
  if (o.stop_after_window_hits != 0 && residency.start != 0) {
    constexpr std::int64_t kPollNs = 5'000'000;
    for (std::int64_t now = monotonic_ns(); now < deadline; now = monotonic_ns()) {
      if (window_hits(residency, o.window_offsets) >= o.stop_after_window_hits) {
        stopped_early = true;
        break;
      }
      sleep_until_ns(std::min(deadline, now + kPollNs));
    }
  } else {
    sleep_until_ns(deadline);
  }

  // Storm first, then (after in-flight signals had time to land) the workers.
  StormStats storm;
  for (TgkillStorm& sender : tgkill_storms) storm += sender.stop();
  if (itimer_storm) storm = itimer_storm->stop();
  drain_signals(storm, targets);
  shared.stop.store(true, std::memory_order_relaxed);
  for (Worker& w : workers) pthread_join(w.thread, nullptr);
  const double duration_s = static_cast<double>(monotonic_ns() - t_start) / 1e9;

  // --- result -------------------------------------------------------------------------------
  using json = nlohmann::ordered_json;
  std::uint64_t throws = 0, catches = 0, resumes = 0, handled = 0, sent = 0, after_syscall = 0, repeating = 0;
  json per_thread = json::array();
  for (const Worker& w : workers) {
    const WorkerCounters& c = w.counters;
    throws += read(c.throws);
    catches += read(c.catches);
    resumes += read(c.resumes);
    handled += read(c.signals_handled);
    sent += read(c.signals_sent);
    after_syscall += read(c.signals_after_syscall);
    repeating += read(c.signals_repeating_context);
    per_thread.push_back({{"tid", c.tid.load()},
                          {"throws", read(c.throws)},
                          {"resumes", read(c.resumes)},
                          {"signals_sent", storm.counts_sent ? json(read(c.signals_sent)) : json()},
                          {"signals_handled", read(c.signals_handled)}});
  }
  const std::uint64_t elsewhere = signals_handled_elsewhere();
  handled += elsewhere;

  json by_offset = json::object();
  std::uint64_t in_routine = 0;
  for (std::size_t off = 0; off < residency.size; ++off) {
    if (std::uint64_t v = read(residency.by_offset[off]); v != 0) {
      by_offset[hex(off)] = v;
      in_routine += v;
    }
  }
  const bool have_routine = routine.address != 0;
  json setcontext = {{"address", have_routine ? json(hex(routine.address)) : json()},
                     {"size", routine.size},
                     {"object", have_routine ? json(routine.object) : json()},
                     {"symbol_value", have_routine ? json(hex(routine.symbol_value)) : json()},
                     {"residency", by_offset},
                     {"residency_total", in_routine}};

  json storm_json = {{"mode", storm.mode}, {"target_hz", o.signal_rate}};
  if (!tgkill_storms.empty()) {
    storm_json["batch_us"] = o.batch_us;
    storm_json["senders"] = tgkill_storms.size();
    storm_json["coalesce"] = o.coalesce;
  }
  storm_json["elapsed_s"] = storm.elapsed_s;
  storm_json["achieved_hz"] = storm.counts_sent && storm.elapsed_s > 0
                                  ? json(static_cast<double>(storm.sent) / storm.elapsed_s)
                                  : json();
  storm_json["deferred"] = storm.deferred;
  storm_json["dropped"] = storm.dropped;

  json result = {
      {"unwinder", kUnwinder},
      {"raise_exception_object", raise_object},
      {"pid", getpid()},
      {"threads", o.threads},
      {"depth", o.depth},
      {"padding", o.padding},
      {"handler_stack", o.handler_stack},
      {"altstack", o.altstack},
      {"signal", o.signal_name},
      {"signal_number", o.signal},
      {"duration_s", duration_s},
      {"stopped_early", stopped_early},
      {"throws", throws},
      {"catches", catches},
      {"resumes", resumes},
      {"signals_sent", storm.counts_sent ? json(sent) : json()},
      {"signals_handled", handled},
      {"signals_handled_elsewhere", elsewhere},
      {"signals_after_syscall", after_syscall},
      {"signals_repeating_context", repeating},
      {"per_thread", per_thread},
      {"storm", storm_json},
      {"setcontext", setcontext},
  };
  if (o.stop_after_window_hits != 0) {
    json offsets = json::array();
    for (std::size_t off : o.window_offsets) offsets.push_back(hex(off));
    result["window"] = {{"offsets", offsets},
                        {"hits", window_hits(residency, o.window_offsets)},
                        {"stop_after", o.stop_after_window_hits}};
  }
  result["exceptions_per_s"] = static_cast<double>(throws) / duration_s;
  result["signals_per_s"] = static_cast<double>(handled) / duration_s;

  const std::string text = result.dump(o.pretty ? 2 : -1) + "\n";
  if (o.json_path.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  } else {
    std::ofstream out(o.json_path);
    out << text;
    if (!out.flush()) {
      std::fprintf(stderr, "unwindtrace-workload-%s: error: cannot write %s\n", prog,
                   o.json_path.c_str());
      return 1;
    }
  }
  if (!o.quiet) {
    std::fprintf(stderr,
                 "unwindtrace-workload-%s: %.2f s, %u thread(s): %.0f throws/s, %.2f resumes/throw, "
                 "signals %s sent / %llu handled, %llu inside %s\n",
                 prog, duration_s, o.threads, static_cast<double>(throws) / duration_s,
                 throws ? static_cast<double>(resumes) / static_cast<double>(throws) : 0.0,
                 storm.counts_sent ? std::to_string(sent).c_str() : "?",
                 static_cast<unsigned long long>(handled),
                 static_cast<unsigned long long>(in_routine), kSetcontext);
  }
  return 0;
}

}  // namespace
}  // namespace workload

int main(int argc, char** argv) {
  const workload::Options options = workload::parse_options(argc, argv);
  try {
    return workload::run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unwindtrace-workload-%s: error: %s\n", UT_WORKLOAD_UNWINDER, e.what());
    return 1;
  }
}
