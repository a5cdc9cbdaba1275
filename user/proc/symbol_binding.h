// Which definition of a symbol a live process really uses: for C++ exceptions, which
// _Unwind_RaiseException (libgcc_s, GNU libunwind, LLVM libunwind) libstdc++'s calls reach.
// Read from the process's GOT where the dynamic linker has already bound the call; predicted
// from glibc's lookup order where it has not (lazy binding, before the first call).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/elf_object.h"
#include "host/package_identity.h"

namespace ut::proc {

struct SymbolBinding {
  std::string symbol;
  // The object whose reference was examined (e.g. .../libstdc++.so.6), as /proc/PID/maps
  // names it. An object calling its own export through its PLT (libgcc_s does) is a referrer
  // too: an earlier definition interposes it.
  std::string referrer;
  std::optional<std::string> bound_path;  // the definition's object; nullopt if none/unknown
  uint64_t bound_address = 0;              // its run-time address; 0 if unknown
  // "got": read from the referrer's GOT slot (exact). "lookup-order": not bound yet, predicted
  // from the lookup scope. "static": no dynamic reference; the executable contains its own.
  std::string method;
  std::vector<std::string> definers;  // objects defining it, in the referrer's lookup order
  std::string note;                   // anything a reader should know about this answer
};

// One binding per (symbol, object referring to it), symbols in the order given, referrers in
// link-map order; a symbol nothing refers to (a C program) has none. Throws UserError if the
// process cannot be inspected, AnalysisError if its dynamic linker state is unreadable.
std::vector<SymbolBinding> resolve_bindings(
    pid_t pid,
    const std::vector<std::string>& symbols = {"_Unwind_RaiseException", "_Unwind_Resume"});

// "GNU libunwind", "LLVM libunwind", "libgcc_s" (or "libgcc" linked in statically), from the
// symbols the object defines; nullopt for an object that is none of these.
std::optional<std::string> unwinder_family(const analysis::ElfObject& elf);

// The family with its version: "GNU libunwind 1.6.2" when dpkg knows the file (looked up by
// elf.path(), so open it through /proc/PID/root), else with its SONAME: "GNU libunwind
// (libunwind.so.8)"; "unknown unwinder (SONAME)" for an object of no known family.
std::string describe_unwinder(const analysis::ElfObject& elf, host::PackageIndex& packages);

}  // namespace ut::proc
