#include "host/host_identity.h"

#include <fstream>
#include <sstream>

namespace ut::host {

namespace {

bool sizes_xsave_area(std::string_view flag) {
  for (std::string_view prefix : {"xsave", "avx", "amx", "pku", "mpx"})
    if (flag.starts_with(prefix)) return true;
  return false;
}

std::string first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

std::vector<std::string> xsave_features_from_cpuinfo(std::string_view cpuinfo) {
  std::vector<std::string> features;
  std::istringstream lines{std::string(cpuinfo)};
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("flags")) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream words(line.substr(colon + 1));
    std::string flag;
    while (words >> flag)
      if (sizes_xsave_area(flag)) features.push_back(flag);
    break;
  }
  return features;
}

HostIdentity read_host_identity() {
  HostIdentity identity;
  identity.info = read_host_info();
  identity.boot_id = first_line("/proc/sys/kernel/random/boot_id");
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::stringstream text;
  text << cpuinfo.rdbuf();
  identity.xsave_features = xsave_features_from_cpuinfo(text.str());
  return identity;
}

}  // namespace ut::host
