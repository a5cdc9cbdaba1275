#include "proc/process_memory.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "analysis/analysis_error.h"
#include "errors.h"

namespace ut::proc {

ProcessMemory::ProcessMemory(pid_t pid) : pid_(pid) {
  std::string path = fmt::format("/proc/{}/mem", pid);
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ >= 0) return;
  int err = errno;
  if (err == ENOENT) throw UserError(ExitCode::Target, fmt::format("no process with PID {}", pid));
  if (err == ESRCH)  // the process has no address space
    throw UserError(ExitCode::Target,
                    fmt::format("PID {} has no user-space memory (a kernel thread?); nothing to "
                                "inspect",
                                pid));
  throw UserError(err == EACCES || err == EPERM ? ExitCode::Privileges : ExitCode::Target,
                  fmt::format("cannot read {}: {}: run as root (reading another process's "
                              "memory needs CAP_SYS_PTRACE)",
                              path, std::strerror(err)));
}

ProcessMemory::~ProcessMemory() {
  if (fd_ >= 0) close(fd_);
}

void ProcessMemory::read(uint64_t address, void* out, size_t len) const {
  auto* bytes = static_cast<char*>(out);
  for (size_t done = 0; done < len;) {
    ssize_t n = pread(fd_, bytes + done, len - done, static_cast<off_t>(address + done));
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    // 0 bytes: the process has exited (its memory is gone); -1: the address is not mapped.
    throw analysis::AnalysisError(fmt::format(
        "PID {}: cannot read {} bytes at {:#x} of its memory: {}", pid_, len, address,
        n == 0 ? "the process has exited" : std::strerror(errno)));
  }
}

std::string ProcessMemory::read_string(uint64_t address, size_t max_len) const {
  constexpr uint64_t kPage = 4096;
  std::string text;
  for (uint64_t at = address; text.size() < max_len;) {
    // Never read across a page boundary: the string may end just before an unmapped page.
    char chunk[256];
    size_t len = std::min<uint64_t>(sizeof chunk, kPage - at % kPage);
    read(at, chunk, len);
    const char* end = static_cast<const char*>(std::memchr(chunk, '\0', len));
    text.append(chunk, end ? static_cast<size_t>(end - chunk) : len);
    if (end) return text;
    at += len;
  }
  throw analysis::AnalysisError(fmt::format(
      "PID {}: the string at {:#x} is longer than {} bytes; its memory looks corrupt", pid_,
      address, max_len));
}

}  // namespace ut::proc
