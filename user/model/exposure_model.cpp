#include "model/exposure_model.h"

#include <algorithm>

namespace ut::model {

namespace {

// Σ_i landings_i · weight_i and the landings behind it (instructions with a nonzero weight).
struct Weighted {
  double landings = 0;        // Σ landings_i · weight_i
  uint64_t support = 0;       // Σ landings_i over weight_i > 0
  double max_weight = 0;
};

Weighted weigh(const LandingInput& landing, const std::vector<double>& weights) {
  Weighted w;
  for (size_t i = 0; i < landing.window.size(); ++i) {
    const double weight = i < weights.size() ? weights[i] : 0;
    if (weight <= 0) continue;
    w.landings += static_cast<double>(landing.window[i].landings) * weight;
    w.support += landing.window[i].landings;
    w.max_weight = std::max(w.max_weight, weight);
  }
  return w;
}

// exposure = Σ_threads S·R (per s²); the rate is exposure · seconds_per_landing · weighted
// landings, and its interval scales with the exact interval of the landings it rests on.
Rate scaled_rate(double exposure, double seconds_per_landing, const Weighted& w) {
  const double per_landing = exposure * seconds_per_landing;
  const Interval landings = poisson_interval(w.support);
  Rate rate;
  rate.value = per_landing * w.landings;
  if (w.support == 0) {
    rate.ci = {0, per_landing * landings.high * w.max_weight};
    return rate;
  }
  const double fraction = w.landings / static_cast<double>(w.support);
  rate.ci = {per_landing * landings.low * fraction, per_landing * landings.high * fraction};
  return rate;
}

Rate inverse(const Rate& rate) {
  auto inv = [](double x) { return x > 0 ? 1 / x : kForever; };
  return {inv(rate.value), {inv(rate.ci.high), inv(rate.ci.low)}};
}

std::vector<double> all_ones(size_t n) { return std::vector<double>(n, 1.0); }

}  // namespace

ObservedRate observed_rate(uint64_t count, double duration_s) {
  ObservedRate rate;
  rate.count = count;
  if (duration_s <= 0) return rate;
  const Interval ci = poisson_interval(count);
  rate.per_s = static_cast<double>(count) / duration_s;
  rate.ci_per_s = {ci.low / duration_s, ci.high / duration_s};
  return rate;
}

std::optional<Rate> hits_given_routine(const LandingInput& landing, uint64_t live_elsewhere, double duration_s) {
  if (landing.landings_elsewhere == 0 || duration_s <= 0) return std::nullopt;
  uint64_t window = 0;
  for (const auto& insn : landing.window) window += insn.landings;
  const double per_landing =
      static_cast<double>(live_elsewhere) / duration_s / static_cast<double>(landing.landings_elsewhere);
  const Interval ci = poisson_interval(window);
  return Rate{per_landing * static_cast<double>(window), {per_landing * ci.low, per_landing * ci.high}};
}

Prediction predict_thread(const LandingInput& landing, const ThreadInput& thread) {
  return predict_process(landing, {thread});
}

Prediction predict_process(const LandingInput& landing, const std::vector<ThreadInput>& threads) {
  Prediction p;
  if (threads.size() == 1) p.tid = threads.front().tid;
  double hit_exposure = 0;  // Σ S·R
  double duration = 0;
  uint64_t hits = 0, crashes = 0, corruptions = 0;
  bool corruptions_measured = !threads.empty();
  // Per-thread geometry weights differ, so the weighted landings are exposure-weighted averages.
  std::vector<double> p_overwritten(landing.window.size(), 0), p_possible(landing.window.size(), 0);
  for (const auto& t : threads) {
    if (t.duration_s <= 0) continue;
    const double r = static_cast<double>(t.resumes) / (t.resume_traced_s > 0 ? t.resume_traced_s : t.duration_s);
    const double s = static_cast<double>(t.async_signals) / t.duration_s;
    p.resumes_per_s += r;
    p.async_signals_per_s += s;
    hit_exposure += s * r;
    for (size_t i = 0; i < landing.window.size(); ++i) {
      p_overwritten[i] += s * r * (i < t.p_overwritten.size() ? t.p_overwritten[i] : 0);
      p_possible[i] += s * r * (i < t.p_possible.size() ? t.p_possible[i] : 0);
    }
    duration = std::max(duration, t.duration_s);
    hits += t.observed_hits;
    crashes += t.observed_crashes;
    if (t.observed_corruptions) corruptions += *t.observed_corruptions;
    else corruptions_measured = false;
  }
  if (hit_exposure > 0)
    for (size_t i = 0; i < landing.window.size(); ++i) {
      p_overwritten[i] /= hit_exposure;
      p_possible[i] /= hit_exposure;
    }
  p.hits_per_s = scaled_rate(hit_exposure, landing.seconds_per_landing,
                             weigh(landing, all_ones(landing.window.size())));
  p.corruptions_per_s = scaled_rate(hit_exposure, landing.seconds_per_landing, weigh(landing, p_overwritten));
  p.corruptions_upper_per_s =
      scaled_rate(hit_exposure, landing.seconds_per_landing, weigh(landing, p_possible)).value;
  std::vector<double> p_crash(landing.window.size(), 0);
  for (size_t i = 0; i < landing.window.size(); ++i)
    if (landing.window[i].return_address) p_crash[i] = p_overwritten[i];
  p.crashes_per_s = scaled_rate(hit_exposure, landing.seconds_per_landing, weigh(landing, p_crash));
  p.mtbf_s = inverse(p.crashes_per_s);
  p.observed_hits = observed_rate(hits, duration);
  p.observed_crashes = observed_rate(crashes, duration);
  if (corruptions_measured) p.observed_corruptions = observed_rate(corruptions, duration);
  return p;
}

}  // namespace ut::model
