// Where to put the uprobe that reports each entry into a hazardous routine (a "resume"):
// the cheapest place that fires once per entry, reads the context pointer, and stays clear of
// the window (a uprobe that single-steps an instruction delays pending signals to the next one).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/elf_object.h"
#include "analysis/routine_window.h"

namespace ut::analysis {

struct ProbePoint {
  uint64_t vaddr = 0;        // link-time address of the probed instruction
  uint64_t file_offset = 0;  // what a uprobe attaches at
  std::string function;      // the symbol it lies in, or "nearest+0x..." in unnamed code
  std::string text;          // the probed instruction, "call 0x3280"
  bool emulated = false;     // the kernel emulates it instead of single-stepping (~30x cheaper)
  std::string reason;        // why this place, in one sentence
};

// Every direct call or jump to the routine (or its PLT stub) when the context is in %rdi from
// entry; otherwise the routine's entry, unless that is too close to the switch to probe safely
// (then none: the caller must report it cannot trace resumes).
std::vector<ProbePoint> choose_resume_probes(const ElfObject& elf, const Symbol& routine,
                                             const RoutineWindow& window);

}  // namespace ut::analysis
