#include "commands/mode_options.h"

#include <fmt/format.h>

#include <map>
#include <string>

#include "errors.h"

namespace ut::commands {

void add_mode_options(CLI::App* cmd, ModeOptions& options) {
  const std::map<std::string, model::TraceMode> modes{{"signal-only", model::TraceMode::SignalOnly},
                                                      {"full", model::TraceMode::Full},
                                                      {"sampled", model::TraceMode::Sampled}};
  cmd->add_option("--mode", options.mode,
                  fmt::format("signal-only, full, or sampled (default: {})", model::to_string(options.mode)))
      ->transform(CLI::CheckedTransformer(modes, CLI::ignore_case))
      ->option_text("MODE");
  cmd->add_option("--sample", options.sample_percent,
                  "sampled mode: trace resumes PERCENT of the time (default 5%)")
      ->transform([](std::string text) {
        if (text.ends_with('%')) text.pop_back();
        return text;
      })
      ->check(CLI::Range(0.01, 100.0));
  cmd->add_option("--sample-period", options.sample_period_s,
                  "sampled mode: length of one duty cycle in seconds (default 10)")
      ->check(CLI::Range(0.1, 3600.0));
}

void apply_mode_options(const ModeOptions& options, trace::SessionOptions& session) {
  if (options.sample_percent > 0 && options.mode != model::TraceMode::Sampled)
    throw UserError(ExitCode::Usage, "--sample applies to --mode sampled only; drop one of them");
  session.mode = options.mode;
  if (options.sample_percent > 0) session.duty_cycle.fraction = options.sample_percent / 100;
  session.duty_cycle.period_s = options.sample_period_s;
}

}  // namespace ut::commands
