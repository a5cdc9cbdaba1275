// One object on disk, examined for routines that switch stacks to resume a context (the known
// ones of every unwinder and of glibc, those a user names, and in a stripped unwinder whatever
// its code holds): each one found, its hazard window, and where to probe its calls.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analysis/elf_object.h"
#include "analysis/known_routines.h"
#include "analysis/resume_probe.h"
#include "analysis/routine_window.h"

namespace ut::analysis {

struct AnalysisOptions {
  std::vector<std::string> extra_symbols;  // --routine OBJ:SYMBOL: this object's SYMBOLs
  bool sweep_unwinders = true;  // search an unwinder's code when no known routine is named
};

struct HazardousRoutine {
  Symbol symbol;       // size: the bytes analysed; "<unnamed at 0x5d74>" where no symbol is
  RoutineWindow window;  // may be empty: the routine switches stacks but reads nothing stale
  std::vector<ProbePoint> probes;
  Family family = Family::User;
  std::string role;      // what it does, from the table of known routines
  std::string found_by;  // "symbol", "called by longjmp", "sweep of the unwinder's code", ...

  // A window in code that C++ exceptions resume through, or that the user asked about.
  bool exposes() const;
};

// One line: "window: +0x52 return-address, +0x59..+0x61 register", or why there is none.
std::string verdict(const HazardousRoutine& routine);

struct ObjectAnalysis {
  std::string path, build_id, soname;
  std::optional<Family> unwinder;          // set when the object implements the unwinding API
  std::vector<HazardousRoutine> routines;  // only routines that switch %rsp
  std::vector<std::string> notes;          // what was looked for and not found, or skipped

  bool exposed() const;  // any routine exposes()
};

// Throws AnalysisError if the object cannot be read as x86-64 ELF. Cheap for objects that
// define none of the known routines' marker symbols: those lookups and the user's symbols.
ObjectAnalysis analyse_object(const std::string& path, const AnalysisOptions& options = {});
ObjectAnalysis analyse_object(const ElfObject& elf, const AnalysisOptions& options = {});

}  // namespace ut::analysis
