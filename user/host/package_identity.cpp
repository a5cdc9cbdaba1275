#include "host/package_identity.h"

#include <dirent.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "errors.h"
#include "proc/read_file.h"

namespace ut::host {

namespace {

// Calls line(text) for each line of `text`, without the newline.
template <typename Line>
void for_each_line(std::string_view text, Line line) {
  while (!text.empty()) {
    auto end = text.find('\n');
    line(text.substr(0, end));
    if (end == std::string_view::npos) return;
    text.remove_prefix(end + 1);
  }
}

// dpkg's status file: one stanza per package; the .list files are named "package" or, for
// Multi-Arch: same packages, "package:arch". Both names map to the stanza.
std::unordered_map<std::string, uint32_t> read_status(std::string_view text,
                                                     std::vector<PackageIdentity>& packages) {
  std::unordered_map<std::string, uint32_t> by_name;
  PackageIdentity stanza;
  auto finish = [&] {
    if (!stanza.package.empty()) {
      auto index = static_cast<uint32_t>(packages.size());
      by_name.try_emplace(stanza.package + ":" + stanza.architecture, index);
      by_name.try_emplace(stanza.package, index);
      packages.push_back(std::move(stanza));
    }
    stanza = {};
  };
  for_each_line(text, [&](std::string_view line) {
    if (line.empty()) return finish();
    auto field = [&](std::string_view name) -> std::optional<std::string> {
      if (!line.starts_with(name) || line.substr(name.size(), 2) != ": ") return std::nullopt;
      return std::string(line.substr(name.size() + 2));
    };
    if (auto v = field("Package")) stanza.package = *v;
    else if (auto v = field("Version")) stanza.version = *v;
    else if (auto v = field("Architecture")) stanza.architecture = *v;
  });
  finish();
  return by_name;
}

std::vector<std::string> list_files(const std::string& info_dir) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(info_dir.c_str()), closedir);
  if (!dir) {
    if (errno == ENOENT) return names;
    throw UserError(ExitCode::Internal, fmt::format("cannot list {}: {}; check the dpkg database",
                                                    info_dir, std::strerror(errno)));
  }
  errno = 0;
  while (dirent* entry = readdir(dir.get())) {
    std::string_view name = entry->d_name;
    if (name.size() > 5 && name.ends_with(".list")) names.emplace_back(name);
  }
  if (errno != 0)
    throw UserError(ExitCode::Internal, fmt::format("cannot list {}: {}; check the dpkg database",
                                                    info_dir, std::strerror(errno)));
  return names;
}

}  // namespace

PackageIndex::PackageIndex(std::string dpkg_dir) : dpkg_dir_(std::move(dpkg_dir)) {}

void PackageIndex::build() {
  auto status = proc::read_file_if_exists(dpkg_dir_ + "/status");
  if (!status) return;  // not a dpkg system: no file has a package
  auto by_name = read_status(*status, packages_);
  std::string info_dir = dpkg_dir_ + "/info";
  auto names = list_files(info_dir);
  owners_.reserve(names.size() * 200);
  for (const auto& name : names) {
    auto package = by_name.find(name.substr(0, name.size() - 5));
    if (package == by_name.end()) continue;  // a leftover of a package dpkg no longer has
    auto text = proc::read_file_if_exists(info_dir + "/" + name);
    if (!text) continue;  // removed while we listed the directory
    for_each_line(lists_.emplace_back(std::move(*text)), [&](std::string_view path) {
      if (path.starts_with('/')) owners_.try_emplace(path, package->second);
    });
  }
}

std::optional<uint32_t> PackageIndex::lookup(const std::string& path) const {
  auto it = owners_.find(path);
  if (it != owners_.end()) return it->second;
  if (auto twin = merged_usr_twin(path); twin && (it = owners_.find(*twin)) != owners_.end())
    return it->second;
  return std::nullopt;
}

std::optional<PackageIdentity> PackageIndex::owner(const std::string& path) {
  std::call_once(built_, [this] { build(); });
  auto found = lookup(path);
  if (!found) {
    // dpkg lists the name it installed; the caller may hold another (a symlink's target, or a
    // path through /proc/PID/root): compare the file's real name too.
    std::unique_ptr<char, decltype(&std::free)> real(realpath(path.c_str(), nullptr), std::free);
    if (real) found = lookup(real.get());
  }
  if (!found) return std::nullopt;
  return packages_[*found];
}

std::string upstream_version(std::string_view debian_version) {
  if (auto colon = debian_version.find(':'); colon != std::string_view::npos)
    debian_version.remove_prefix(colon + 1);
  if (auto dash = debian_version.rfind('-'); dash != std::string_view::npos)
    debian_version = debian_version.substr(0, dash);
  return std::string(debian_version);
}

std::optional<std::string> merged_usr_twin(std::string_view path) {
  static constexpr std::array<std::string_view, 6> kMerged{"bin", "sbin", "lib",
                                                          "lib32", "lib64", "libx32"};
  bool under_usr = path.starts_with("/usr/");
  std::string_view rest = under_usr ? path.substr(4) : path;  // "/lib/x86_64-linux-gnu/..."
  for (std::string_view dir : kMerged)
    if (rest.size() > dir.size() + 1 && rest[0] == '/' && rest.substr(1, dir.size()) == dir &&
        rest[dir.size() + 1] == '/')
      return under_usr ? std::string(rest) : "/usr" + std::string(path);
  return std::nullopt;
}

}  // namespace ut::host
