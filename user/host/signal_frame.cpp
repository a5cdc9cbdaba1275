#include "host/signal_frame.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <alloca.h>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "host/frame_map.h"
#include "host/xsave_features.h"

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

// ---- the byte map -------------------------------------------------------------------------

namespace ut::host {

namespace {

constexpr size_t kAltStackBytes = 256 << 10;
constexpr size_t kScanBytes = 64 << 10;  // bytes below the top that are filled and diffed
constexpr uint32_t kXsaveHeaderOffset = 512;
constexpr uint32_t kXmmOffset = 160;  // XMM0-15 in the legacy FXSAVE region
constexpr uint32_t kXmmBytes = 256;
constexpr uint64_t kAvxFamily = (1ull << 2) | (1ull << 5) | (1ull << 6) | (1ull << 7);
// A byte the kernel writes differs from at least one of these, whatever value it writes.
constexpr uint64_t kPatterns[] = {0xa5a5a5a5a5a5a5a5ull, 0x5a5a5a5a5a5a5a5aull, 0, ~0ull,
                                  0x0123456789abcdefull};

volatile uint64_t frame_low_seen = 0;

// Installed with and without SA_SIGINFO: the kernel passes the ucontext in %rdx either way.
void record_frame_handler(int, siginfo_t*, void* context) {
  frame_low_seen = reinterpret_cast<uint64_t>(context) - 8;
}

// The registers the signal frame will save: general-purpose and SSE registers holding a value
// unlike the fill pattern, the AVX-family components in their initial state (XSAVE may then skip
// them) or all in use.
class RegisterState {
 public:
  explicit RegisterState(const XsaveFeatures& features) : features_(features) {
    if (!features.supported) return;
    size_t bytes = (features.area_bytes + 63) / 64 * 64;
    buffer_ = static_cast<uint8_t*>(std::aligned_alloc(64, bytes));
    if (!buffer_) throw std::bad_alloc();
  }
  ~RegisterState() { std::free(buffer_); }
  RegisterState(const RegisterState&) = delete;
  RegisterState& operator=(const RegisterState&) = delete;

  // Loads the chosen vector state, sets every general-purpose register it can (all but %rsp and
  // %r15, which holds the arguments) to `scramble`, and sends `sig` to this thread with no code
  // in between. Without this a register still holding the fill pattern (the compiler keeps it
  // for the diff) would be saved as the pattern and its slot would look unwritten.
  // Not instrumented by ASan, not inlined: ASan may move locals to a fake stack addressed through
  // a register, and the asm below leaves no general-purpose register free for that.
  __attribute__((noinline, no_sanitize("address"))) void raise(int sig, bool in_use, uint64_t scramble) {
    struct Args {
      uint64_t low, high, scramble, sig, pid, tid;
      uint8_t* buffer;
      uint64_t saved_rbp;
    } args{static_cast<uint32_t>(features_.xcr0), features_.xcr0 >> 32, scramble, static_cast<uint64_t>(sig),
           static_cast<uint64_t>(getpid()), static_cast<uint64_t>(gettid()), buffer_, 0};
    if (buffer_) prepare(in_use, scramble);
    Args* a = &args;
    asm volatile(
        "mov %[args], %%r15\n\t"
        "mov 48(%%r15), %%rcx\n\t"
        "test %%rcx, %%rcx\n\t"
        "jz 1f\n\t"
        "mov 0(%%r15), %%eax\n\t"
        "mov 8(%%r15), %%edx\n\t"
        "xrstor (%%rcx)\n"
        "1:\n\t"
        "mov %%rbp, 56(%%r15)\n\t"
        "mov 16(%%r15), %%rbx\n\t"
        "mov %%rbx, %%rbp\n\t"
        "mov %%rbx, %%r8\n\t"
        "mov %%rbx, %%r9\n\t"
        "mov %%rbx, %%r10\n\t"
        "mov %%rbx, %%r12\n\t"
        "mov %%rbx, %%r13\n\t"
        "mov %%rbx, %%r14\n\t"
        "mov 24(%%r15), %%rdx\n\t"
        "mov 32(%%r15), %%rdi\n\t"
        "mov 40(%%r15), %%rsi\n\t"
        "mov %[nr], %%eax\n\t"
        "syscall\n\t"
        "mov 56(%%r15), %%rbp"
        :
        : [args] "m"(a), [nr] "i"(SYS_tgkill)
        : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
          "memory");
  }

