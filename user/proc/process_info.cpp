#include "proc/process_info.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "errors.h"

namespace ut::proc {

namespace {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<std::pair<uint64_t, char>> parse_stat_start(const std::string& stat_text) {
  // comm may contain spaces and parentheses: fields resume after the last ')'.
  auto close = stat_text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat_text.substr(close + 1));
  char state = 0;
  fields >> state;
  std::string skip;
  for (int field = 4; field < 22 && fields; ++field) fields >> skip;
  uint64_t start = 0;
  if (!(fields >> start)) return std::nullopt;
  return std::make_pair(start, state);
}

ProcessInfo read_process_info(pid_t pid) {
  auto stat = read_text(fmt::format("/proc/{}/stat", pid));
  auto parsed = stat ? parse_stat_start(*stat) : std::nullopt;
  if (!parsed) throw UserError(ExitCode::Target, fmt::format("no process with PID {}", pid));
  ProcessInfo info;
  info.pid = pid;
  info.start_ticks = parsed->first;
  if (auto comm = read_text(fmt::format("/proc/{}/comm", pid))) {
    info.comm = *comm;
    while (!info.comm.empty() && info.comm.back() == '\n') info.comm.pop_back();
  }
  char exe[PATH_MAX];
  ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), exe, sizeof(exe) - 1);
  if (n > 0) info.exe.assign(exe, static_cast<size_t>(n));
  // A kernel thread has no exe (ENOENT); another user's process hides it without privileges.
  int err = errno;
  if (n < 0 && (err == EACCES || err == EPERM))
    throw UserError(ExitCode::Privileges,
                    fmt::format("cannot inspect PID {}: {}: run as root (another user's process needs "
                                "CAP_SYS_PTRACE)",
                                pid, std::strerror(err)));
  return info;
}

bool process_alive(const ProcessInfo& info) {
  auto stat = read_text(fmt::format("/proc/{}/stat", info.pid));
  auto parsed = stat ? parse_stat_start(*stat) : std::nullopt;
  return parsed && parsed->first == info.start_ticks && parsed->second != 'Z' && parsed->second != 'X';
}

bool process_exiting(const ProcessInfo& info) {
  if (!process_alive(info)) return true;
  char exe[PATH_MAX];
  // /proc/PID/exe follows the memory map: ENOENT once exit has released it.
  return !info.exe.empty() && readlink(fmt::format("/proc/{}/exe", info.pid).c_str(), exe, sizeof(exe)) < 0 &&
         errno == ENOENT;
}

}  // namespace ut::proc
