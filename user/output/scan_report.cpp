#include "output/scan_report.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ut::output {

namespace {

nlohmann::json window_json(const std::vector<analysis::WindowInsn>& window) {
  auto out = nlohmann::json::array();
  for (const auto& insn : window)
    out.push_back({{"offset", insn.offset},
                   {"class", analysis::to_key(insn.cls)},
                   {"slot_disp", insn.slot_disp},
                   {"instruction", insn.text}});
  return out;
}

}  // namespace

bool ScanObject::exposed() const {
  return std::any_of(routines.begin(), routines.end(), [](const ScanRoutine& r) { return r.exposed; });
}

bool ScanReport::any_exposed() const {
  if (!processes.empty())
    return std::any_of(processes.begin(), processes.end(), [](const ScanProcess& p) { return p.exposed; });
  return std::any_of(objects.begin(), objects.end(), [](const ScanObject& o) { return o.exposed(); });
}

std::string routine_verdict(const analysis::HazardousRoutine& routine) {
  const auto& w = routine.window;
  std::string line = analysis::verdict(routine);
  if (!w.switch_offset) return line;
  line = fmt::format("switch at +{:#x}; {}", *w.switch_offset, line);
  if (routine.exposes()) return "EXPOSED: " + line;
  if (!w.window.empty() && !analysis::is_unwinder(routine.family))
    return line + " (not an unwinder's resume: hazardous only if the context lies below the target stack)";
  return line;
}

ScanObject make_scan_object(const std::string& path, const analysis::AnalysisCache::Entry& entry) {
  ScanObject object;
  object.path = path;
  if (!entry.analysis) {
    object.error = entry.error;
    return object;
  }
  object.build_id = entry.analysis->build_id;
  object.soname = entry.analysis->soname;
  for (const auto& routine : entry.analysis->routines) {
    ScanRoutine r;
    r.symbol = routine.symbol.name;
    r.family = analysis::to_string(routine.family);
    r.vaddr = routine.symbol.vaddr;
    r.switch_offset = routine.window.switch_offset;
    if (r.switch_offset)
      for (const auto& insn : routine.window.listing)
        if (insn.offset == *r.switch_offset) r.switch_text = insn.text;
    r.window = routine.window.window;
    r.exposed = routine.exposes();
    r.verdict = routine_verdict(routine);
    object.routines.push_back(std::move(r));
  }
  return object;
}

std::string render_scan_text(const ScanReport& report) {
  std::string out;
  for (const auto& object : report.objects) {
    out += object.path + "\n";
    if (!object.error.empty()) {
      out += fmt::format("  error: {}\n", object.error);
      continue;
    }
    std::vector<std::string> identity;
    if (!object.package.empty()) identity.push_back(object.package);
    if (!object.soname.empty()) identity.push_back("SONAME " + object.soname);
    identity.push_back("build-id " + (object.build_id.empty() ? std::string("none") : object.build_id));
    out += fmt::format("  {}\n", fmt::join(identity, ", "));
    if (object.routines.empty()) out += "  no resume routine\n";
    for (const auto& r : object.routines)
      out += fmt::format("  {} ({}): {}\n", r.symbol, r.family, r.verdict);
  }
  if (!report.processes.empty()) {
    if (!out.empty()) out += "\n";
    for (const auto& p : report.processes)
      out += fmt::format("{:>7}  {:<16} {}\n", p.pid, p.comm, p.error.empty() ? p.verdict : "error: " + p.error);
  }
  out += fmt::format("\n{} object(s) examined, {} analysed, {} process(es), {:.2f} s; {}\n",
                     report.objects_examined, report.objects_analysed, report.processes.size(),
                     report.duration_s, report.any_exposed() ? "EXPOSED" : "nothing exposed");
  return out;
}

nlohmann::json scan_to_json(const ScanReport& report) {
  nlohmann::json out;
  out["schema_version"] = 1;
  out["exposed"] = report.any_exposed();
  out["objects_examined"] = report.objects_examined;
  out["objects_analysed"] = report.objects_analysed;
  out["duration_s"] = report.duration_s;
  out["objects"] = nlohmann::json::array();
  for (const auto& object : report.objects) {
    nlohmann::json o{{"path", object.path},       {"build_id", object.build_id},
                     {"soname", object.soname},   {"package", object.package},
                     {"exposed", object.exposed()}, {"error", object.error.empty() ? nlohmann::json() : nlohmann::json(object.error)}};
    o["routines"] = nlohmann::json::array();
    for (const auto& r : object.routines)
      o["routines"].push_back({{"symbol", r.symbol},
                               {"family", r.family},
                               {"vaddr", fmt::format("{:#x}", r.vaddr)},
                               {"switch_offset", r.switch_offset ? nlohmann::json(*r.switch_offset) : nlohmann::json()},
                               {"switch_instruction", r.switch_text},
                               {"window", window_json(r.window)},
                               {"exposed", r.exposed},
                               {"verdict", r.verdict}});
    out["objects"].push_back(std::move(o));
  }
  out["processes"] = nlohmann::json::array();
  for (const auto& p : report.processes)
    out["processes"].push_back({{"pid", p.pid},
                                {"comm", p.comm},
                                {"exe", p.exe},
                                {"unwinder", {{"path", p.unwinder_path}, {"name", p.unwinder_name}, {"method", p.binding_method}}},
                                {"exposed_objects", p.exposed_objects},
                                {"exposed", p.exposed},
                                {"verdict", p.verdict},
                                {"error", p.error.empty() ? nlohmann::json() : nlohmann::json(p.error)}});
  return out;
}

}  // namespace ut::output
