#include "throw_path.h"

#include "counters.h"

#include <alloca.h>

#include <exception>

// Frames must really exist: every function here is noinline, the workload is compiled with
// -fno-optimize-sibling-calls, and each call is followed by a compiler barrier.
#define UT_NOINLINE __attribute__((noinline))
#define UT_AFTER_CALL() asm volatile("" ::: "memory")

namespace workload {
namespace {

struct WorkloadException {
  unsigned long seq;
};

unsigned g_depth = 2;
std::size_t g_padding = 16384;

// The page size only matters for touching every page of the padding.
constexpr std::size_t kTouchStride = 4096;

__attribute__((always_inline)) inline void next_frame(unsigned level);

class Guard {
 public:
  Guard() = default;
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  ~Guard() {
    // Only runs during unwinding in this workload, but count exactly what we claim.
    if (std::uncaught_exceptions() > 0) bump(t_counters->resumes);
    UT_AFTER_CALL();
  }
};

UT_NOINLINE void thrower() {
  bump(t_counters->throws);
  throw WorkloadException{read(t_counters->throws)};
}

UT_NOINLINE void guard_frame(unsigned level) {
  Guard guard;
  next_frame(level - 1);
  UT_AFTER_CALL();
}

UT_NOINLINE void pad_frame(unsigned level) {
  std::size_t n = g_padding;
  auto* p = static_cast<volatile char*>(alloca(n));
  // Touch every page from the top down (like a stack probe), and the lowest byte.
  for (std::size_t i = n; i > 0; i -= (i > kTouchStride ? kTouchStride : i)) p[i - 1] = 0;
  p[0] = 0;
  if (level == 0) {
    thrower();
  } else {
    guard_frame(level);
  }
  UT_AFTER_CALL();
  asm volatile("" ::"r"(p) : "memory");  // keep the allocation live across the call
}

// Next frame down from a landing-pad frame (or the catcher): a pad frame when padding is on.
// Always inlined, so it adds no frame of its own.
__attribute__((always_inline)) inline void next_frame(unsigned level) {
  if (g_padding != 0) {
    pad_frame(level);
  } else if (level == 0) {
    thrower();
  } else {
    guard_frame(level);
  }
  UT_AFTER_CALL();
}

}  // namespace

void configure_throw_path(const ThrowPathConfig& config) {
  g_depth = config.depth;
  g_padding = config.padding;
}

UT_NOINLINE void throw_and_catch_once() {
  WorkerCounters* c = t_counters;
  try {
    next_frame(g_depth);
    UT_AFTER_CALL();
  } catch (const WorkloadException&) {
    bump(c->resumes);
    bump(c->catches);
  }
}

}  // namespace workload
