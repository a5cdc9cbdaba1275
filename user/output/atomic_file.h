// Report files are complete or absent: written beside the target, then renamed over it.
#pragma once

#include <string>

namespace ut::output {

// Throws UserError(Usage) saying which file cannot be written and why.
void write_file_atomically(const std::string& path, const std::string& text);

// Before the work starts (a trace may run for hours): throws UserError(Usage) with one line if
// `path` could not be written at the end: it is a directory, or its directory is missing or not
// writable. "-" (stdout) always passes.
void check_output_path(const std::string& path);

}  // namespace ut::output
