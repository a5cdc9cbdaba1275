// unwindtrace report PATH...: merge record files from many hosts into the fleet's exposure and
// crash populations. No BPF, no root: it only reads files.
#include <fmt/format.h>

#include <fstream>

#include "commands/commands.h"
#include "errors.h"
#include "fleet/fleet_report.h"

namespace ut::commands {

namespace {

struct ReportOptions {
  std::vector<std::string> paths;
  std::string json_path;
  std::string html_path;
  double alpha = 0.01;
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out.flush()) throw UserError(ExitCode::Usage, fmt::format("cannot write {}: check the path", path));
}

int run_report(const ReportOptions& options) {
  auto records = fleet::load_records(options.paths, [](const fleet::BadLine& bad) {
    fmt::print(stderr, "unwindtrace: {}: bad record, left out: {}\n", bad.where, bad.reason);
  });
  if (records.lines == 0)
    throw UserError(ExitCode::Usage, "no records found: give .jsonl files or directories holding them");
  fleet::ClusterOptions cluster_options;
  cluster_options.alpha = options.alpha;
  auto report = fleet::build_fleet_report(records, cluster_options);
  if (options.json_path == "-") {
    fmt::print("{}\n", fleet::fleet_to_json(report).dump(2));
  } else {
    fmt::print("{}", fleet::render_fleet_text(report));
    if (!options.json_path.empty()) write_file(options.json_path, fleet::fleet_to_json(report).dump(2) + "\n");
  }
  if (!options.html_path.empty()) write_file(options.html_path, fleet::render_fleet_html(report));
  return static_cast<int>(ExitCode::Ok);
}

}  // namespace

Action add_report_command(CLI::App& app) {
  auto options = std::make_shared<ReportOptions>();
  auto* cmd = app.add_subcommand("report", "Merge record files from many hosts: exposure by unwinder, "
                                           "executable, host and CPU; predicted crashes; crash clusters");
  cmd->footer(R"(Reads JSON Lines records (docs/records.md) written by 'unwindtrace record' on any number
of hosts: files, or directories searched for *.jsonl. Shows:
  - fleet totals and predicted window crashes per day with an exact Poisson interval,
  - exposure grouped by unwinder build, executable, host and CPU model,
  - crashes grouped by signature x host; a host whose share of a signature is improbably large
    were it spread evenly (binomial tail, Bonferroni-corrected) is flagged: misaligned-stack
    crashes concentrated on one host read as suspect hardware, apart from window crashes that
    are spread over the hosts running the exposed workload. docs/fleet.md explains the figures.
A bad line is reported as FILE:LINE with the reason and left out; the rest is merged.

Examples:
  unwindtrace report /var/log/unwindtrace/
  unwindtrace report host-*/records --html fleet.html
  unwindtrace report records/ --json - | jq .crashes.clusters

Exit codes: 0 done, 2 usage (no such path, no records at all), 1 internal error.)");
  cmd->add_option("paths", options->paths, "record files or directories")->required();
  cmd->add_option("--json", options->json_path, "JSON to FILE ('-': stdout instead of the text)");
  cmd->add_option("--html", options->html_path, "a self-contained HTML page with plots to FILE");
  cmd->add_option("--alpha", options->alpha, "family-wise significance for calling a host an outlier")
      ->check(CLI::Range(1e-9, 0.5));
  return [options] { return run_report(*options); };
}

}  // namespace ut::commands
