// Everything one `validate` run found, for the report: the routines the target maps, one result
// per injection site, and what the host and the target are. Filled by trace/injection_session.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analysis/routine_window.h"
#include "host/signal_frame.h"
#include "validate/site_outcome.h"

namespace ut::validate {

struct ValidatedRoutine {
  std::string object_path;
  std::string build_id;
  std::string symbol;
  std::string origin;  // "GNU libunwind"
  analysis::RoutineWindow window;
  // Its first site's injecting instruction ran in the first run. A routine that did not (another
  // copy runs, or it is not on the exception path) gets no sites.
  bool reached = false;
};

struct ValidateResult {
  std::vector<std::string> argv;  // the target's command line (empty for --pid)
  int pid = 0;                    // --pid only
  int sig = 0;
  uint64_t count = 0;  // injections asked for per site
  std::optional<host::FrameSize> frame;
  std::vector<ValidatedRoutine> routines;
  // Where the target's C++ exceptions unwind: "/usr/lib/.../libunwind.so.8.0.1 (GNU libunwind 1.6.2, ...)".
  std::string unwinder;
  std::vector<SiteResult> sites;  // SiteResult::routine indexes `routines`
  std::vector<std::string> warnings;
  double duration_s = 0;

  bool corrupted() const;   // any site crashed or corrupted
  bool conclusive() const;  // some site was reached, and every reached site landed well
};

}  // namespace ut::validate
