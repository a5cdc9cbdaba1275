// Where a process's C++ exceptions really unwind: the object libstdc++'s (or the program's)
// _Unwind_RaiseException binds to, named for people ("GNU libunwind 1.6.2").
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "host/package_identity.h"

namespace ut::proc {

struct ExceptionUnwinder {
  std::string path;    // as the process maps it
  std::string name;    // "GNU libunwind 1.6.2", "libgcc_s 12.2.0", ...
  std::string method;  // "got" (read from the process), "lookup-order" (predicted), "static"
  std::string note;
};

// nullopt when nothing in the process refers to _Unwind_RaiseException (no C++ exceptions).
// Throws UserError / AnalysisError like resolve_bindings.
std::optional<ExceptionUnwinder> exception_unwinder(pid_t pid, host::PackageIndex& packages);

// "/usr/lib/.../libunwind.so.8.0.1 (GNU libunwind 1.6.2, read from the GOT)"
std::string describe(const ExceptionUnwinder& unwinder);

}  // namespace ut::proc
