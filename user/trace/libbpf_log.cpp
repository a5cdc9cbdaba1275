#include "trace/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace ut::trace {

namespace {

std::mutex log_mutex;
bool verbose_log = false;
std::string pending_warnings;

int print_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !verbose_log) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), format, args);
  std::lock_guard lock(log_mutex);
  if (verbose_log)
    fputs(line, stderr);
  else
    pending_warnings += line;
  return n;
}

}  // namespace

void install_libbpf_log() { libbpf_set_print(print_libbpf); }

void set_libbpf_verbose(bool verbose) {
  std::lock_guard lock(log_mutex);
  verbose_log = verbose;
}

std::string take_libbpf_warnings() {
  std::lock_guard lock(log_mutex);
  std::string out;
  out.swap(pending_warnings);
  return out;
}

}  // namespace ut::trace
