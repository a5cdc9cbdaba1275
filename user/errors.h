// Errors that end a command: a one-line message saying what failed and what to do, and the
// documented exit code. Commands throw UserError; main() prints it and exits with its code.
#pragma once

#include <stdexcept>
#include <string>

namespace ut {

// Documented in README.md ("Exit codes"). Keep the two in sync.
enum class ExitCode : int {
  Ok = 0,
  Internal = 1,       // a bug or an unexpected system failure
  Usage = 2,          // bad command line
  Target = 3,         // no such process, or it cannot be inspected
  Privileges = 4,     // not root and missing capabilities
  KernelFeature = 5,  // BPF load/attach failed: a kernel feature is missing
  Exposed = 6,        // a gate (e.g. --fail-on-hit) tripped
};

class UserError : public std::runtime_error {
 public:
  UserError(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

}  // namespace ut
