#include "trace/resume_sampler.h"

#include <algorithm>
#include <cmath>

namespace ut::trace {

namespace {

ResumeSampler::Clock::duration seconds(double s) {
  return std::chrono::duration_cast<ResumeSampler::Clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

ResumeSampler::ResumeSampler(model::DutyCycle cycle, ResumeSwitch on_off)
    : cycle_(cycle), switch_(std::move(on_off)) {}

void ResumeSampler::switch_on() {
  switch_.attach();
  ++period_;
  switch_.set_period(period_);
  on_since_ = Clock::now();
  on_ = true;
}

void ResumeSampler::switch_off() {
  switch_.set_period(0);
  const double on_time = std::chrono::duration<double>(Clock::now() - on_since_).count();
  on_ = false;
  on_s_ += on_time;
  switch_.period_ended(on_time);
  switch_.detach();
}

ResumeSampler::Clock::duration ResumeSampler::tick(Clock::time_point now) {
  constexpr auto kNever = std::chrono::hours(24);
  if (finished_) return kNever;
  if (!started_) {
    started_ = true;
    first_start_ = now;
    switch_on();
  }
  if (cycle_.fraction >= 1.0) return kNever;
  const double elapsed = std::chrono::duration<double>(now - first_start_).count();
  const auto current = static_cast<uint64_t>(std::floor(elapsed / cycle_.period_s));
  const double into_period = elapsed - static_cast<double>(current) * cycle_.period_s;
  // On for on_s from the moment the flag went up (attaching takes a while on a busy host), so
  // the sampled share is what was asked for; periods start on the absolute schedule.
  auto on_for = [&] { return std::chrono::duration<double>(now - on_since_).count(); };
  if (on_ && (current != on_index_ || on_for() >= cycle_.on_s())) {
    switch_off();
  } else if (!on_ && current != on_index_ && into_period + cycle_.on_s() <= cycle_.period_s) {
    // A late wake (a loaded host, a slow detach of the last period's probes) still samples this
    // period if its whole on-time fits before the next one starts; otherwise it is skipped.
    on_index_ = current;
    switch_on();
    return seconds(cycle_.on_s());
  }
  const double next = on_ ? cycle_.on_s() - on_for() : cycle_.period_s - into_period;
  return seconds(std::max(next, 0.0));
}

void ResumeSampler::finish() {
  if (finished_) return;
  finished_ = true;
  if (on_) switch_off();
}

}  // namespace ut::trace
