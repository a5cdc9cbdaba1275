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

struct RecordRunOptions {
  size_t file_size_limit = 0;  // run under `prlimit --fsize` (a full disk, without needing one)
  bool notes = false;          // without -q: its per-process lines on stderr, for wait_for_note()
};

class RecordRun {
 public:
  // `unwindtrace record --output DIR [-q] ARGS...`
  explicit RecordRun(const std::vector<std::string>& args, RecordRunOptions options = {});
  ~RecordRun();
  proc::ChildProcess& process() { return *child_; }
  const std::filesystem::path& directory() const { return dir_; }
  // Every record written so far, across the rotated files, in file order.
  std::vector<nlohmann::json> records() const;
  // The last process record for `pid`, or null.
  nlohmann::json last_process_record(pid_t pid) const;
  // Reads stderr (a run with `notes`) until a line containing `text`; false on EOF or timeout.
  // What a test waits on instead of sleeping: under load, tracing a process can take seconds.
  bool wait_for_note(const std::string& text, double timeout_s);

 private:
  std::filesystem::path dir_;
  std::unique_ptr<proc::ChildProcess> child_;
};

}  // namespace ut::runtime_test
