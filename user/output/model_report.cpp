#include "output/model_report.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>

#include <fmt/format.h>

#include "host/signal_names.h"
#include "model/landing_calibration.h"
#include "model/unwinder_routines.h"

namespace ut::output {

namespace {

constexpr uint8_t kAssumedFlags = UT_SIG_HANDLER | UT_SIG_SIGINFO;
constexpr size_t kListedShapes = 32;

// Handler flags of each signal number, from the signals seen inside a routine.
std::map<int32_t, uint8_t> seen_handler_flags(const model::Joiner& joiner) {
  std::map<int32_t, uint8_t> flags;
  for (const auto& hit : joiner.kept_hits()) flags.emplace(hit.sig, hit.flags);
  return flags;
}

// The stale slot values the hits kept by the joiner saw, per window instruction. A slot holding the
// target IP (the return-address read) is also known for every hit's matched resume, wherever that
// hit landed: the resume event reads it.
model::SlotValueSample slot_value_sample(const model::Session& session, const model::Joiner& joiner) {
  model::SlotValueSample sample;
  for (const auto& hit : joiner.kept_hits()) {
    if (!hit.is_hit() || hit.routine >= session.routines.size()) continue;
    if (hit.slot_addr) sample.add(hit.routine, hit.offset, hit.slot_value);
    const auto& window = session.routines[hit.routine].window;
    if (!hit.resume || !window.ip_disp) continue;
    for (const auto& insn : window.window)
      if (insn.slot_disp == *window.ip_disp && insn.offset != hit.offset)
        sample.add(hit.routine, static_cast<uint32_t>(insn.offset), hit.resume->target_ip);
  }
  return sample;
}

// Interrupt-delivered signals in routine 0 outside the window (and off its first instruction).
uint64_t live_landings_elsewhere(const model::Session& session, const model::Joiner& joiner) {
  uint64_t n = 0;
  for (const auto& [where, counts] : joiner.routine_offsets())
    if (where.routine == 0 && model::lands_elsewhere(session.routines.front().window, where.offset))
      n += counts[UT_DELIVERY_INTERRUPT];
  return n;
}

// The thread's last window hit at or before `ktime_ns`, among the hits the joiner kept.
std::optional<model::PriorHit> prior_hit(const model::Joiner& joiner, uint32_t tid, uint64_t ktime_ns) {
  std::optional<model::PriorHit> last;
  for (const auto& hit : joiner.kept_hits())
    if (hit.tid == tid && hit.ktime_ns <= ktime_ns && hit.window_class && (!last || hit.ktime_ns >= last->ktime_ns))
      last = model::PriorHit{hit.ktime_ns, hit.offset, *hit.window_class};
  return last;
}

std::vector<CrashRow> crash_rows(const model::Session& session, const model::Joiner& joiner) {
  const auto routines = model::unwinder_routines(session.routines);
  std::vector<CrashRow> rows;
  for (const auto& fatal : session.fatal_signals)
    rows.push_back({fatal, model::classify_crash(fatal, routines, prior_hit(joiner, fatal.tid, fatal.ktime_ns))});
  return rows;
}

// Each interrupt-delivered signal's handler geometry at the first routine's window instructions,
// over the process's resumes (the kernel counts shapes per process: every thread is assumed to
// resume like the others, so this is computed once per signal, not per thread).
using FatesBySignal = std::map<int32_t, std::vector<model::InstructionFates>>;

// One thread's model input: its async signals by handler, weighted by each handler's geometry.
model::ThreadInput thread_input(const model::Session& session, uint32_t tid, const model::ThreadTally& tally,
                                const FatesBySignal& fates_by_signal, const std::vector<CrashRow>& crashes) {
  model::ThreadInput t;
  t.tid = tid;
  t.duration_s = session.duration_s;
  t.resume_traced_s = session.resume_traced_s;  // sampled or degraded: resumes cover this time only
  if (auto r = session.kernel_resumes.find(tid); r != session.kernel_resumes.end()) t.resumes = r->second;
  const size_t n = session.routines.front().window.window.size();
  t.p_overwritten.assign(n, 0);
  t.p_possible.assign(n, 0);
  for (const auto& c : session.signal_counts) {
    if (c.key.tid != tid || c.key.delivery != UT_DELIVERY_INTERRUPT || c.count == 0) continue;
    t.async_signals += c.count;
    const auto& fates = fates_by_signal.at(c.key.sig);
    for (size_t i = 0; i < n && i < fates.size(); ++i) {
      t.p_overwritten[i] += static_cast<double>(c.count) * fates[i].p_overwritten();
      t.p_possible[i] += static_cast<double>(c.count) * fates[i].p_possible();
    }
  }
  for (size_t i = 0; i < n && t.async_signals; ++i) {
    t.p_overwritten[i] /= static_cast<double>(t.async_signals);
    t.p_possible[i] /= static_cast<double>(t.async_signals);
  }
  t.observed_hits = tally.hits.interrupt;  // what the model predicts: fresh landings
  if (session.slot_checks_attached) {
    auto checks = session.slot_checks.find(tid);
    t.observed_corruptions = checks != session.slot_checks.end() ? checks->second.overwritten : 0;
  }
  for (const auto& crash : crashes)
    if (crash.fatal.tid == tid && crash.signature.verdict != model::CrashVerdict::Unrelated) ++t.observed_crashes;
  return t;
}

nlohmann::json rate_json(const model::Rate& r) {
  auto finite = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); };
  return {{"value", finite(r.value)}, {"low", finite(r.ci.low)}, {"high", finite(r.ci.high)}};
}

