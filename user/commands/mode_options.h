// --mode, --sample and --sample-period, shared by attach and record so both accept and check
// the same words and apply them to a trace session the same way.
#pragma once

#include <CLI/CLI.hpp>

#include "model/sampling.h"
#include "model/session.h"
#include "trace/trace_session.h"

namespace ut::commands {

struct ModeOptions {
  model::TraceMode mode = model::TraceMode::Sampled;
  double sample_percent = 0;  // 0: not given
  double sample_period_s = model::DutyCycle{}.period_s;
  bool slot_checks = false;
};

// Adds the four options to `cmd`; `options.mode` on entry is the command's default.
void add_mode_options(CLI::App* cmd, ModeOptions& options);

// Throws UserError(Usage) for --sample without sampled mode or --slot-checks without full mode;
// else sets mode, duty cycle and slot checks.
void apply_mode_options(const ModeOptions& options, trace::SessionOptions& session);

}  // namespace ut::commands
