#include "analysis/analysis_cache.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "analysis/analysis_error.h"

namespace ut::analysis {

const AnalysisCache::Entry& AnalysisCache::get(const std::string& path) {
  ++lookups_;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    auto& entry = unreadable_[path];
    entry.error = fmt::format("{}: {}", path, std::strerror(errno));
    return entry;
  }
  FileIdentity identity{st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
  auto [it, inserted] = entries_.try_emplace(identity);
  if (!inserted) return it->second;
  ++analysed_;
  try {
    it->second.analysis = std::make_shared<const ObjectAnalysis>(analyse_object(path));
  } catch (const AnalysisError& e) {
    it->second.error = e.what();
  }
  return it->second;
}

}  // namespace ut::analysis
