#include "host/signal_frame.h"

#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <alloca.h>
#include <climits>
#include <cstring>

namespace ut::host {

namespace {

constexpr uint64_t kRedZone = 128;
volatile uint64_t measured_bytes = 0;

// The frame starts with the 8-byte restorer address just below the ucontext the kernel passes.
void measure_handler(int, siginfo_t*, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  uint64_t interrupted_sp = static_cast<uint64_t>(uc->uc_mcontext.gregs[REG_RSP]);
  uint64_t frame_low = reinterpret_cast<uint64_t>(uc) - 8;
  measured_bytes = interrupted_sp - kRedZone - frame_low;
}

__attribute__((noinline)) uint64_t signal_with_stack_shift(int sig, size_t shift) {
  volatile char* pad = static_cast<volatile char*>(alloca(shift + 1));
  pad[0] = 0;
  measured_bytes = 0;
  syscall(SYS_tgkill, getpid(), gettid(), sig);
  asm volatile("" ::: "memory");
  return measured_bytes;
}

}  // namespace

FrameSize measure_signal_frame() {
  const int sig = SIGRTMAX - 1;
  struct sigaction action {}, previous{};
  action.sa_sigaction = measure_handler;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (sigaction(sig, &action, &previous) != 0) return {};
  sigset_t unblock, old_mask;
  sigemptyset(&unblock);
  sigaddset(&unblock, sig);
  pthread_sigmask(SIG_UNBLOCK, &unblock, &old_mask);

  FrameSize size{UINT32_MAX, 0};
  // 64-byte steps of the stack pointer cover every alignment the XSAVE area can need.
  for (size_t shift = 0; shift < 128; shift += 8) {
    uint64_t bytes = signal_with_stack_shift(sig, shift);
    if (bytes == 0 || bytes > (1u << 20)) continue;
    size.min_bytes = std::min<uint32_t>(size.min_bytes, static_cast<uint32_t>(bytes));
    size.max_bytes = std::max<uint32_t>(size.max_bytes, static_cast<uint32_t>(bytes));
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(sig, &previous, nullptr);
  if (size.max_bytes == 0) return {};
  return size;
}

}  // namespace ut::host
