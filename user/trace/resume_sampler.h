// The duty cycle of sampled mode, apart from what it switches: resume tracing goes on at the
// start of every period, or as soon after it as the trace loop wakes (an absolute schedule: no drift) and off `on_s` after the flag went up. The caller
// supplies the switching (attach probes, then raise the period flag; lower it, then detach) and
// is told each period's exact on-time: the time between raising and lowering the flag, during
// which every resume is counted. Full mode is the same with a fraction of 1 (never switched off
// until finish()). Any session (one process, several, host-wide) can drive one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "model/sampling.h"

namespace ut::trace {

struct ResumeSwitch {
  std::function<void()> attach;             // attach every resume probe
  std::function<void(uint32_t)> set_period;  // the kernel's flag: a new non-zero value, or 0
  std::function<void()> detach;             // detach them again
  std::function<void(double)> period_ended;  // with its exact on-time, in seconds, flag lowered
};

class ResumeSampler {
 public:
  using Clock = std::chrono::steady_clock;

  ResumeSampler(model::DutyCycle cycle, ResumeSwitch on_off);

  // Switches on or off when due (the first call switches on). Returns how long until the next
  // switch, so a poll loop can wake up for it.
  Clock::duration tick(Clock::time_point now = Clock::now());
  // Ends an on-period early (end of the trace); nothing happens after this.
  void finish();

  bool on() const { return on_; }
  uint32_t period() const { return period_; }     // current or last period, from 1
  double on_s() const { return on_s_; }           // total exact on-time of ended periods
  Clock::time_point on_since() const { return on_since_; }  // when the flag went up, if on()
  const model::DutyCycle& cycle() const { return cycle_; }

 private:
  void switch_on();
  void switch_off();

  model::DutyCycle cycle_;
  ResumeSwitch switch_;
  bool started_ = false;
  bool finished_ = false;
  bool on_ = false;
  uint32_t period_ = 0;    // the kernel flag's value: one per switch-on
  uint64_t on_index_ = 0;  // which period of the schedule was last switched on
  Clock::time_point first_start_{};
  Clock::time_point on_since_{};
  double on_s_ = 0;
};

}  // namespace ut::trace
