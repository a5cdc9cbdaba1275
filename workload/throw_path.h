// The throw/catch path a worker runs in a loop.
//
//   catcher -> [pad] -> guard 1 -> [pad] -> guard 2 ... guard K -> [pad] -> thrower
//
// Each guard frame holds an object with a non-trivial destructor: unwinding enters its landing
// pad (one resume through the unwinder: _Ux86_64_setcontext under GNU libunwind), the
// destructor counts it, and _Unwind_Resume continues. The catch is one more resume. A pad frame
// alloca()s `padding` bytes, so for every resume the unwinder's frames (and the ucontext in them)
// lie at least `padding` bytes below the target frame's SP. With padding 0 there are no pad
// frames and the distance is the natural one.
#pragma once

#include <cstddef>

namespace workload {

struct ThrowPathConfig {
  unsigned depth = 2;
  std::size_t padding = 16384;
};

// Set once before the workers start.
void configure_throw_path(const ThrowPathConfig& config);

// One throw and catch on the calling thread; updates *t_counters (throws, resumes, catches).
void throw_and_catch_once();

}  // namespace workload
