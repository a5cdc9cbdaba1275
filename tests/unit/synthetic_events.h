// Builders for the records the BPF programs emit, so join and report tests read as event
// sequences. Addresses follow BACKGROUND.md: GNU libunwind's _Ux86_64_setcontext reads the return
// address at ucontext+0xa8 (at +0x52) and registers at +0x98 / +0x68 (at +0x59 .. +0x61).
#pragma once

#include <csignal>
#include <cstdint>

#include "events.h"

namespace ut::testing {

inline constexpr uint32_t kTgid = 4242;
inline constexpr int32_t kRipDisp = 0xa8;
inline constexpr int32_t kRcxDisp = 0x98;
inline constexpr uint64_t kRoutineStart = 0x7f0000005382;  // where the events' routine 0 is mapped

// The target IP of a thread's resume with sequence number `seq`, as tests give it.
inline uint64_t target_ip_of(uint64_t seq) { return 0x401000 + seq; }

struct SignalSpec {
  uint32_t tid = 0;
  uint64_t resume_seq = 0;
  uint32_t offset = 0;
  ut_window_class cls = UT_CLASS_NONE;
  uint64_t sp = 0;
  uint64_t ctx = 0;
  uint64_t slot_addr = 0;
  uint64_t slot_value = 0;
  int32_t sig = SIGPROF;
  ut_delivery delivery = UT_DELIVERY_INTERRUPT;
  uint8_t flags = UT_SIG_HANDLER | UT_SIG_SIGINFO;
  uint64_t ktime_ns = 0;
  // The thread's last resume, which the kernel puts in the event (resume_seq > 0): by default the
  // one this signal interrupts (its context is `ctx`, its target SP `sp` at the window's start).
  uint64_t resume_ctx = 0;
  uint64_t resume_target_sp = 0;
};

inline ut_signal_event signal_event(const SignalSpec& s) {
  ut_signal_event e{};
  e.hdr.kind = UT_EVENT_SIGNAL;
  e.hdr.tgid = kTgid;
  e.hdr.tid = s.tid;
  e.hdr.ktime_ns = s.ktime_ns;
  e.resume_seq = s.resume_seq;
  e.ip = kRoutineStart + s.offset;
  e.sp = s.sp;
  e.ctx = s.ctx;
  e.slot_addr = s.slot_addr;
  e.slot_value = s.slot_value;
  e.sig = s.sig;
  e.routine_offset = s.offset;
  e.routine = 0;
  e.window_index = s.cls == UT_CLASS_NONE ? UT_NO_WINDOW : 0;
  e.window_class = s.cls;
  e.delivery = s.delivery;
  e.flags = s.flags;
  if (s.resume_seq) {
    e.resume.ctx = s.resume_ctx ? s.resume_ctx : s.ctx;
    e.resume.target_sp = s.resume_target_sp ? s.resume_target_sp : s.sp;
    e.resume.target_ip = target_ip_of(s.resume_seq);
  }
  return e;
}

// A signal at +0x52 (the return-address read) of a resume whose ucontext lies `distance` bytes
// below its target SP: in the window %rsp is the target SP and %rdi the ucontext.
inline ut_signal_event return_address_hit(uint32_t tid, uint64_t resume_seq, uint64_t target_sp,
                                          uint64_t distance, uint64_t ktime_ns = 0) {
  const uint64_t ctx = target_sp - distance;
  return signal_event({.tid = tid,
                       .resume_seq = resume_seq,
                       .offset = 0x52,
                       .cls = UT_CLASS_RETURN_ADDRESS,
                       .sp = target_sp,
                       .ctx = ctx,
                       .slot_addr = ctx + kRipDisp,
                       .slot_value = 0x401234,
                       .ktime_ns = ktime_ns});
}

// A hit at +0x52 of a thread an earlier hit sent back into the routine: the slot holds the
// address of +0x52 itself (that hit's frame saved it there as the interrupted %rip).
inline ut_signal_event stuck_hit(uint32_t tid, uint64_t resume_seq, uint64_t target_sp,
                                 uint64_t distance, uint64_t ktime_ns = 0) {
  ut_signal_event e = return_address_hit(tid, resume_seq, target_sp, distance, ktime_ns);
  e.slot_value = kRoutineStart + 0x52;
  return e;
}

// A signal at +0x5a (the %rcx read), after `push %rcx`: SP is the target SP less 8.
inline ut_signal_event register_hit(uint32_t tid, uint64_t resume_seq, uint64_t target_sp,
                                    uint64_t distance, uint64_t ktime_ns = 0) {
  const uint64_t ctx = target_sp - distance;
  return signal_event({.tid = tid,
                       .resume_seq = resume_seq,
                       .offset = 0x5a,
                       .cls = UT_CLASS_REGISTER,
                       .sp = target_sp - 8,
                       .ctx = ctx,
                       .slot_addr = ctx + kRcxDisp,
                       .slot_value = 0x2a,
                       .ktime_ns = ktime_ns,
                       .resume_target_sp = target_sp});
}

// A signal inside the routine but outside the window.
inline ut_signal_event routine_signal(uint32_t tid, uint64_t resume_seq, uint32_t offset,
                                      ut_delivery delivery = UT_DELIVERY_INTERRUPT) {
  return signal_event({.tid = tid,
                       .resume_seq = resume_seq,
                       .offset = offset,
                       .sp = 0x7ffd00000000,
                       .ctx = 0x7ffc00000000,
                       .delivery = delivery});
}

}  // namespace ut::testing
