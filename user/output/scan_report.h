// What `scan` found: per object, the resume routines and their windows; per process, where its
// C++ exceptions really unwind and whether that is exposed. One structure, two renderers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/analysis_cache.h"
#include "analysis/object_analysis.h"

namespace ut::output {

struct ScanRoutine {
  std::string symbol;
  std::string family;  // "GNU libunwind", "LLVM libunwind", "libgcc", "glibc", "user"
  uint64_t vaddr = 0;
  std::optional<uint64_t> switch_offset;
  std::string switch_text;
  std::vector<analysis::WindowInsn> window;
  bool exposed = false;  // a window in an unwinder's (or a user-named) routine
  std::string verdict;   // one line
};

struct ScanObject {
  std::string path;
  std::string build_id;
  std::string soname;
  std::string package;  // "libunwind8 1.6.2-3 amd64", "" when dpkg does not know the file
  std::vector<ScanRoutine> routines;
  std::string error;  // set when the object could not be analysed
  bool exposed() const;
};

struct ScanProcess {
  int pid = 0;
  std::string comm;
  std::string exe;
  std::string unwinder_path;    // the object its _Unwind_RaiseException binds to, "" if unknown
  std::string unwinder_name;    // "GNU libunwind 1.6.2", "libgcc_s", ...
  std::string binding_method;   // "got" (read from the process) or "lookup-order" (predicted)
  std::vector<std::string> exposed_objects;  // mapped objects with an exposed routine
  bool exposed = false;         // its exceptions unwind through an exposed routine
  std::string verdict;          // one line, plain words
  std::string error;            // set when the process could not be inspected
};

struct ScanReport {
  std::vector<ScanObject> objects;      // every object examined that has a routine, or an error
  std::vector<ScanProcess> processes;   // for -p / --all
  size_t objects_examined = 0;
  size_t objects_analysed = 0;          // distinct files disassembled (the cache's misses)
  double duration_s = 0;
  bool any_exposed() const;
};

// One line for a routine: "EXPOSED: switch at +0x4b; window +0x52 return-address, +0x59..+0x61
// register" or "no window: nothing reads the abandoned stack after the switch".
std::string routine_verdict(const analysis::HazardousRoutine& routine);
ScanObject make_scan_object(const std::string& path, const analysis::AnalysisCache::Entry& entry);

std::string render_scan_text(const ScanReport& report);
nlohmann::json scan_to_json(const ScanReport& report);

}  // namespace ut::output
