#include "model/crash_signature.h"

#include <signal.h>

#include <algorithm>

#include <fmt/format.h>

namespace ut::model {

namespace {

constexpr uint64_t kFirstPage = 4096;
constexpr int32_t kSiKernel = 0x80;  // si_code of a fault the kernel reports without an address

CrashKind kind_of(const FatalSignal& fatal, const UnwinderRoutine* routine) {
  if (fatal.ip < kFirstPage) return CrashKind::ReturnToNull;
  if (routine && std::find(routine->ret_addrs.begin(), routine->ret_addrs.end(), fatal.ip) !=
                     routine->ret_addrs.end())
    return CrashKind::FaultAtRet;
  if (fatal.sig == SIGSEGV && fatal.fault_addr == fatal.ip) return CrashKind::WildFetch;
  if (routine) return CrashKind::InUnwinder;
  return CrashKind::Other;
}

}  // namespace

const char* to_string(CrashKind kind) {
  switch (kind) {
    case CrashKind::ReturnToNull: return "return_to_null";
    case CrashKind::FaultAtRet: return "fault_at_ret";
    case CrashKind::WildFetch: return "wild_fetch";
    case CrashKind::InUnwinder: return "in_unwinder";
    case CrashKind::Other: return "other";
  }
  return "?";
}

const char* to_string(CrashVerdict verdict) {
  switch (verdict) {
    case CrashVerdict::Confirmed: return "confirmed";
    case CrashVerdict::Suspected: return "suspected";
    case CrashVerdict::Unrelated: return "unrelated";
  }
  return "?";
}

FatalSignal to_fatal_signal(const ut_fatal_event& e) {
  return {e.hdr.tid, e.hdr.ktime_ns, e.sig, e.si_code, e.ip, e.sp, e.fault_addr};
}

const UnwinderRoutine* routine_at(std::span<const UnwinderRoutine> routines, uint64_t address) {
  for (const auto& r : routines)
    if (address >= r.start && address < r.end) return &r;
  return nullptr;
}

bool is_canonical(uint64_t address) {
  const uint64_t upper = address >> 47;  // 48-bit virtual addresses: bits 63..47 all equal
  return upper == 0 || upper == 0x1ffff;
}

CrashSignature classify_crash(const FatalSignal& fatal, std::span<const UnwinderRoutine> routines,
                              const std::optional<PriorHit>& prior_hit) {
  CrashSignature s;
  const UnwinderRoutine* routine = routine_at(routines, fatal.ip);
  s.kind = kind_of(fatal, routine);
  s.non_canonical_ip = !is_canonical(fatal.ip);
  s.sp_misaligned = fatal.sp % 16 == 8;
  if (prior_hit && prior_hit->ktime_ns <= fatal.ktime_ns && fatal.ktime_ns - prior_hit->ktime_ns <= kHitRecentNs)
    s.hit_age_ns = fatal.ktime_ns - prior_hit->ktime_ns;

  const bool race_like = s.kind != CrashKind::Other;
  if (race_like && s.hit_age_ns) s.verdict = CrashVerdict::Confirmed;
  else if (race_like || s.hit_age_ns) s.verdict = CrashVerdict::Suspected;
  else s.verdict = CrashVerdict::Unrelated;

  std::string where = routine ? fmt::format(" in {}+{:#x}", routine->name, fatal.ip - routine->start) : "";
  std::string gp = fatal.si_code == kSiKernel ? " (general protection)" : "";
  std::string hit = s.hit_age_ns ? fmt::format(", {:.3f} ms after a window hit at {:#x}",
                                               static_cast<double>(*s.hit_age_ns) / 1e6, prior_hit->offset)
                                 : "";
  s.summary = fmt::format("{}: signal {} at IP {:#x}{}{}, fault address {:#x}{}", to_string(s.verdict),
                          fatal.sig, fatal.ip, where, gp, fatal.fault_addr, hit);
  return s;
}

}  // namespace ut::model
