#include "proc/process_exposure.h"

#include <algorithm>

#include <fmt/format.h>

#include "analysis/analysis_error.h"
#include "errors.h"
#include "proc/exception_unwinder.h"
#include "proc/process_info.h"
#include "proc/process_maps.h"
#include "proc/process_routines.h"

namespace ut::proc {

namespace {

void remember_object(std::vector<output::ScanObject>& objects, output::ScanObject object,
                     host::PackageIndex& packages) {
  bool known = std::any_of(objects.begin(), objects.end(),
                           [&](const output::ScanObject& o) { return o.path == object.path; });
  if (known) return;
  if (auto owner = packages.owner(object.path))
    object.package = fmt::format("{} {} {}", owner->package, owner->version, owner->architecture);
  objects.push_back(std::move(object));
}

std::string verdict(const output::ScanProcess& p) {
  if (p.unwinder_path.empty()) {
    std::string base = fmt::format("no C++ exceptions in {} (nothing refers to _Unwind_RaiseException)", p.pid);
    return p.exposed_objects.empty() ? base + ": not exposed"
                                     : fmt::format("{}; maps {}, exposed only if it calls libunwind directly",
                                                   base, p.exposed_objects.front());
  }
  std::string through = fmt::format("C++ exceptions in {} unwind through {} ({})", p.pid, p.unwinder_path,
                                    p.unwinder_name);
  if (p.exposed) return through + ": exposed";
  if (!p.exposed_objects.empty())
    return fmt::format("{}: not exposed (it also maps {}, which exceptions do not use)", through,
                       p.exposed_objects.front());
  return through + ": not exposed";
}

}  // namespace

output::ScanProcess assess_process(pid_t pid, analysis::AnalysisCache& cache, host::PackageIndex& packages,
                                   std::vector<output::ScanObject>& objects) {
  output::ScanProcess result;
  result.pid = pid;
  try {
    auto info = read_process_info(pid);
    result.comm = info.comm;
    result.exe = info.exe;
    if (info.exe.empty()) return result;  // a kernel thread: nothing mapped
    auto maps = read_maps(pid);
    for (const auto& mapped : mapped_objects(pid, maps, cache)) {
      auto object = output::make_scan_object(mapped.path, *mapped.entry);
      if (object.exposed()) result.exposed_objects.push_back(mapped.path);
      if (!object.routines.empty() || !object.error.empty()) remember_object(objects, std::move(object), packages);
    }
    if (auto unwinder = exception_unwinder(pid, packages)) {
      result.unwinder_path = unwinder->path;
      result.unwinder_name = unwinder->name;
      result.binding_method = unwinder->method;
      result.exposed = std::find(result.exposed_objects.begin(), result.exposed_objects.end(),
                                 unwinder->path) != result.exposed_objects.end();
    }
  } catch (const UserError& e) {
    result.error = e.what();
    return result;
  } catch (const analysis::AnalysisError& e) {
    result.error = e.what();
    return result;
  }
  result.verdict = verdict(result);
  return result;
}

}  // namespace ut::proc
