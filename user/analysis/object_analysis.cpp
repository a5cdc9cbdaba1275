#include "analysis/object_analysis.h"

#include <algorithm>

#include "events.h"

namespace ut::analysis {

const std::vector<KnownRoutine>& known_resume_routines() {
  // Add an entry to watch another unwinder's resume routine.
  static const std::vector<KnownRoutine> routines{
      {"_Ux86_64_setcontext", "GNU libunwind"},
  };
  return routines;
}

namespace {

// A symbol of size 0 (hand-written assembly without .size) runs to the next function, within
// what the kernel side can watch.
uint64_t routine_length(const ElfObject& elf, const Symbol& symbol) {
  if (symbol.size != 0) return symbol.size;
  uint64_t end = symbol.vaddr + UT_MAX_ROUTINE_BYTES;
  if (auto next = elf.next_function_after(symbol.vaddr)) end = std::min(end, *next);
  for (const Segment& segment : elf.segments())
    if (symbol.vaddr >= segment.vaddr && symbol.vaddr < segment.vaddr + segment.file_size)
      end = std::min(end, segment.vaddr + segment.file_size);
  return end - symbol.vaddr;
}

}  // namespace

ObjectAnalysis analyse_object(const ElfObject& elf) {
  ObjectAnalysis out{elf.path(), elf.build_id(), elf.soname(), {}};
  for (const KnownRoutine& known : known_resume_routines()) {
    auto symbol = elf.find_symbol(known.symbol);
    if (!symbol) continue;
    symbol->size = routine_length(elf, *symbol);
    auto code = elf.read(symbol->vaddr, symbol->size);
    RoutineWindow window = analyse_routine(code, symbol->vaddr, symbol->name);
    if (!window.switch_offset) continue;
    auto probes = choose_resume_probes(elf, *symbol, window);
    out.routines.push_back({std::move(*symbol), known.origin, std::move(window), std::move(probes)});
  }
  return out;
}

ObjectAnalysis analyse_object(const std::string& path) {
  return analyse_object(ElfObject::open(path));
}

}  // namespace ut::analysis