 private:
  // The XSAVE image to load: SSE registers and, in use, the AVX family filled with `scramble`.
  void prepare(bool in_use, uint64_t scramble) {
    std::memset(buffer_, 0, features_.area_bytes);
    const uint32_t low = static_cast<uint32_t>(features_.xcr0);
    const uint32_t high = static_cast<uint32_t>(features_.xcr0 >> 32);
    asm volatile("xsave (%0)" ::"r"(buffer_), "a"(low), "d"(high) : "memory");
    auto fill = [&](uint32_t offset, uint32_t size) {
      for (uint32_t at = offset; at + 8 <= offset + size; at += 8) std::memcpy(buffer_ + at, &scramble, 8);
    };
    fill(kXmmOffset, kXmmBytes);
    uint64_t state_bv = 0;
    std::memcpy(&state_bv, buffer_ + kXsaveHeaderOffset, sizeof state_bv);
    const uint64_t avx_family = features_.xcr0 & kAvxFamily;
    if (in_use) {
      state_bv |= avx_family;
      for (const auto& c : features_.components)
        if (avx_family & (1ull << c.bit)) fill(c.offset, c.size);
    } else {
      state_bv &= ~avx_family;
    }
    std::memcpy(buffer_ + kXsaveHeaderOffset, &state_bv, sizeof state_bv);
  }

