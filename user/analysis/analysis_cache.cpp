#include "analysis/analysis_cache.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "analysis/analysis_error.h"

namespace ut::analysis {

void AnalysisCache::add_user_routine(const std::string& object, const std::string& symbol) {
  user_routines_.emplace_back(object, symbol);
}

AnalysisOptions AnalysisCache::options_for(const std::string& path) const {
  AnalysisOptions options;
  std::error_code ignored;
  for (const auto& [object, symbol] : user_routines_) {
    bool same_name = std::filesystem::path(path).filename() == std::filesystem::path(object).filename() &&
                     object.find('/') == std::string::npos;
    if (same_name || std::filesystem::equivalent(path, object, ignored)) options.extra_symbols.push_back(symbol);
  }
  return options;
}

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
    it->second.analysis = std::make_shared<const ObjectAnalysis>(analyse_object(path, options_for(path)));
  } catch (const AnalysisError& e) {
    it->second.error = e.what();
  }
  return it->second;
}

}  // namespace ut::analysis
