// The one table of routines known to switch stacks when resuming a context: who ships them and
// what they do. They are only entry points for the window analysis, never its answer.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "analysis/elf_object.h"

namespace ut::analysis {

enum class Family {
  GnuLibunwind,
  LlvmLibunwind,
  Libgcc,
  UnknownUnwinder,  // defines _Unwind_RaiseException, but none of the others' markers
  Glibc,
  User,             // named by the user (--routine OBJ:SYMBOL)
};

// "GNU libunwind", "LLVM libunwind", "libgcc", "unknown unwinder", "glibc", "user".
const char* to_string(Family family);

// C++ exceptions can resume through it: a window there is an exposure.
bool is_unwinder(Family family);

struct KnownRoutine {
  std::string_view symbol;
  // nullopt for the unwinding API every unwinder exports (_Unwind_RaiseException, ...): it
  // belongs to the family of the object that defines it.
  std::optional<Family> family;
  std::string_view role;
  // The symbol's own code does not switch: a routine it calls directly does (glibc's longjmp
  // calls its internal __longjmp, absent from a stripped libc's symbol tables).
  bool switch_in_callee = false;
};

std::span<const KnownRoutine> known_routines();

// Which table routines an object can hold, from a few marker symbols: every object holding one
// defines a marker, so any other object costs those lookups and no more.
struct Markers {
  std::optional<Family> unwinder;  // implements _Unwind_RaiseException: which one
  bool gnu_libunwind = false;      // defines _Ux86_64_setcontext (even without the C++ API)
  bool libc = false;               // defines __libc_start_main: libc.so.6 or a static program

  bool any() const { return unwinder || gnu_libunwind || libc; }
  // Worth looking up here: glibc's names only in a libc (sanitizers intercept them), the
  // unwinding API only in an unwinder.
  bool may_hold(const KnownRoutine& routine) const;
};

Markers read_markers(const ElfObject& elf);

}  // namespace ut::analysis
