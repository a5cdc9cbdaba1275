// Appends records as JSON Lines to files in a directory, rotating by size and age. Each line goes
// out in one write() to an O_APPEND file; a short write is cut back off, so a line is complete
// or absent, even when the disk fills or the tracer dies mid-line. Files are created 0640.
// Records that cannot be written are counted (dropped()), never silently lost: the first
// failure of a run of failures prints one line to stderr.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace ut::output {

struct RotationPolicy {
  uint64_t max_bytes = 64ull << 20;  // start a new file before one would exceed this
  double max_age_s = 3600;           // or once the file is this old
};

class RecordWriter {
 public:
  // `directory` "-" writes to stdout (no rotation): for a log pipeline that collects stdout.
  // `name_tag` (the hostname) goes into file names so files from many hosts can share a directory.
  // Throws UserError(Usage) when the directory does not exist or is not writable.
  RecordWriter(std::string directory, RotationPolicy policy, std::string name_tag);
  ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // False when the record was dropped (and counted).
  bool write(const nlohmann::json& record);

  uint64_t written() const { return written_; }
  uint64_t dropped() const { return dropped_; }
  const std::string& current_path() const { return path_; }
  size_t files_opened() const { return files_opened_; }

 private:
  std::string directory_;
  RotationPolicy policy_;
  std::string name_tag_;
  int fd_ = -1;
  bool owns_fd_ = false;
  std::string path_;
  uint64_t size_ = 0;
  std::chrono::steady_clock::time_point opened_at_{};
  size_t files_opened_ = 0;
  uint64_t written_ = 0;
  uint64_t dropped_ = 0;
  bool failing_ = false;  // inside a run of failures: already said so

  bool open_next_file();
  void close_file();
  bool drop(const std::string& what, int err);
};

}  // namespace ut::output
