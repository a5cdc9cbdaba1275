// Human-readable renderings: the end-of-trace report as aligned tables, and one line per window
// hit for the live output.
#pragma once

#include <string>

#include "model/join.h"
#include "model/session.h"
#include "output/report.h"

namespace ut::output {

std::string render_text(const Report& report);

// "  12.345678 s  tid 4243  SIGPROF interrupt  _Ux86_64_setcontext+0x52 mov rcx, ...  ..."
std::string format_hit_line(const model::JoinedSignal& hit, const model::Session& session);

}  // namespace ut::output
