#include "proc/process_routines.h"

#include <map>
#include <set>

#include <fmt/format.h>

#include "analysis/analysis_error.h"
#include "analysis/elf_object.h"
#include "proc/process_maps.h"

namespace ut::proc {

namespace {

// Where the routine starts in the process: the executable mapping covering its file offset.
std::optional<uint64_t> routine_address(const std::vector<Mapping>& maps, const std::string& path,
                                        const analysis::ElfObject& elf, uint64_t vaddr) {
  auto offset = elf.file_offset_of(vaddr);
  if (!offset) return std::nullopt;
  for (const auto& m : maps)
    if (m.path == path && m.executable())
      if (auto address = m.address_of_file_offset(*offset)) return address;
  return std::nullopt;
}

bool selected(const analysis::HazardousRoutine& routine, RoutineSelection selection) {
  if (selection == RoutineSelection::Exposing) return routine.exposes();  // not glibc's, not windowless
  return analysis::is_unwinder(routine.family) || routine.family == analysis::Family::User;
}

}  // namespace

std::vector<MappedObject> mapped_objects(pid_t pid, const std::vector<Mapping>& maps,
                                         analysis::AnalysisCache& cache) {
  std::vector<MappedObject> out;
  std::set<std::string> seen;
  for (const auto& mapping : maps) {
    if (mapping.path.empty() || !mapping.executable() || !seen.insert(mapping.path).second) continue;
    std::string attach_path = fmt::format("/proc/{}/root{}", pid, mapping.path);
    out.push_back({mapping.path, attach_path, &cache.get(attach_path)});
  }
  return out;
}

ProcessRoutines find_process_routines(pid_t pid, analysis::AnalysisCache& cache, RoutineSelection selection) {
  auto maps = read_maps(pid);
  ProcessRoutines out;
  for (const auto& object : mapped_objects(pid, maps, cache)) {
    if (!object.entry->analysis) {
      out.warnings.push_back(object.entry->error);
      continue;
    }
    try {
      auto elf = analysis::ElfObject::open(object.attach_path);
      for (const auto& routine : object.entry->analysis->routines) {
        if (!selected(routine, selection)) continue;
        auto start = routine_address(maps, object.path, elf, routine.symbol.vaddr);
        if (!start) {
          out.warnings.push_back(fmt::format("{}: {} is not in an executable mapping; skipped",
                                             object.path, routine.symbol.name));
          continue;
        }
        out.routines.push_back({object.path, object.attach_path, object.entry->analysis->build_id,
                                object.entry->analysis->soname, routine, *start});
      }
    } catch (const analysis::AnalysisError& e) {
      out.warnings.push_back(e.what());
    }
  }
  return out;
}

ut_target make_target(const std::vector<MappedRoutine>& routines) {
  ut_target target{};
  for (const auto& mapped : routines) {
    if (target.n_routines == UT_MAX_ROUTINES) break;
    const auto& window = mapped.routine.window;
    ut_routine& wire = target.routines[target.n_routines++];
    wire.start = mapped.start;
    wire.end = mapped.start + window.size;
    wire.ctx_reg = static_cast<uint8_t>(window.ctx_reg);
    wire.sp_disp = window.sp_disp;
    wire.ip_disp = window.ip_disp.value_or(0);
    for (const auto& insn : window.window) {
      if (wire.n_window == UT_MAX_WINDOW_INSNS) break;
      ut_window_insn& w = wire.window[wire.n_window++];
      w.addr = mapped.start + insn.offset;
      w.slot_disp = insn.slot_disp;
      w.cls = analysis::to_wire(insn.cls);
    }
  }
  return target;
}

}  // namespace ut::proc
