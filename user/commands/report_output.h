// Where a traced session's report goes: the text report for people, JSON for machines, the
// live line per window hit; shared by attach and demo.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "model/join.h"
#include "model/session.h"
#include "output/report.h"
#include "trace/trace_session.h"

namespace ut::commands {

struct OutputOptions {
  std::string json_path;  // "" = none, "-" = stdout (the text report then goes to stderr)
  bool quiet = false;     // no live lines
};

// The stream the text report and live lines go to.
std::FILE* text_stream(const OutputOptions& options);
// Prints a live line for a window hit.
void print_hit_line(const OutputOptions& options, const model::JoinedSignal& hit,
                    const model::Session& session);
// Builds the report, prints warnings and the text report, writes the JSON; returns the report.
output::Report emit_report(const OutputOptions& options, const trace::TraceResult& result);
// The same for several processes: one text report each; the JSON is an array of the reports
// when there is more than one.
void emit_reports(const OutputOptions& options, const std::vector<trace::TraceResult>& results);

}  // namespace ut::commands
