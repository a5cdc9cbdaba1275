// Which Debian package installed a file, from dpkg's own database: info/*.list (the files of
// each package) and status (the version and architecture of each installed package).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ut::host {

struct PackageIdentity {
  std::string package;       // e.g. "libunwind8"
  std::string version;       // Debian version, e.g. "1.6.2-3"
  std::string architecture;  // e.g. "amd64"
};

class PackageIndex {
 public:
  explicit PackageIndex(std::string dpkg_dir = "/var/lib/dpkg");

  // The package owning `path` (a path this process can open: through /proc/PID/root for
  // another process's files, so a container's file is not taken for the host's). Follows
  // symlinks, and Debian 12's merged /usr: /lib/x and /usr/lib/x are the same file. nullopt
  // when dpkg does not know the file or there is no dpkg database. The first call reads the
  // database (tens of milliseconds); later calls are hash lookups. Thread-safe.
  std::optional<PackageIdentity> owner(const std::string& path);

 private:
  void build();
  std::optional<uint32_t> lookup(const std::string& path) const;

  std::string dpkg_dir_;
  std::once_flag built_;
  std::deque<std::string> lists_;  // contents of info/*.list: the keys below point into them
  std::unordered_map<std::string_view, uint32_t> owners_;  // path -> index into packages_
  std::vector<PackageIdentity> packages_;
};

// "1:14.0.6-12" -> "14.0.6": the upstream version inside a Debian version (no epoch, no
// Debian revision).
std::string upstream_version(std::string_view debian_version);

// The same file's name on the other side of the merged-/usr symlinks (/lib/x <-> /usr/lib/x,
// also bin, sbin, lib32, lib64, libx32); nullopt for paths outside those directories.
std::optional<std::string> merged_usr_twin(std::string_view path);

}  // namespace ut::host
