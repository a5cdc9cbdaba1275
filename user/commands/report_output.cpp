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

namespace {

output::Report print_text_report(const OutputOptions& options, const trace::TraceResult& result) {
  for (const auto& warning : result.warnings) fmt::print(stderr, "unwindtrace: warning: {}\n", warning);
  auto report = output::build_report(result.session, *result.joiner);
  fmt::print(text_stream(options), "{}", output::render_text(report));
  std::fflush(text_stream(options));
  return report;
}

void write_json(const OutputOptions& options, const nlohmann::json& json) {
  const std::string text = json.dump(2) + "\n";
  if (options.json_path == "-") {
    fmt::print(stdout, "{}", text);
  } else if (!options.json_path.empty()) {
    output::write_file_atomically(options.json_path, text);
  }
}

}  // namespace

output::Report emit_report(const OutputOptions& options, const trace::TraceResult& result) {
  auto report = print_text_report(options, result);
  write_json(options, output::to_json(report));
  return report;
}

void emit_reports(const OutputOptions& options, const std::vector<trace::TraceResult>& results) {
  if (results.size() == 1) {
    emit_report(options, results.front());
    return;
  }
  nlohmann::json all = nlohmann::json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    if (i > 0) fmt::print(text_stream(options), "\n");
    all.push_back(output::to_json(print_text_report(options, results[i])));
  }
  write_json(options, all);
}

}  // namespace ut::commands
