// Each distinct object is opened and disassembled once per run, however many processes map it
// and under whichever path (/proc/PID/root/..., hard links): keyed by the file's identity.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "analysis/object_analysis.h"

namespace ut::analysis {

class AnalysisCache {
 public:
  struct Entry {
    std::shared_ptr<const ObjectAnalysis> analysis;  // null when the object could not be analysed
    std::string error;                               // why, in one line
  };

  // Analyses the file at `path` unless the same file (device, inode, size, mtime) was seen.
  const Entry& get(const std::string& path);

  // Also analyse `symbol` in `object` (a path, or a file name such as "libfoo.so.1"): the
  // user's --routine OBJ:SYMBOL. Call before the first get().
  void add_user_routine(const std::string& object, const std::string& symbol);

  size_t objects_analysed() const { return analysed_; }
  size_t lookups() const { return lookups_; }

 private:
  AnalysisOptions options_for(const std::string& path) const;

  std::vector<std::pair<std::string, std::string>> user_routines_;  // (object, symbol)
  using FileIdentity = std::tuple<dev_t, ino_t, off_t, long, long>;
  std::map<FileIdentity, Entry> entries_;
  std::map<std::string, Entry> unreadable_;  // stat failed: keyed by path
  size_t analysed_ = 0;
  size_t lookups_ = 0;
};

}  // namespace ut::analysis
