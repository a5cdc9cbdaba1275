#include "runtime_support.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "trace/privileges.h"

namespace ut::runtime_test {

std::optional<std::string> why_cannot_trace() {
  auto missing = trace::missing_tracing_capabilities();
  if (missing.empty()) return std::nullopt;
  return "needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE)";
}

bool skipping_forbidden() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

std::string tool_path() { return UT_TOOL_PATH; }

std::string workload_path(const std::string& unwinder) {
  return std::string(UT_WORKLOAD_DIR) + "/unwindtrace-workload-" + unwinder;
}

Workload::Workload(const std::string& unwinder, const std::vector<std::string>& args) {
  std::vector<std::string> argv{workload_path(unwinder), "--wait-for-go", "--quiet"};
  argv.insert(argv.end(), args.begin(), args.end());
  child_ = std::make_unique<proc::ChildProcess>(argv);
  auto ready = child_->read_stdout_line(10);
  if (!ready || !ready->starts_with("ready "))
    throw std::runtime_error("workload did not start: " + child_->read_stderr_rest());
}

void Workload::go() { child_->write_stdin("go\n"); }

nlohmann::json Workload::finish(double timeout_s) {
  auto status = child_->wait(timeout_s);
  if (!status) throw std::runtime_error("workload did not finish in time");
  if (*status != 0)
    throw std::runtime_error("workload failed with status " + std::to_string(*status) + ": " +
                             child_->read_stderr_rest());
  return nlohmann::json::parse(child_->read_stdout_rest());
}

Tracer::Tracer(pid_t pid, const std::vector<std::string>& extra_args) {
  json_path_ = (std::filesystem::temp_directory_path() /
                ("unwindtrace-test-" + std::to_string(getpid()) + "-" + std::to_string(pid) + ".json"))
                   .string();
  std::vector<std::string> argv{tool_path(), "attach", "-p", std::to_string(pid), "--json", json_path_, "-q"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  child_ = std::make_unique<proc::ChildProcess>(argv);
  // The first stderr line says it attached, or why not (then the tool exits).
  auto line = child_->read_stderr_line(30);
  first_line_ = line.value_or("");
  attached_ = first_line_.find("attached to PID") != std::string::npos;
}

Tracer::~Tracer() { std::filesystem::remove(json_path_); }

std::optional<int> Tracer::finish(double timeout_s) {
  auto status = child_->wait(timeout_s);
  stdout_ = child_->read_stdout_rest();
  stderr_ = first_line_ + "\n" + child_->read_stderr_rest();
  std::ifstream in(json_path_);
  if (in) report_ = nlohmann::json::parse(in, nullptr, false);
  return status;
}

std::vector<std::string> bpf_link_types(pid_t pid) {
  std::vector<std::string> types;
  const std::filesystem::path fdinfo = "/proc/" + std::to_string(pid) + "/fdinfo";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(fdinfo, ec)) {
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);)
      if (line.starts_with("link_type:")) types.push_back(line.substr(line.find_first_not_of(" \t", 10)));
  }
  return types;
}

std::vector<std::string> loaded_unwindtrace_programs() {
  std::vector<std::string> names;
  FILE* pipe = popen("bpftool -j prog show 2>/dev/null", "r");
  if (!pipe) return names;
  std::stringstream text;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.write(buffer, static_cast<std::streamsize>(n));
  pclose(pipe);
  auto progs = nlohmann::json::parse(text.str(), nullptr, false);
  if (!progs.is_array()) return {"(bpftool -j prog show failed)"};
  for (const auto& prog : progs) {
    std::string name = prog.value("name", "");
    // The kernel keeps the first 15 characters of a program's name.
    if (name == "handle_resume" || name.starts_with("handle_signal_d") || name == "inject_signal" ||
        name == "check_slots" || name.starts_with("on_signal_deliv"))
      names.push_back(name);
  }
  return names;
}

}  // namespace ut::runtime_test
