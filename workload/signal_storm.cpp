#include "signal_storm.h"

#include <alloca.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <system_error>

namespace workload {

constinit thread_local WorkerCounters* t_counters = nullptr;

namespace {

// Read by the handler; written once before it is installed.
std::size_t g_handler_stack = 0;
std::uintptr_t g_routine_start = 0;
std::size_t g_routine_size = 0;
Counter* g_routine_counts = nullptr;
Counter g_handled_elsewhere{0};

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Whether the instruction before `ip` is `syscall` (0f 05): the thread returns there from a
// syscall. Read only within ip's own page, which is mapped (the thread was executing it).
bool follows_syscall(std::uintptr_t ip) {
  constexpr std::uintptr_t kPage = 4096;
  if (ip % kPage < 2) return false;
  const auto* before = reinterpret_cast<const unsigned char*>(ip - 2);
  return before[0] == 0x0f && before[1] == 0x05;
}

// Async-signal-safe: no allocation, no locks, errno preserved.
void on_signal(int, siginfo_t*, void* context) {
  const int saved_errno = errno;
  if (const std::size_t n = g_handler_stack; n != 0) {
    void* p = alloca(n);
    std::memset(p, 0, n);
    asm volatile("" ::"r"(p) : "memory");
  }
  const auto* uc = static_cast<const ucontext_t*>(context);
  const auto ip = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  if (const std::uintptr_t off = ip - g_routine_start; off < g_routine_size) {
    g_routine_counts[off].fetch_add(1, std::memory_order_relaxed);
  }
  if (WorkerCounters* c = t_counters) {
    bump(c->signals_handled);
    const auto sp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
    if (follows_syscall(ip))
      bump(c->signals_after_syscall);
    else if (ip == c->last_signal_ip && sp == c->last_signal_sp)
      bump(c->signals_repeating_context);
    c->last_signal_ip = ip;
    c->last_signal_sp = sp;
  } else {
    g_handled_elsewhere.fetch_add(1, std::memory_order_relaxed);
  }
  errno = saved_errno;
}

void change_mask(int how, int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  if (int rc = pthread_sigmask(how, &set, nullptr); rc != 0) {
    throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
  }
}

constexpr std::int64_t kNsPerSec = 1'000'000'000;

timespec to_timespec(std::int64_t ns) {
  return timespec{static_cast<time_t>(ns / kNsPerSec), static_cast<long>(ns % kNsPerSec)};
}

}  // namespace

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}

void install_handler(const HandlerConfig& config) {
  g_handler_stack = config.handler_stack;
  if (config.residency != nullptr && config.residency->start != 0) {
    g_routine_counts = config.residency->by_offset.get();
    g_routine_size = config.residency->size;
    g_routine_start = config.residency->start;
  }
  struct sigaction sa {};
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | (config.altstack ? SA_ONSTACK : 0);
  sigemptyset(&sa.sa_mask);
  if (sigaction(config.signal, &sa, nullptr) != 0) throw_errno("sigaction");
}

std::uint64_t signals_handled_elsewhere() { return read(g_handled_elsewhere); }

AltStack::AltStack(std::size_t handler_stack) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::size_t min = std::max<std::size_t>(getauxval(AT_MINSIGSTKSZ), MINSIGSTKSZ);
  size_ = (min + handler_stack + 64 * 1024 + page - 1) / page * page;
  base_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
               -1, 0);
  if (base_ == MAP_FAILED) throw_errno("mmap(sigaltstack)");
  stack_t ss{};
  ss.ss_sp = base_;
  ss.ss_size = size_;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(base_, size_);
    throw_errno("sigaltstack");
  }
}

AltStack::~AltStack() {
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(base_, size_);
}

void block_signal_in_this_thread(int sig) { change_mask(SIG_BLOCK, sig); }
void unblock_signal_in_this_thread(int sig) { change_mask(SIG_UNBLOCK, sig); }

StormStats& StormStats::operator+=(const StormStats& other) {
  mode = other.mode;
  counts_sent = other.counts_sent;
  coalesces = other.coalesces;
  sent += other.sent;
  deferred += other.deferred;
  dropped += other.dropped;
  elapsed_s = std::max(elapsed_s, other.elapsed_s);
  return *this;
}

// --- tgkill sender ---------------------------------------------------------------------------

TgkillStorm::TgkillStorm(int sig, double rate, unsigned batch_us,
                         std::vector<WorkerCounters*> targets, bool coalesce)
    : sig_(sig), rate_(rate), batch_us_(batch_us), targets_(std::move(targets)), coalesce_(coalesce) {}

TgkillStorm::~TgkillStorm() {
  if (running_) stop();
}

void TgkillStorm::start() {
  stop_.store(false);
  if (int rc = pthread_create(&thread_, nullptr, &TgkillStorm::thread_main, this); rc != 0) {
    throw std::system_error(rc, std::generic_category(), "pthread_create(storm)");
  }
  running_ = true;
}

