// The report's exposure-model section: what a hit would overwrite during the resumes seen, per
// signal handler and window instruction (from the calibrated frame map), and the predicted hits,
// corruptions and MTBF next to what was observed (docs/model.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/crash_signature.h"
#include "model/exposure_model.h"
#include "model/join.h"
#include "model/resume_geometry.h"
#include "model/session.h"

namespace ut::output {

struct HandlerGeometry {
  int32_t sig = 0;
  std::string name;
  uint8_t flags = 0;           // UT_SIG_* of the handler
  bool flags_assumed = false;  // no signal of this number was seen in a routine: SA_SIGINFO assumed
  std::vector<model::InstructionFates> window;  // over every resume seen, all threads
};

struct CrashRow {
  model::FatalSignal fatal;
  model::CrashSignature signature;
};

struct ModelSection {
  std::vector<HandlerGeometry> handlers;  // signals taken by interrupt, by number
  std::vector<std::pair<model::ResumeShape, uint64_t>> shapes;  // the most frequent resume shapes
  std::optional<model::Prediction> process;
  std::vector<model::Prediction> threads;
  std::string no_prediction;  // why `process` is empty
  std::vector<CrashRow> crashes;  // fatal signals delivered to traced threads, classified
  std::optional<model::SlotCheckCounts> slot_checks;  // all threads; nullopt when not attached
};

// nullopt when there is nothing to model (no routine traced, or no frame map).
std::optional<ModelSection> build_model_section(const model::Session& session, const model::Joiner& joiner);

nlohmann::json model_json(const ModelSection& section);
void render_model(std::string& out, const ModelSection& section);

}  // namespace ut::output
