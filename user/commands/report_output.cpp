#include "commands/report_output.h"

#include <fmt/format.h>

#include "output/atomic_file.h"
#include "output/json_report.h"
#include "output/text_report.h"

namespace ut::commands {

std::FILE* text_stream(const OutputOptions& options) {
  return options.json_path == "-" ? stderr : stdout;
}

void print_hit_line(const OutputOptions& options, const model::JoinedSignal& hit,
                    const model::Session& session) {
  if (options.quiet) return;
  fmt::print(stderr, "{}\n", output::format_hit_line(hit, session));
}

output::Report emit_report(const OutputOptions& options, const trace::TraceResult& result) {
  for (const auto& warning : result.warnings) fmt::print(stderr, "unwindtrace: warning: {}\n", warning);
  auto report = output::build_report(result.session, *result.joiner);
  fmt::print(text_stream(options), "{}", output::render_text(report));
  std::fflush(text_stream(options));
  if (options.json_path == "-") {
    fmt::print(stdout, "{}", output::render_json(report));
  } else if (!options.json_path.empty()) {
    output::write_file_atomically(options.json_path, output::render_json(report));
  }
  return report;
}

}  // namespace ut::commands
