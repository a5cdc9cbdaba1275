#include "proc/process_container.h"

#include <cctype>
#include <charconv>
#include <sstream>

#include "proc/read_file.h"

namespace ut::proc {

namespace {

constexpr size_t kContainerIdDigits = 64;

// The first run of exactly kContainerIdDigits hex digits in `component`.
std::string hex_run(std::string_view component) {
  size_t i = 0;
  while (i < component.size()) {
    size_t start = i;
    while (i < component.size() && std::isxdigit(static_cast<unsigned char>(component[i]))) ++i;
    if (i - start == kContainerIdDigits) return std::string(component.substr(start, i - start));
    if (i == start) ++i;
  }
  return "";
}

}  // namespace

std::optional<int> innermost_nspid(std::string_view status_text) {
  std::istringstream lines{std::string(status_text)};
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("NSpid:")) continue;
    std::istringstream fields(line.substr(6));
    std::string field, last;
    while (fields >> field) last = field;
    int pid = 0;
    auto [end, ec] = std::from_chars(last.data(), last.data() + last.size(), pid);
    if (ec != std::errc() || end != last.data() + last.size() || pid <= 0) return std::nullopt;
    return pid;
  }
  return std::nullopt;
}

std::string cgroup_path(std::string_view cgroup_text) {
  std::istringstream lines{std::string(cgroup_text)};
  std::string line, unified, legacy;
  while (std::getline(lines, line)) {
    auto first_colon = line.find(':');
    if (first_colon == std::string::npos) continue;
    auto second_colon = line.find(':', first_colon + 1);
    if (second_colon == std::string::npos) continue;
    std::string path = line.substr(second_colon + 1);
    if (line.starts_with("0::")) unified = path;
    else if (legacy.empty() && path != "/") legacy = path;
  }
  // A hybrid host keeps containers in the v1 hierarchies while the unified one says "/".
  return (unified.empty() || unified == "/") && !legacy.empty() ? legacy : unified;
}

std::string container_id_from_cgroup(std::string_view path) {
  while (!path.empty()) {
    auto slash = path.rfind('/');
    std::string_view component = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (auto id = hex_run(component); !id.empty()) return id;
    if (slash == std::string_view::npos) break;
    path = path.substr(0, slash);
  }
  return "";
}

ProcessPlacement read_process_placement(pid_t pid) {
  ProcessPlacement placement;
  try {
    auto nspid = innermost_nspid(read_proc_file(pid, "status"));
    if (nspid && *nspid != pid) placement.namespace_pid = nspid;
    placement.cgroup = cgroup_path(read_proc_file(pid, "cgroup"));
    placement.container_id = container_id_from_cgroup(placement.cgroup);
  } catch (const std::exception&) {
    // the process went away: what was read so far stands
  }
  return placement;
}

}  // namespace ut::proc
