#include "record_support.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>

#include <fmt/format.h>

#include "runtime_support.h"

namespace ut::runtime_test {

namespace fs = std::filesystem;

RecordRun::RecordRun(const std::vector<std::string>& args, size_t file_size_limit) {
  static std::atomic<int> runs{0};
  dir_ = fs::temp_directory_path() / fmt::format("ut-record-{}-{}", getpid(), runs++);
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  std::vector<std::string> argv;
  if (file_size_limit) argv = {"prlimit", fmt::format("--fsize={}", file_size_limit), "--"};
  for (const auto& arg : {tool_path(), std::string("record"), std::string("--output"), dir_.string(), std::string("-q")})
    argv.push_back(arg);
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

}  // namespace ut::runtime_test
