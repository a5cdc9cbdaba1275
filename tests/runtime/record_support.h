// Shared by the host-mode tests: `unwindtrace record` started on chosen processes with records
// going to a temporary directory, and the records read back.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "proc/child_process.h"

namespace ut::runtime_test {

class RecordRun {
 public:
  // `unwindtrace record --output DIR -q ARGS...`; with `file_size_limit`, under `prlimit --fsize`
  // (a full disk, without needing one).
  explicit RecordRun(const std::vector<std::string>& args, size_t file_size_limit = 0);
  ~RecordRun();
  proc::ChildProcess& process() { return *child_; }
  const std::filesystem::path& directory() const { return dir_; }
  // Every record written so far, across the rotated files, in file order.
  std::vector<nlohmann::json> records() const;
  // The last process record for `pid`, or null.
  nlohmann::json last_process_record(pid_t pid) const;

 private:
  std::filesystem::path dir_;
  std::unique_ptr<proc::ChildProcess> child_;
};

}  // namespace ut::runtime_test