nlohmann::json observed_json(const model::ObservedRate& o) {
  return {{"count", o.count}, {"per_s", o.per_s}, {"low_per_s", o.ci_per_s.low}, {"high_per_s", o.ci_per_s.high}};
}

nlohmann::json prediction_json(const model::Prediction& p) {
  return {{"tid", p.tid},
          {"resumes_per_s", p.resumes_per_s},
          {"async_signals_per_s", p.async_signals_per_s},
          {"hits_per_s", rate_json(p.hits_per_s)},
          {"corruptions_per_s", rate_json(p.corruptions_per_s)},
          {"corruptions_upper_per_s", p.corruptions_upper_per_s},
          {"crashes_per_s", rate_json(p.crashes_per_s)},
          {"mtbf_s", rate_json(p.mtbf_s)},
          {"observed_hits", observed_json(p.observed_hits)},
          {"observed_corruptions", p.observed_corruptions ? observed_json(*p.observed_corruptions) : nlohmann::json(nullptr)},
          {"observed_crashes", observed_json(p.observed_crashes)},
          {"hits_given_routine_per_s", p.hits_given_routine_per_s ? rate_json(*p.hits_given_routine_per_s) : nlohmann::json(nullptr)},
          {"routine_landings", p.routine_landings}};
}

std::string duration_text(double s) {
  if (!std::isfinite(s)) return "never";
  if (s < 120) return fmt::format("{:.3g} s", s);
  if (s < 7200) return fmt::format("{:.3g} min", s / 60);
  if (s < 2 * 86400) return fmt::format("{:.3g} h", s / 3600);
  if (s < 2 * 31557600) return fmt::format("{:.3g} days", s / 86400);
  return fmt::format("{:.3g} years", s / 31557600);
}

}  // namespace

