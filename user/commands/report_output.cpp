#include "commands/report_output.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "errors.h"
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
    std::string tmp = options.json_path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << output::render_json(report);
      if (!out.flush())
        throw UserError(ExitCode::Usage,
                        fmt::format("cannot write {}: {}", options.json_path, std::strerror(errno)));
    }
    // Complete or absent: a reader never sees half a report.
    if (std::rename(tmp.c_str(), options.json_path.c_str()) != 0)
      throw UserError(ExitCode::Usage,
                      fmt::format("cannot write {}: {}", options.json_path, std::strerror(errno)));
  }
  return report;
}

}  // namespace ut::commands
