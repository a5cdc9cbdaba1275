#include "host/signal_names.h"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace ut::host {

namespace {

std::optional<int> parse_number(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<int> parse_signal(const std::string& text) {
  if (auto n = parse_number(text)) return *n >= 1 && *n <= SIGRTMAX ? n : std::nullopt;
  std::string name(text.size(), ' ');
  std::transform(text.begin(), text.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  if (name.starts_with("SIG")) name.erase(0, 3);
  if (name.starts_with("RTMIN")) {
    auto extra = name.size() == 5 ? std::optional<int>(0)
                 : name[5] == '+' ? parse_number(std::string_view(name).substr(6))
                                  : std::nullopt;
    if (!extra || SIGRTMIN + *extra > SIGRTMAX) return std::nullopt;
    return SIGRTMIN + *extra;
  }
  if (name.starts_with("RTMAX")) {
    auto fewer = name.size() == 5 ? std::optional<int>(0)
                 : name[5] == '-' ? parse_number(std::string_view(name).substr(6))
                                  : std::nullopt;
    if (!fewer || SIGRTMAX - *fewer < SIGRTMIN) return std::nullopt;
    return SIGRTMAX - *fewer;
  }
  for (int sig = 1; sig < SIGRTMIN; ++sig)
    if (const char* abbrev = sigabbrev_np(sig); abbrev && name == abbrev) return sig;
  return std::nullopt;
}

std::string signal_name(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX)
    return sig == SIGRTMIN ? "SIGRTMIN" : fmt::format("SIGRTMIN+{}", sig - SIGRTMIN);
  const char* abbrev = sig > 0 ? sigabbrev_np(sig) : nullptr;
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

bool crash_signal(int sig) {
  switch (sig) {
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP:
    case SIGABRT:
    case SIGSYS:
      return true;
    default:
      return false;
  }
}

bool injectable_signal(int sig) {
  // glibc keeps 32 and 33 for itself (thread cancellation, setxid).
  return sig != SIGKILL && sig != SIGSTOP && !crash_signal(sig) && (sig < 32 || sig >= SIGRTMIN);
}

}  // namespace ut::host