std::optional<ModelSection> build_model_section(const model::Session& session, const model::Joiner& joiner) {
  if (session.routines.empty() || session.frame_map.empty()) return std::nullopt;
  ModelSection section;
  section.crashes = crash_rows(session, joiner);
  if (session.slot_checks_attached) {
    section.slot_checks.emplace();
    for (const auto& [tid, c] : session.slot_checks) {
      section.slot_checks->checked += c.checked;
      section.slot_checks->overwritten += c.overwritten;
      section.slot_checks->unreadable += c.unreadable;
      section.slot_checks->return_address += c.return_address;
    }
  }
  const auto flags = seen_handler_flags(joiner);
  const auto values = slot_value_sample(session, joiner);
  const model::ResumeShapes& all = joiner.shapes();
  section.shapes.assign(all.counts().begin(), all.counts().end());
  std::sort(section.shapes.begin(), section.shapes.end(), [](auto& a, auto& b) { return a.second > b.second; });
  if (section.shapes.size() > kListedShapes) section.shapes.resize(kListedShapes);
  std::map<int32_t, bool> interrupt_sigs;
  for (const auto& c : session.signal_counts)
    if (c.key.delivery == UT_DELIVERY_INTERRUPT && c.count) interrupt_sigs[c.key.sig] = true;
  FatesBySignal fates_by_signal;
  for (const auto& [sig, unused] : interrupt_sigs) {
    HandlerGeometry h;
    h.sig = sig;
    h.name = host::signal_name(sig);
    auto f = flags.find(sig);
    h.flags_assumed = f == flags.end();
    h.flags = h.flags_assumed ? kAssumedFlags : f->second;
    h.window = model::resume_fates(all, session.routines, h.flags, session.frame_map, values);
    fates_by_signal[sig] = model::resume_fates(all, {session.routines.front()}, h.flags, session.frame_map, values);
    section.handlers.push_back(std::move(h));
  }
  if (!session.landing) {
    section.no_prediction = "no landing calibration for this CPU model (unwindtrace calibrate --landing 30)";
    return section;
  }
  const auto landing = model::landing_input(*session.landing, session.routines.front().window);
  std::vector<model::ThreadInput> inputs;
  // Every thread that resumed, not only those that took a signal inside the routine.
  std::map<uint32_t, model::ThreadTally> tallies = joiner.threads();
  for (const auto& [tid, resumes] : session.kernel_resumes) tallies.try_emplace(tid);
  for (const auto& [tid, tally] : tallies) {
    inputs.push_back(thread_input(session, tid, tally, fates_by_signal, section.crashes));
    section.threads.push_back(model::predict_thread(landing, inputs.back()));
  }
  section.process = model::predict_process(landing, inputs);
  section.process->routine_landings = live_landings_elsewhere(session, joiner);
  section.process->hits_given_routine_per_s =
      model::hits_given_routine(landing, section.process->routine_landings, session.duration_s);
  return section;
}

nlohmann::json model_json(const ModelSection& section) {
  nlohmann::json handlers = nlohmann::json::array();
  for (const auto& h : section.handlers) {
    nlohmann::json window = nlohmann::json::array();
    for (const auto& f : h.window) {
      nlohmann::json fates;
      for (size_t i = 0; i < model::kSlotFates; ++i) fates[model::to_string(static_cast<model::SlotFate>(i))] = f.resumes[i];
      window.push_back({{"routine", f.routine},
                        {"offset", fmt::format("{:#x}", f.offset)},
                        {"class", analysis::to_key(f.cls)},
                        {"resumes", fates},
                        {"min_handler_bytes", f.min_handler_bytes ? nlohmann::json(*f.min_handler_bytes) : nlohmann::json(nullptr)},
                        {"value_differs_resumes", f.value_differs_resumes ? nlohmann::json(*f.value_differs_resumes) : nlohmann::json(nullptr)},
                        {"sampled_values", f.sampled_values},
                        {"p_overwritten", f.p_overwritten()},
                        {"p_possible", f.p_possible()}});
    }
    handlers.push_back({{"signal", h.sig}, {"name", h.name}, {"siginfo", bool(h.flags & UT_SIG_SIGINFO)},
                        {"altstack", bool(h.flags & UT_SIG_ONSTACK) && bool(h.flags & UT_SIG_ALTSTACK_SET)},
                        {"flags_assumed", h.flags_assumed}, {"window", window}});
  }
  nlohmann::json threads = nlohmann::json::array();
  for (const auto& t : section.threads) threads.push_back(prediction_json(t));
  nlohmann::json shapes = nlohmann::json::array();
  for (const auto& [shape, count] : section.shapes)
    shapes.push_back({{"routine", shape.routine}, {"distance", shape.distance}, {"sp_align", shape.sp_align},
                      {"resumes", count}});
  nlohmann::json crashes = nlohmann::json::array();
  for (const auto& c : section.crashes)
    crashes.push_back({{"tid", c.fatal.tid}, {"signal", c.fatal.sig}, {"ip", fmt::format("{:#x}", c.fatal.ip)},
                       {"fault_addr", fmt::format("{:#x}", c.fatal.fault_addr)},
                       {"kind", model::to_string(c.signature.kind)}, {"verdict", model::to_string(c.signature.verdict)},
                       {"summary", c.signature.summary}});
  nlohmann::json checks = nullptr;
  if (section.slot_checks)
    checks = {{"checked", section.slot_checks->checked}, {"overwritten", section.slot_checks->overwritten},
              {"return_address", section.slot_checks->return_address},
              {"unreadable", section.slot_checks->unreadable}};
  return {{"resume_shapes", shapes},
          {"slot_checks", checks},
          {"crashes", crashes},
          {"geometry", handlers},
          {"prediction", section.process ? prediction_json(*section.process) : nlohmann::json(nullptr)},
          {"threads", threads},
          {"no_prediction", section.no_prediction.empty() ? nlohmann::json(nullptr) : nlohmann::json(section.no_prediction)}};
}

