#include "proc/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "errors.h"

namespace ut::proc {

namespace {

[[noreturn]] void fail(const std::string& path, int err) {
  bool denied = err == EACCES || err == EPERM;
  throw UserError(denied ? ExitCode::Privileges : ExitCode::Internal,
                  fmt::format("cannot read {}: {}{}", path, std::strerror(err),
                              denied ? ": run as root" : ""));
}

}  // namespace

std::optional<std::string> read_file_if_exists(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail(path, errno);
  }
  std::string text;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  int err = errno;
  close(fd);
  if (n < 0) fail(path, err);
  return text;
}

std::string read_proc_file(pid_t pid, std::string_view name) {
  auto text = read_file_if_exists(fmt::format("/proc/{}/{}", pid, name));
  if (!text) throw UserError(ExitCode::Target, fmt::format("no process with PID {}", pid));
  return std::move(*text);
}

}  // namespace ut::proc
