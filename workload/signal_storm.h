// The signal side: the counting handler, per-thread alternate stacks, and the storm sources
// (a tgkill sender thread paced with absolute deadlines, or setitimer(ITIMER_PROF)).
#pragma once

#include "counters.h"

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <pthread.h>
#include <vector>

namespace workload {

struct HandlerConfig {
  int signal = 0;
  std::size_t handler_stack = 0;  // bytes the handler alloca()s and memsets
  bool altstack = false;          // SA_ONSTACK (each worker calls install_altstack())
  Residency* residency = nullptr; // counts interrupted IPs inside the routine; may be empty
};

// Installs the handler (SA_SIGINFO | SA_RESTART [| SA_ONSTACK]). Throws std::system_error.
void install_handler(const HandlerConfig& config);

// Signals handled on threads that are not workers (should stay 0: only workers unblock).
std::uint64_t signals_handled_elsewhere();

// Per-thread alternate signal stack big enough for the handler; freed by the destructor.
class AltStack {
 public:
  explicit AltStack(std::size_t handler_stack);
  ~AltStack();
  AltStack(const AltStack&) = delete;
  AltStack& operator=(const AltStack&) = delete;

 private:
  void* base_ = nullptr;
  std::size_t size_ = 0;
};

void block_signal_in_this_thread(int sig);
void unblock_signal_in_this_thread(int sig);

struct StormStats {
  const char* mode = "none";       // "tgkill", "itimer" or "none"
  bool counts_sent = true;         // false for itimer: the kernel does the sending
  bool coalesces = false;          // tgkill --coalesce: sent counts offers, merged ones included
  std::uint64_t sent = 0;
  std::uint64_t deferred = 0;      // times the sender waited: every target had one pending
  std::uint64_t dropped = 0;       // owed sends given up (backlog cap: the targets lag behind)
  double elapsed_s = 0.0;

  // Adds another sender's stats (several senders share the threads).
  StormStats& operator+=(const StormStats& other);
};

// Sends `rate` signals per second (all targets together) with tgkill, round-robin, from its own
// thread. Every `batch_us` it wakes at an absolute deadline and sends what is owed so far.
// Unless `coalesce`, it never sends to a thread whose previous signal is still pending (a
// standard signal would be merged and lost); such a send is deferred to another thread or a
// later moment. With `coalesce` it sends at the rate whatever is pending (an offered load: the
// kernel merges what the targets cannot take, so fewer are handled than sent).
class TgkillStorm {
 public:
  TgkillStorm(int sig, double rate, unsigned batch_us, std::vector<WorkerCounters*> targets,
              bool coalesce = false);
  ~TgkillStorm();
  void start();
  StormStats stop();

 private:
  static void* thread_main(void* self);
  void run();

  int sig_;
  double rate_;
  unsigned batch_us_;
  std::vector<WorkerCounters*> targets_;
  bool coalesce_;
  pthread_t thread_{};
  bool running_ = false;
  std::atomic<bool> stop_{false};
  std::uint64_t sent_ = 0;
  std::uint64_t deferred_ = 0;
  std::uint64_t dropped_ = 0;
  double elapsed_s_ = 0.0;
};

// setitimer(ITIMER_PROF): SIGPROF every 1/rate seconds of process CPU time, delivered to
// whichever thread is running (only workers leave it unblocked).
class ItimerStorm {
 public:
  explicit ItimerStorm(double rate);
  ~ItimerStorm();
  void start();
  StormStats stop();

 private:
  double rate_;
  bool running_ = false;
  std::int64_t start_ns_ = 0;
};

std::int64_t monotonic_ns();

}  // namespace workload
