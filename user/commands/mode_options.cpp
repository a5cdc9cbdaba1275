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
  cmd->add_flag("--slot-checks", options.slot_checks,
                "full mode: read each window hit's slot again when its handler returns (measured "
                "corruption). Hooks the rt_sigreturn syscall tracepoint, which slows every syscall on "
                "the host: for a diagnosis, not for production");
}

void apply_mode_options(const ModeOptions& options, trace::SessionOptions& session) {
  if (options.sample_percent > 0 && options.mode != model::TraceMode::Sampled)
    throw UserError(ExitCode::Usage, "--sample applies to --mode sampled only; drop one of them");
  if (options.slot_checks && options.mode != model::TraceMode::Full)
    throw UserError(ExitCode::Usage, "--slot-checks needs --mode full (every resume traced); add --mode full");
  session.mode = options.mode;
  session.slot_checks = options.slot_checks;
  if (options.sample_percent > 0) session.duty_cycle.fraction = options.sample_percent / 100;
  session.duty_cycle.period_s = options.sample_period_s;
}

}  // namespace ut::commands
