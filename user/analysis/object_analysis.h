// One object on disk, examined for the known resume routines (context switches that unwinders
// use to land in a handler): each one found, its hazard window, and where to probe its calls.
#pragma once

#include <string>
#include <vector>

#include "analysis/elf_object.h"
#include "analysis/resume_probe.h"
#include "analysis/routine_window.h"

namespace ut::analysis {

struct HazardousRoutine {
  Symbol symbol;       // size: the bytes analysed (the next symbol bounds a size-0 symbol)
  std::string origin;  // who ships it: "GNU libunwind"
  RoutineWindow window;  // may be empty: the routine switches stacks but reads nothing stale
  std::vector<ProbePoint> probes;
};

struct ObjectAnalysis {
  std::string path, build_id, soname;
  std::vector<HazardousRoutine> routines;  // only routines that switch %rsp
};

// The resume routines looked for, by symbol name, with who ships them.
struct KnownRoutine {
  const char* symbol;
  const char* origin;
};
const std::vector<KnownRoutine>& known_resume_routines();

// Throws AnalysisError if the object cannot be read as x86-64 ELF. Cheap for objects that
// define none of the known routines: a symbol lookup each.
ObjectAnalysis analyse_object(const std::string& path);
ObjectAnalysis analyse_object(const ElfObject& elf);

}  // namespace ut::analysis
