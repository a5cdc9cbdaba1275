#include "runtime_support.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/object_analysis.h"
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
  if (attached_) bpf_objects_ = bpf_objects_held_by(child_->pid());
}

Tracer::~Tracer() { std::filesystem::remove(json_path_); }

std::optional<int> Tracer::finish(double timeout_s) {
  auto status = child_->wait(timeout_s);
  if (!status) {  // killed, so that its output can be read to the end: the test fails, not hangs
    child_->send_signal(SIGKILL);
    child_->wait(10);
  }
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
    std::string type;
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("link_type:")) type = line.substr(line.find_first_not_of(" \t", 10));
      if (line.starts_with("event_type:")) type += " " + line.substr(line.find_first_not_of(" \t", 11));
    }
    if (!type.empty()) types.push_back(type);
  }
  return types;
}

void BpfObjectIds::merge(const BpfObjectIds& other) {
  programs.insert(other.programs.begin(), other.programs.end());
  links.insert(other.links.begin(), other.links.end());
  maps.insert(other.maps.begin(), other.maps.end());
}

std::string BpfObjectIds::describe() const {
  if (empty()) return "none";
  std::vector<std::string> parts;
  if (!programs.empty()) parts.push_back(fmt::format("programs {}", fmt::join(programs, " ")));
  if (!links.empty()) parts.push_back(fmt::format("links {}", fmt::join(links, " ")));
  if (!maps.empty()) parts.push_back(fmt::format("maps {}", fmt::join(maps, " ")));
  return fmt::format("{}", fmt::join(parts, ", "));
}

BpfObjectIds bpf_objects_held_by(pid_t pid) {
  BpfObjectIds ids;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(fmt::format("/proc/{}/fdinfo", pid), error)) {
    std::ifstream in(entry.path());
    std::string field;
    uint32_t id = 0;
    while (in >> field) {
      auto* set = field == "prog_id:" ? &ids.programs
                  : field == "link_id:" ? &ids.links
                  : field == "map_id:"  ? &ids.maps
                                        : nullptr;
      if (set && in >> id) set->insert(id);
    }
  }
  return ids;
}

nlohmann::json bpftool_json(const std::string& args) {
  FILE* pipe = popen(fmt::format("bpftool -j {} 2>/dev/null", args).c_str(), "r");
  if (!pipe) return nullptr;
  std::stringstream text;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.write(buffer, static_cast<std::streamsize>(n));
  pclose(pipe);
  return nlohmann::json::parse(text.str(), nullptr, false);
}

std::optional<size_t> map_entries(const BpfObjectIds& held, const std::string& name) {
  for (uint32_t id : held.maps) {
    auto map = bpftool_json(fmt::format("map show id {}", id));
    if (!map.is_object() || map.value("name", "") != name) continue;
    auto entries = bpftool_json(fmt::format("map dump id {}", id));
    if (entries.is_array()) return entries.size();
  }
  return std::nullopt;
}

namespace {

// IDs of every object of one kind the kernel has: kind is prog, link or map.
std::optional<std::set<uint32_t>> kernel_ids(const std::string& kind) {
  auto objects = bpftool_json(kind + " show");
  if (!objects.is_array()) return std::nullopt;
  std::set<uint32_t> ids;
  for (const auto& object : objects) ids.insert(object.value("id", 0u));
  return ids;
}

// Those of `wanted` found in `present`; all of them when bpftool failed (never a false "gone").
std::set<uint32_t> present_of(const std::set<uint32_t>& wanted, const std::optional<std::set<uint32_t>>& present) {
  if (!present) return wanted;
  std::set<uint32_t> out;
  for (uint32_t id : wanted)
    if (present->contains(id)) out.insert(id);
  return out;
}

}  // namespace

BpfObjectIds still_loaded(const BpfObjectIds& ids, double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    BpfObjectIds left;
    left.programs = present_of(ids.programs, kernel_ids("prog"));
    left.links = present_of(ids.links, kernel_ids("link"));
    left.maps = present_of(ids.maps, kernel_ids("map"));
    if (left.empty() || std::chrono::steady_clock::now() >= deadline) return left;
    usleep(50'000);
  }
}

std::optional<int> wait_recording_bpf_objects(proc::ChildProcess& child, double timeout_s,
                                              BpfObjectIds& held) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    held.merge(bpf_objects_held_by(child.pid()));
    if (auto status = child.wait(0.02)) return status;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
  }
}

std::vector<std::string> gnu_window_offsets() {
  std::vector<std::string> offsets;
  for (const auto& routine : analysis::analyse_object(kGnuLibunwind).routines)
    for (const auto& insn : routine.window.window) offsets.push_back(fmt::format("{:#x}", insn.offset));
  return offsets;
}

Workload injection_workload(const std::vector<std::string>& offsets, uint64_t per_offset,
                            const std::vector<std::string>& extra_args) {
  std::vector<std::string> args{"--signal-rate", "0", "--duration", "120", "--stop-after-window-hits",
                                std::to_string(per_offset * offsets.size()), "--window-offsets",
                                fmt::format("{}", fmt::join(offsets, ","))};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  return Workload("gnu", args);
}

}  // namespace ut::runtime_test
