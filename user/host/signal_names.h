// Signal names both ways, as `--signal` takes them and reports print them.
#pragma once

#include <optional>
#include <string>

namespace ut::host {

// "PROF", "SIGPROF", "sigprof", "27", "RTMIN", "RTMIN+2" -> number; nullopt if unknown.
std::optional<int> parse_signal(const std::string& text);

// "SIGPROF", "SIGRTMIN+2"; "signal N" for numbers without a name.
std::string signal_name(int sig);

// Signals validate must not inject: uncatchable ones, and those a crash is recognised by.
bool crash_signal(int sig);
bool injectable_signal(int sig);

}  // namespace ut::host
