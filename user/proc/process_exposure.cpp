#include "proc/process_exposure.h"

#include <algorithm>

#include <fmt/format.h>

#include "errors.h"
#include "proc/process_info.h"
#include "proc/process_maps.h"
#include "proc/process_routines.h"

namespace ut::proc {

namespace {

void remember_object(std::vector<output::ScanObject>& objects, const output::ScanObject& object) {
  bool known = std::any_of(objects.begin(), objects.end(),
                           [&](const output::ScanObject& o) { return o.path == object.path; });
  if (!known) objects.push_back(object);
}

}  // namespace

output::ScanProcess assess_process(pid_t pid, analysis::AnalysisCache& cache,
                                   std::vector<output::ScanObject>& objects) {
  output::ScanProcess result;
  result.pid = pid;
  try {
    auto info = read_process_info(pid);
    result.comm = info.comm;
    result.exe = info.exe;
    auto maps = read_maps(pid);
    for (const auto& mapped : mapped_objects(pid, maps, cache)) {
      auto object = output::make_scan_object(mapped.path, *mapped.entry);
      if (object.exposed()) result.exposed_objects.push_back(mapped.path);
      if (!object.routines.empty() || !object.error.empty()) remember_object(objects, object);
    }
  } catch (const UserError& e) {
    result.error = e.what();
    return result;
  }
  result.exposed = !result.exposed_objects.empty();
  result.verdict = result.exposed
                       ? fmt::format("maps {} with an exposed resume routine: exposed",
                                     result.exposed_objects.front())
                       : "no exposed resume routine mapped: not exposed";
  return result;
}

}  // namespace ut::proc