StormStats TgkillStorm::stop() {
  if (running_) {
    stop_.store(true, std::memory_order_relaxed);
    pthread_join(thread_, nullptr);
    running_ = false;
  }
  StormStats s;
  s.mode = "tgkill";
  s.coalesces = coalesce_;
  s.sent = sent_;
  s.deferred = deferred_;
  s.dropped = dropped_;
  s.elapsed_s = elapsed_s_;
  return s;
}

void* TgkillStorm::thread_main(void* self) {
  pthread_setname_np(pthread_self(), "ut-storm");
  static_cast<TgkillStorm*>(self)->run();
  return nullptr;
}

void TgkillStorm::run() {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // wake at the deadline, not up to 50 us later
  const pid_t pid = getpid();
  const std::size_t n = targets_.size();
  const std::int64_t batch_ns = std::int64_t{batch_us_} * 1000;
  // Never let a backlog turn into a burst: at most two batches' worth is owed (coalescing: 100 ms
  // worth, so a sender preempted on a busy host catches up; merged signals cost the targets nothing).
  const double backlog_ns = coalesce_ ? 100e6 : 2.0 * static_cast<double>(batch_ns);
  const auto max_backlog = static_cast<std::uint64_t>(std::ceil(rate_ * backlog_ns / 1e9)) + n;
  // When every target still has a signal pending, spin this long for one to take it (delivery
  // to a running thread takes ~10-35 us in a nested VM), then poll with short sleeps: the
  // target may be waiting for this very CPU.
  constexpr std::int64_t kSpinNs = 30'000;
  constexpr std::int64_t kPollNs = 20'000;

  std::size_t next = 0;
  const std::int64_t t0 = monotonic_ns();
  std::int64_t deadline = t0;

  while (!stop_.load(std::memory_order_relaxed)) {
    const std::int64_t now = monotonic_ns();
    const auto due = static_cast<std::uint64_t>(static_cast<double>(now - t0) * rate_ / 1e9);
    std::uint64_t owed = due - dropped_ - sent_;
    if (owed > max_backlog) {
      dropped_ += owed - max_backlog;
      owed = max_backlog;
    }
    std::int64_t wait_start = 0;
    while (owed > 0) {
      // Round-robin, skipping threads whose last signal has not been handled yet (unless
      // coalescing: then the next thread, pending or not).
      std::size_t pick = coalesce_ ? next : n;
      for (std::size_t k = 0; k < n && pick == n; ++k) {
        std::size_t i = (next + k) % n;
        if (read(targets_[i]->signals_sent) == read(targets_[i]->signals_handled)) {
          pick = i;
          break;
        }
      }
      if (pick == n) {
        const std::int64_t t = monotonic_ns();
        if (wait_start == 0) {
          ++deferred_;
          wait_start = t;
        }
        if (t - wait_start >= kSpinNs || stop_.load(std::memory_order_relaxed)) break;
        __builtin_ia32_pause();
        continue;
      }
      wait_start = 0;
      WorkerCounters* t = targets_[pick];
      bump(t->signals_sent);  // before the send: the handler may run before tgkill returns
      if (syscall(SYS_tgkill, pid, t->tid.load(std::memory_order_relaxed), sig_) != 0) {
        // Thread gone (only possible at shutdown): undo and stop.
        t->signals_sent.store(read(t->signals_sent) - 1, std::memory_order_relaxed);
        stop_.store(true, std::memory_order_relaxed);
        break;
      }
      ++sent_;
      --owed;
      next = (pick + 1) % n;
    }
    const std::int64_t after = monotonic_ns();
    // Next absolute batch deadline in the future (missed ones are skipped, not burst).
    if (deadline <= after) deadline += ((after - deadline) / batch_ns + 1) * batch_ns;
    // Still owing: poll again soon (sleeping, so a target sharing this CPU can run).
    const std::int64_t wake = owed > 0 ? std::min(deadline, after + kPollNs) : deadline;
    const timespec ts = to_timespec(wake);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
  }
  elapsed_s_ = static_cast<double>(monotonic_ns() - t0) / 1e9;
}

// --- setitimer -------------------------------------------------------------------------------

ItimerStorm::ItimerStorm(double rate) : rate_(rate) {}

ItimerStorm::~ItimerStorm() {
  if (running_) stop();
}

void ItimerStorm::start() {
  const auto period_us = std::max<long>(1, std::lround(1e6 / rate_));
  itimerval it{};
  it.it_interval.tv_sec = period_us / 1'000'000;
  it.it_interval.tv_usec = period_us % 1'000'000;
  it.it_value = it.it_interval;
  start_ns_ = monotonic_ns();
  if (setitimer(ITIMER_PROF, &it, nullptr) != 0) throw_errno("setitimer");
  running_ = true;
}

StormStats ItimerStorm::stop() {
  StormStats s;
  s.mode = "itimer";
  s.counts_sent = false;
  if (running_) {
    itimerval off{};
    setitimer(ITIMER_PROF, &off, nullptr);
    running_ = false;
    s.elapsed_s = static_cast<double>(monotonic_ns() - start_ns_) / 1e9;
  }
  return s;
}

}  // namespace workload
