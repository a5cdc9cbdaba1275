// "Find the routine in this process": every mapped object holding a hazardous resume routine,
// with its window and probe points translated to the process's absolute addresses. The one
// place every command uses to go from a PID to what the kernel side must watch.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "analysis/analysis_cache.h"
#include "analysis/object_analysis.h"
#include "events.h"
#include "proc/process_maps.h"

namespace ut::proc {

struct MappedRoutine {
  std::string object_path;  // as the process maps it
  std::string attach_path;  // the same file seen through /proc/PID/root, for uprobes
  std::string build_id;
  std::string soname;
  analysis::HazardousRoutine routine;
  uint64_t start = 0;  // absolute address of the routine in the process
};

struct ProcessRoutines {
  std::vector<MappedRoutine> routines;
  std::vector<std::string> warnings;  // objects that could not be analysed, and why
};

// An executable file the process maps, with its (cached) analysis.
struct MappedObject {
  std::string path;         // as the process maps it
  std::string attach_path;  // the same file seen through /proc/PID/root
  const analysis::AnalysisCache::Entry* entry = nullptr;
};

// Each distinct executable file mapping, in address order.
std::vector<MappedObject> mapped_objects(pid_t pid, const std::vector<Mapping>& maps,
                                         analysis::AnalysisCache& cache);

// Which routines to report: those with a window C++ exceptions resume through (what attach
// watches), or every stack switch an unwinder or the user's --routine has, window or not (what
// validate injects into: an unwinder without a window shows its survival).
enum class RoutineSelection { Exposing, UnwinderSwitches };

// Throws UserError(Target) if the process cannot be inspected.
ProcessRoutines find_process_routines(pid_t pid, analysis::AnalysisCache& cache,
                                      RoutineSelection selection = RoutineSelection::Exposing);

// The kernel side's description of the routines (at most UT_MAX_ROUTINES, window truncated to
// UT_MAX_WINDOW_INSNS: both reported as warnings by the caller when exceeded).
ut_target make_target(const std::vector<MappedRoutine>& routines);

}  // namespace ut::proc
