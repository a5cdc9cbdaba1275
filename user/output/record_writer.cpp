#include "output/record_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "errors.h"

namespace ut::output {

namespace {

constexpr mode_t kRecordFileMode = 0640;

std::string file_name_safe(const std::string& text) {
  std::string out;
  for (char c : text) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return out.empty() ? "host" : out;
}

}  // namespace

RecordWriter::RecordWriter(std::string directory, RotationPolicy policy, std::string name_tag)
    : directory_(std::move(directory)), policy_(policy), name_tag_(file_name_safe(name_tag)) {
  if (directory_ == "-") {
    fd_ = STDOUT_FILENO;
    path_ = directory_;  // "-"
    return;
  }
  struct stat st {};
  if (stat(directory_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw UserError(ExitCode::Usage, fmt::format("--output {}: not a directory; create it first", directory_));
  if (access(directory_.c_str(), W_OK | X_OK) != 0)
    throw UserError(ExitCode::Usage, fmt::format("--output {}: not writable ({}); choose another directory",
                                                 directory_, std::strerror(errno)));
}

RecordWriter::~RecordWriter() { close_file(); }

void RecordWriter::close_file() {
  if (owns_fd_ && fd_ >= 0) close(fd_);
  fd_ = -1;
  owns_fd_ = false;
}

bool RecordWriter::open_next_file() {
  close_file();
  auto now = std::chrono::system_clock::now();
  // The sequence number keeps names unique when rotation is faster than the clock's second.
  path_ = fmt::format("{}/unwindtrace-{}-{:%Y%m%dT%H%M%SZ}-{}-{}.jsonl", directory_, name_tag_,
                      fmt::gmtime(std::chrono::system_clock::to_time_t(now)), getpid(), files_opened_);
  int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, kRecordFileMode);
  if (fd < 0) return false;
  if (fchmod(fd, kRecordFileMode) != 0) {  // the umask could only have narrowed it; make it exact
    int err = errno;
    close(fd);
    errno = err;
    return false;
  }
  fd_ = fd;
  owns_fd_ = true;
  size_ = 0;
  opened_at_ = std::chrono::steady_clock::now();
  ++files_opened_;
  return true;
}

bool RecordWriter::drop(const std::string& what, int err) {
  ++dropped_;
  if (!failing_)
    fmt::print(stderr, "unwindtrace: error: {}: {}; dropping records until it works again (counted in "
               "the report and the metrics)\n", what, std::strerror(err));
  failing_ = true;
  return false;
}

bool RecordWriter::write(const nlohmann::json& record) {
  std::string line = record.dump() + "\n";
  if (directory_ != "-") {
    double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_at_).count();
    bool rotate = fd_ < 0 || (size_ > 0 && (size_ + line.size() > policy_.max_bytes || age >= policy_.max_age_s));
    if (rotate && !open_next_file()) return drop(fmt::format("cannot create a record file in {}", directory_), errno);
  }
  ssize_t n = ::write(fd_, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) {
    int err = n < 0 ? errno : ENOSPC;
    // A partial line would break the file for every reader: cut it back off.
    if (n > 0 && owns_fd_ && ftruncate(fd_, static_cast<off_t>(size_)) != 0) close_file();
    return drop(fmt::format("cannot write a record to {}", path_), err);
  }
  size_ += line.size();
  ++written_;
  failing_ = false;
  return true;
}

}  // namespace ut::output
