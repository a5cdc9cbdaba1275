// Another process's memory, read through /proc/PID/mem: how the dynamic linker's state and the
// GOT slots of a live process are read without stopping it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ut::proc {

class ProcessMemory {
 public:
  // Throws UserError: Target if the process is gone, Privileges if its memory is not readable.
  explicit ProcessMemory(pid_t pid);
  ~ProcessMemory();
  ProcessMemory(const ProcessMemory&) = delete;
  ProcessMemory& operator=(const ProcessMemory&) = delete;

  // Throws AnalysisError naming the address when the bytes are not mapped (or the process died).
  void read(uint64_t address, void* out, size_t len) const;
  template <typename T>
  T read(uint64_t address) const {
    T value;
    read(address, &value, sizeof value);
    return value;
  }
  // A NUL-terminated string of at most max_len bytes (longer ones are an AnalysisError).
  std::string read_string(uint64_t address, size_t max_len = 4096) const;

 private:
  pid_t pid_;
  int fd_ = -1;
};

}  // namespace ut::proc
