#include "analysis/known_routines.h"

#include <algorithm>
#include <array>

namespace ut::analysis {

const char* to_string(Family family) {
  switch (family) {
    case Family::GnuLibunwind: return "GNU libunwind";
    case Family::LlvmLibunwind: return "LLVM libunwind";
    case Family::Libgcc: return "libgcc";
    case Family::UnknownUnwinder: return "unknown unwinder";
    case Family::Glibc: return "glibc";
    case Family::User: return "user";
  }
  return "?";
}

bool is_unwinder(Family family) {
  return family != Family::Glibc && family != Family::User;
}

namespace {

constexpr std::string_view kResume = "resumes an unwound frame: loads its registers and %rsp";
constexpr std::string_view kSigreturn =
    "resumes a signal frame: points %rsp at its sigcontext, then rt_sigreturn";
constexpr std::string_view kEhReturn =
    "__builtin_eh_return epilogue: moves %rsp to the handler's frame and jumps to it";
constexpr std::string_view kContextSwitch = "switches to a ucontext (user-level threads)";
constexpr std::string_view kLongjmp = "longjmp: restores a jmp_buf's registers and %rsp";
constexpr std::string_view kLongjmpEntry =
    "longjmp entry: unwinds cleanups and the signal mask, then calls the routine that switches";

// Where two names share an address, the first listed names the routine.
constexpr std::array<KnownRoutine, 21> kRoutines{{
    // GNU libunwind 1.6.2 (src/x86_64): _ULx86_64_resume and local_resume only pick one of
    // these and call it; they do not switch stacks themselves. The sigreturn path is a hidden
    // symbol in libunwind.so.8, named only in libunwind.a and in what links it statically.
    {"_Ux86_64_setcontext", Family::GnuLibunwind, kResume},
    {"_ULx86_64_sigreturn", Family::GnuLibunwind, kSigreturn},
    {"_Ux86_64_sigreturn", Family::GnuLibunwind, kSigreturn},
    // LLVM libunwind (UnwindRegistersRestore.S): its C name, and the older mangled member name.
    {"__libunwind_Registers_x86_64_jumpto", Family::LlvmLibunwind, kResume},
    {"_ZN9libunwind16Registers_x86_646jumptoEv", Family::LlvmLibunwind, kResume},
    // The unwinding API: libgcc's versions end in the eh_return epilogue; GNU and LLVM
    // libunwind's call their resume routine instead.
    {"_Unwind_RaiseException", std::nullopt, kEhReturn},
    {"_Unwind_Resume", std::nullopt, kEhReturn},
    {"_Unwind_ForcedUnwind", std::nullopt, kEhReturn},
    {"_Unwind_Resume_or_Rethrow", std::nullopt, kEhReturn},
    // glibc (sysdeps/unix/sysv/linux/x86_64): __setcontext and friends are local aliases.
    {"setcontext", Family::Glibc, kContextSwitch},
    {"swapcontext", Family::Glibc, kContextSwitch},
    {"longjmp", Family::Glibc, kLongjmpEntry, true},
    {"_longjmp", Family::Glibc, kLongjmpEntry, true},
    {"siglongjmp", Family::Glibc, kLongjmpEntry, true},
    {"__libc_siglongjmp", Family::Glibc, kLongjmpEntry, true},
    {"__libc_longjmp", Family::Glibc, kLongjmpEntry, true},
    {"__longjmp_chk", Family::Glibc, kLongjmpEntry, true},
    // Internal, named only in an unstripped libc or a static executable.
    {"__longjmp", Family::Glibc, kLongjmp},
    {"__longjmp_cancel", Family::Glibc, kLongjmp},
    {"____longjmp_chk", Family::Glibc, kLongjmp},
    {"__setcontext", Family::Glibc, kContextSwitch},
}};

bool defines_any(const ElfObject& elf, std::initializer_list<std::string_view> names) {
  return std::any_of(names.begin(), names.end(),
                     [&](std::string_view name) { return elf.find_symbol(name).has_value(); });
}

// The implementation behind an object's _Unwind_RaiseException, by symbols only it exports.
Family unwinder_family(const ElfObject& elf, bool gnu_libunwind) {
  if (gnu_libunwind || defines_any(elf, {"_ULx86_64_step"})) return Family::GnuLibunwind;
  // LLVM exports libunwind.h's API without GNU's _U prefixes, and __unw_* since LLVM 9.
  if (defines_any(elf, {"unw_getcontext", "__unw_getcontext", "__unw_add_dynamic_fde"}))
    return Family::LlvmLibunwind;
  if (defines_any(elf, {"_Unwind_Find_FDE", "__gcc_personality_v0"})) return Family::Libgcc;
  return Family::UnknownUnwinder;
}

}  // namespace

std::span<const KnownRoutine> known_routines() { return kRoutines; }

bool Markers::may_hold(const KnownRoutine& routine) const {
  if (!routine.family) return unwinder.has_value();
  if (*routine.family == Family::Glibc) return libc;
  return any();
}

Markers read_markers(const ElfObject& elf) {
  Markers markers;
  markers.gnu_libunwind = elf.find_symbol("_Ux86_64_setcontext").has_value();
  markers.libc = elf.find_symbol("__libc_start_main").has_value();
  // An unwinder implements the whole C++ ABI unwinding API; a sanitizer runtime intercepts
  // _Unwind_RaiseException alone and forwards it.
  if (elf.find_symbol("_Unwind_RaiseException") && elf.find_symbol("_Unwind_GetIP"))
    markers.unwinder = unwinder_family(elf, markers.gnu_libunwind);
  return markers;
}

}  // namespace ut::analysis
