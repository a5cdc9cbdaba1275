// Report files are complete or absent: written beside the target, then renamed over it.
#pragma once

#include <string>

namespace ut::output {

// Throws UserError(Usage) saying which file cannot be written and why.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace ut::output
