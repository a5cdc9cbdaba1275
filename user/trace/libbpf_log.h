// libbpf's own messages (verifier logs, attach warnings) go through here: shown with --verbose,
// otherwise kept so an error can show the lines that explain it.
#pragma once

#include <string>

namespace ut::trace {

void install_libbpf_log();
void set_libbpf_verbose(bool verbose);
// The warnings libbpf printed since the last call (empty when verbose already showed them).
std::string take_libbpf_warnings();

}  // namespace ut::trace