void render_model(std::string& out, const ModelSection& section) {
  auto put = std::back_inserter(out);
  for (const auto& c : section.crashes) fmt::format_to(put, "\nFatal signal, tid {}: {}\n", c.fatal.tid, c.signature.summary);
  out += "\nGeometry of the resumes seen (what a hit at each window instruction would do):\n";
  for (const auto& h : section.handlers) {
    fmt::format_to(put, "  {} handler ({}{}{}):\n", h.name, h.flags & UT_SIG_SIGINFO ? "SA_SIGINFO" : "plain",
                   (h.flags & UT_SIG_ONSTACK) && (h.flags & UT_SIG_ALTSTACK_SET) ? ", alt stack" : "",
                   h.flags_assumed ? ", assumed" : "");
    for (const auto& f : h.window) {
      auto n = [&](model::SlotFate fate) { return f.resumes[static_cast<size_t>(fate)]; };
      fmt::format_to(put, "    {:#x} {:<14} overwritten {} / if value differs {}{} / if vector state {} / if handler stack {}{} / never {}\n",
                     f.offset, analysis::to_string(f.cls), n(model::SlotFate::Overwritten),
                     n(model::SlotFate::IfValueDiffers),
                     f.value_differs_resumes ? fmt::format(" (~{:.0f} differ, {} values sampled)", *f.value_differs_resumes, f.sampled_values) : "",
                     n(model::SlotFate::IfVectorState), n(model::SlotFate::IfHandlerStack),
                     f.min_handler_bytes ? fmt::format(" (>= {} B)", *f.min_handler_bytes) : "", n(model::SlotFate::Never));
    }
  }
  if (!section.process) {
    fmt::format_to(put, "Model: {}\n", section.no_prediction);
    return;
  }
  const auto& p = *section.process;
  fmt::format_to(put, "Model (docs/model.md): R = {:.0f} resumes/s, S = {:.0f} interrupt signals/s\n",
                 p.resumes_per_s, p.async_signals_per_s);
  fmt::format_to(put, "  window hits/s   predicted {:.3g} (95 % {:.3g}-{:.3g}), observed {:.3g} ({} hits)\n",
                 p.hits_per_s.value, p.hits_per_s.ci.low, p.hits_per_s.ci.high, p.observed_hits.per_s,
                 p.observed_hits.count);
  if (p.hits_given_routine_per_s)
    fmt::format_to(put, "                  given the {} signals that landed elsewhere in the routine: {:.3g} (95 % {:.3g}-{:.3g})\n",
                   p.routine_landings, p.hits_given_routine_per_s->value, p.hits_given_routine_per_s->ci.low,
                   p.hits_given_routine_per_s->ci.high);
  fmt::format_to(put, "  corruptions/s   predicted {:.3g} (95 % {:.3g}-{:.3g}; up to {:.3g} with vector state or "
                      "handler stack), measured {}\n",
                 p.corruptions_per_s.value, p.corruptions_per_s.ci.low, p.corruptions_per_s.ci.high,
                 p.corruptions_upper_per_s,
                 p.observed_corruptions && section.slot_checks
                     ? fmt::format("{:.3g} ({} of {} hits checked had the slot changed)", p.observed_corruptions->per_s,
                                   p.observed_corruptions->count, section.slot_checks->checked)
                                        : std::string("not measured"));
  fmt::format_to(put, "  crashes/s       predicted {:.3g} (95 % {:.3g}-{:.3g}): corruptions of the return address\n",
                 p.crashes_per_s.value, p.crashes_per_s.ci.low, p.crashes_per_s.ci.high);
  fmt::format_to(put, "  MTBF            {} (95 % {} - {}), from the crash rate\n", duration_text(p.mtbf_s.value),
                 duration_text(p.mtbf_s.ci.low), duration_text(p.mtbf_s.ci.high));
}

}  // namespace ut::output
