// Counters shared by the worker threads, the signal handler and the main thread.
//
// Every per-thread counter has exactly one writer (the worker itself, or the signal handler
// running on that worker), so increments are a relaxed load + store (a plain `inc`), readable at
// any time by other threads. Everything here is async-signal-safe: fixed storage, no locks.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace workload {

using Counter = std::atomic<std::uint64_t>;

// Single-writer increment: cheaper than fetch_add (no lock prefix), still tear-free to readers.
inline void bump(Counter& c) noexcept {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

inline std::uint64_t read(const Counter& c) noexcept {
  return c.load(std::memory_order_relaxed);
}

struct alignas(64) WorkerCounters {
  Counter throws{0};
  Counter catches{0};
  Counter resumes{0};          // destructors run during unwinding + catches
  Counter signals_handled{0};  // written by the signal handler running on this thread
  // Where the handler found the thread, as its ucontext says (the tracer's delivery classes,
  // seen from user space): right after a `syscall` instruction (delivered at a syscall return),
  // or elsewhere at the very IP and SP of this thread's previous signal (delivered as that
  // signal's handler returned: rt_sigreturn restored them).
  Counter signals_after_syscall{0};
  Counter signals_repeating_context{0};
  std::uintptr_t last_signal_ip = 0;  // the handler's own bookkeeping
  std::uintptr_t last_signal_sp = 0;
  Counter signals_sent{0};     // written by the tgkill sender thread
  std::atomic<pid_t> tid{0};
};

// The calling thread's counters (nullptr outside worker threads). Local-exec TLS in the
// executable: a plain %fs-relative access, safe inside the signal handler.
extern constinit thread_local WorkerCounters* t_counters;

// Where the handler saw the interrupted IP inside GNU libunwind's _Ux86_64_setcontext.
struct Residency {
  std::uintptr_t start = 0;  // runtime address of the routine, 0 if absent
  std::size_t size = 0;      // st_size
  std::unique_ptr<Counter[]> by_offset;  // size entries, relaxed fetch_add (any thread)
};

}  // namespace workload