  const XsaveFeatures& features_;
  uint8_t* buffer_ = nullptr;
};

struct LayoutKey {
  uint32_t top_align;
  bool siginfo;
};

// One frame on the alternate stack whose top is `top`: its size, the offsets (relative to the
// top) of the bytes inside it that no longer hold the pattern, and all its bytes.
struct FrameDiff {
  std::vector<int32_t> changed;
  uint32_t bytes = 0;
  std::vector<uint8_t> contents;  // [-bytes, 0)
};

FrameDiff diff_one_frame(uint8_t* top, int sig, uint64_t pattern, bool vector_in_use, RegisterState& registers) {
  volatile uint64_t* fill = reinterpret_cast<volatile uint64_t*>(top - kScanBytes);
  for (size_t i = 0; i < kScanBytes / 8; ++i) fill[i] = pattern;  // volatile: no vector stores
  frame_low_seen = 0;
  registers.raise(sig, vector_in_use, ~pattern);
  const uint64_t low = frame_low_seen;
  const uint64_t top_addr = reinterpret_cast<uint64_t>(top);
  if (low == 0 || low >= top_addr || top_addr - low > kScanBytes / 2)
    throw std::runtime_error(fmt::format("signal frame not where expected (top {:#x}, low {:#x})",
                                         top_addr, low));
  FrameDiff diff;
  diff.bytes = static_cast<uint32_t>(top_addr - low);
  const auto* frame = reinterpret_cast<const uint8_t*>(low);
  diff.contents.assign(frame, frame + diff.bytes);
  for (uint64_t addr = low; addr < top_addr; ++addr) {
    const uint8_t expected = static_cast<uint8_t>(pattern >> (8 * (addr % 8)));
    if (diff.contents[addr - low] != expected)
      diff.changed.push_back(static_cast<int32_t>(static_cast<int64_t>(addr) - static_cast<int64_t>(top_addr)));
  }
  return diff;
}

// Written bytes whose value was the same in every frame of `frames` (all of one size).
std::vector<ConstantBytes> constant_bytes(const std::vector<int32_t>& written_sorted,
                                          const std::vector<std::vector<uint8_t>>& frames) {
  std::vector<std::pair<int32_t, uint8_t>> constant;
  const auto size = static_cast<int32_t>(frames.front().size());
  for (int32_t offset : written_sorted) {
    const auto at = static_cast<size_t>(offset + size);
    const uint8_t value = frames.front()[at];
    if (std::all_of(frames.begin(), frames.end(), [&](const auto& f) { return f[at] == value; }))
      constant.emplace_back(offset, value);
  }
  return to_constant_runs(constant);
}

FrameLayout measure_layout(uint8_t* stack, LayoutKey key, int sig, RegisterState& registers) {
  struct sigaction action {};
  action.sa_sigaction = record_frame_handler;
  action.sa_flags = SA_ONSTACK | (key.siginfo ? SA_SIGINFO : 0);
  sigemptyset(&action.sa_mask);
  if (sigaction(sig, &action, nullptr) != 0) throw std::runtime_error("sigaction failed");
  uint8_t* top = stack + kAltStackBytes - 4096 + key.top_align;  // stack is page-aligned
  stack_t alt{};
  alt.ss_sp = stack;
  alt.ss_size = static_cast<size_t>(top - stack);
  if (sigaltstack(&alt, nullptr) != 0) throw std::runtime_error("sigaltstack failed");

  FrameLayout layout;
  layout.top_align = key.top_align;
  layout.siginfo = key.siginfo;
  std::vector<int32_t> written, written_in_use;
  std::vector<std::vector<uint8_t>> frames;
  for (bool in_use : {false, true}) {
    for (uint64_t pattern : kPatterns) {
      FrameDiff diff = diff_one_frame(top, sig, pattern, in_use, registers);
      if (layout.frame_bytes != 0 && diff.bytes != layout.frame_bytes)
        throw std::runtime_error("signal frame size changed between identical signals");
      layout.frame_bytes = diff.bytes;
      auto& into = in_use ? written_in_use : written;
      into.insert(into.end(), diff.changed.begin(), diff.changed.end());
      frames.push_back(std::move(diff.contents));
    }
  }
  layout.written = to_ranges(written);
  std::sort(written.begin(), written.end());
  written.erase(std::unique(written.begin(), written.end()), written.end());
  std::vector<int32_t> only_in_use;
  for (int32_t offset : written_in_use)
    if (!std::binary_search(written.begin(), written.end(), offset)) only_in_use.push_back(offset);
  layout.written_if_vector_state = to_ranges(only_in_use);
  layout.written_constant = constant_bytes(written, frames);
  return layout;
}

// The mapping for the alternate stacks; on destruction also the thread's sigaltstack and the
// signal's disposition go back to what they were.
struct AltStackArea {
  AltStackArea(int sig, const struct sigaction& previous) : sig(sig), previous(previous) {
    void* mapped = mmap(nullptr, kAltStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::runtime_error("cannot map an alternate signal stack");
    base = static_cast<uint8_t*>(mapped);
  }
  ~AltStackArea() {
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
    munmap(base, kAltStackBytes);
    sigaction(sig, &previous, nullptr);
  }
  AltStackArea(const AltStackArea&) = delete;
  AltStackArea& operator=(const AltStackArea&) = delete;

  uint8_t* base = nullptr;
  int sig;
  struct sigaction previous;
};

void measure_on_this_thread(const XsaveFeatures& features, FrameMap& map) {
  const int sig = SIGRTMAX - 1;
  struct sigaction previous {};
  sigaction(sig, nullptr, &previous);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, sig);
  pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
  AltStackArea area(sig, previous);
  RegisterState registers(features);
  for (bool siginfo : {false, true})
    for (uint32_t align = 0; align < 64; align += 8)
      map.layouts.push_back(measure_layout(area.base, {align, siginfo}, sig, registers));
}

}  // namespace

FrameMap measure_frame_map(const XsaveFeatures& features) {
  FrameMap map;
  std::exception_ptr failure;
  // A thread of its own: the alternate stack and the unblocked signal stay out of the caller's.
  std::thread worker([&] {
    try {
      measure_on_this_thread(features, map);
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure) std::rethrow_exception(failure);
  return map;
}

}  // namespace ut::host
