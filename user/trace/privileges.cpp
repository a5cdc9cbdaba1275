#include "trace/privileges.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "errors.h"

namespace ut::trace {

namespace {

// CAP_BPF and CAP_PERFMON are newer than some libc headers.
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

bool has_effective(const __user_cap_data_struct (&data)[2], int cap) {
  return (data[cap / 32].effective >> (cap % 32)) & 1u;
}

}  // namespace

std::vector<std::string> missing_tracing_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return {"(capget failed: cannot tell)"};
  std::vector<std::string> missing;
  if (!has_effective(data, kCapBpf)) missing.push_back("CAP_BPF");
  if (!has_effective(data, kCapPerfmon)) missing.push_back("CAP_PERFMON");
  if (!has_effective(data, CAP_SYS_PTRACE)) missing.push_back("CAP_SYS_PTRACE");
  return missing;
}

void require_tracing_privileges(const std::string& command) {
  auto missing = missing_tracing_capabilities();
  if (missing.empty()) return;
  throw UserError(ExitCode::Privileges,
                  fmt::format("{} needs {} (missing: {}): run it as root, e.g. sudo unwindtrace {} ...",
                              command, "CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE",
                              fmt::join(missing, ", "), command));
}

}  // namespace ut::trace
