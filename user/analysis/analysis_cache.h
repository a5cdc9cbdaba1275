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

  size_t objects_analysed() const { return analysed_; }
  size_t lookups() const { return lookups_; }

 private:
  using FileIdentity = std::tuple<dev_t, ino_t, off_t, long, long>;
  std::map<FileIdentity, Entry> entries_;
  std::map<std::string, Entry> unreadable_;  // stat failed: keyed by path
  size_t analysed_ = 0;
  size_t lookups_ = 0;
};

}  // namespace ut::analysis
