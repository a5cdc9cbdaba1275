// "Am I exposed?" for one process: the objects it maps that hold a resume routine, and whether
// its C++ exceptions really unwind through an exposed one.
#pragma once

#include <sys/types.h>

#include "analysis/analysis_cache.h"
#include "host/package_identity.h"
#include "output/scan_report.h"

namespace ut::proc {

// Never throws for a vanished or uninspectable process: the result carries the error instead.
// Objects with routines (or errors) are added to `objects` once each, keyed by path.
output::ScanProcess assess_process(pid_t pid, analysis::AnalysisCache& cache, host::PackageIndex& packages,
                                   std::vector<output::ScanObject>& objects);

}  // namespace ut::proc
