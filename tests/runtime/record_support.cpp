#include "record_support.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>

#include <fmt/format.h>

#include "runtime_support.h"

namespace ut::runtime_test {

namespace fs = std::filesystem;

RecordRun::RecordRun(const std::vector<std::string>& args, RecordRunOptions options) {
  static std::atomic<int> runs{0};
  dir_ = fs::temp_directory_path() / fmt::format("ut-record-{}-{}", getpid(), runs++);
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  std::vector<std::string> argv;
  if (options.file_size_limit) argv = {"prlimit", fmt::format("--fsize={}", options.file_size_limit), "--"};
  for (const auto& arg : {tool_path(), std::string("record"), std::string("--output"), dir_.string()})
    argv.push_back(arg);
  if (!options.notes) argv.push_back("-q");
  argv.insert(argv.end(), args.begin(), args.end());
  child_ = std::make_unique<proc::ChildProcess>(argv);
}

RecordRun::~RecordRun() {
  child_.reset();  // kills a run still going
  fs::remove_all(dir_);
}

std::vector<nlohmann::json> RecordRun::records() const {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir_)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<nlohmann::json> out;
  for (const auto& file : files) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

nlohmann::json RecordRun::last_process_record(pid_t pid) const {
  nlohmann::json last;
  for (auto& record : records())
    if (record["kind"] == "process" && record["pid"] == pid) last = std::move(record);
  return last;
}

bool RecordRun::wait_for_note(const std::string& text, double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    auto line = child_->read_stderr_line(left);
    if (!line) return false;
    if (line->find(text) != std::string::npos) return true;
  }
}

}  // namespace ut::runtime_test
