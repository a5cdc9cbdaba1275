#include "proc/process_maps.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "errors.h"

namespace ut::proc {

std::optional<uint64_t> Mapping::address_of_file_offset(uint64_t offset) const {
  if (offset < file_offset || offset - file_offset >= end - start) return std::nullopt;
  return start + (offset - file_offset);
}

std::vector<Mapping> parse_maps(std::string_view text) {
  std::vector<Mapping> out;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    Mapping m;
    char perms[8] = {};
    unsigned dev_major = 0, dev_minor = 0;
    int path_at = 0;
    unsigned long long start = 0, end = 0, offset = 0, inode = 0;
    if (sscanf(line.c_str(), "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &offset,
               &dev_major, &dev_minor, &inode, &path_at) < 7)
      continue;
    m.start = start;
    m.end = end;
    m.file_offset = offset;
    m.inode = inode;
    m.perms = perms;
    if (path_at > 0 && static_cast<size_t>(path_at) < line.size()) m.path = line.substr(path_at);
    constexpr std::string_view kDeleted = " (deleted)";
    if (m.path.size() > kDeleted.size() && m.path.ends_with(kDeleted)) {
      m.deleted = true;
      m.path.resize(m.path.size() - kDeleted.size());
    }
    if (!m.path.empty() && m.path.front() != '/') m.path.clear();  // [heap], [vdso], ...
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<Mapping> read_maps(pid_t pid) {
  std::string path = fmt::format("/proc/{}/maps", pid);
  std::ifstream in(path);
  if (!in) {
    int err = errno;
    throw UserError(ExitCode::Target,
                    err == ENOENT ? fmt::format("no process with PID {}", pid)
                                  : fmt::format("cannot read {}: {}: run as root", path, strerror(err)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_maps(text.str());
}

const Mapping* mapping_containing(const std::vector<Mapping>& maps, uint64_t address) {
  for (const auto& m : maps)
    if (address >= m.start && address < m.end) return &m;
  return nullptr;
}

}  // namespace ut::proc
