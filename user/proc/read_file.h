// Whole files read with plain system calls (binary-safe; /proc files report size 0, so the
// size is never trusted).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace ut::proc {

// nullopt if the file does not exist. Throws UserError: Privileges when not readable (run as
// root), Internal for any other failure.
std::optional<std::string> read_file_if_exists(const std::string& path);

// /proc/PID/<name>. Throws UserError(Target) when there is no such process, as above otherwise.
std::string read_proc_file(pid_t pid, std::string_view name);

}  // namespace ut::proc
