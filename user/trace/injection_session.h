// One `validate` run: find the target's resume routines with the same analysis as attach and
// scan, then for each injection site in turn (one site per target run, so every outcome is
// attributable), load the injector, inject up to `count` signals exactly there, and collect what
// they did. The command only chooses the target and renders the result.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "host/signal_frame.h"
#include "validate/validate_result.h"

namespace ut::trace {

class Injector;

struct InjectionTarget {
  enum class Kind {
    Workload,  // the bundled workload: started per site with --wait-for-go, stops itself
    Command,   // a user's command: started per site, stopped once enough injections landed
    Process,   // an existing process (--pid): every site in turn, never restarted or stopped
  };
  Kind kind = Kind::Workload;
  std::vector<std::string> argv;          // Workload, Command
  pid_t pid = 0;                          // Process
  std::optional<uint64_t> handler_stack;  // bytes the target's handler uses, when known
};

struct InjectionOptions {
  InjectionTarget target;
  int sig = 0;
  uint64_t count = 1000;  // injections per site
  double timeout_s = 30;  // longest a site runs
  // A site that sees no new injection for this long is over (the routine stopped running, or
  // never ran in this target).
  double idle_s = 2;
  // Routines known not to run in this target (object path, symbol), from an earlier validation of
  // the same program: reported as not reached without probing them again (each uprobe costs
  // ~0.1 s to detach here).
  std::set<std::pair<std::string, std::string>> unreached;
  const std::atomic<bool>* stop = nullptr;                   // set from a SIGINT/SIGTERM handler
  std::function<void(const validate::SiteResult&)> on_site;  // as each site ends
};

// The kernel side loaded once (privileges checked, signal frame measured), for one or more
// validations: a sweep validates the workload at several paddings with one session.
class InjectionSession {
 public:
  // Throws UserError for missing privileges or a kernel feature missing.
  InjectionSession();
  ~InjectionSession();
  InjectionSession(const InjectionSession&) = delete;
  InjectionSession& operator=(const InjectionSession&) = delete;

  // Throws UserError for a target that cannot be started or inspected. A target without any
  // resume routine is not an error: the result has no sites and names where exceptions unwind.
  validate::ValidateResult run(const InjectionOptions& options);

 private:
  std::unique_ptr<Injector> injector_;
  std::optional<host::FrameSize> frame_;
};

}  // namespace ut::trace
