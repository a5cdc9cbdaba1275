// "Am I exposed?" for one process: the objects it maps that hold a resume routine, and where
// its C++ exceptions really unwind.
#pragma once

#include <sys/types.h>

#include "analysis/analysis_cache.h"
#include "output/scan_report.h"

namespace ut::proc {

// Never throws for a vanished or uninspectable process: the result carries the error instead.
// Objects with routines (or errors) are added to `objects` once each, keyed by path.
output::ScanProcess assess_process(pid_t pid, analysis::AnalysisCache& cache,
                                   std::vector<output::ScanObject>& objects);

}  // namespace ut::proc
