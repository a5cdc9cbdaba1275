#include "output/record_builder.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "host/signal_names.h"
#include "model/count_intervals.h"
#include "model/crash_signature.h"

namespace ut::output {

namespace {

using nlohmann::json;

std::string hex(uint64_t address) { return fmt::format("{:#x}", address); }

json envelope(const char* kind, const host::HostIdentity& host, const std::string& time) {
  return {{"schema", kRecordSchemaVersion},
          {"kind", kind},
          {"time", time},
          {"host", host.info.hostname},
          {"boot_id", host.boot_id}};
}

json optional_int(const std::optional<int>& value) { return value ? json(*value) : json(nullptr); }

bool corrupts(const model::JoinedSignal& hit) {
  if (hit.window_class != analysis::ReadClass::ReturnAddress || !hit.geometry) return false;
  auto placement = hit.geometry->placement;
  return placement == model::SlotPlacement::Inside || placement == model::SlotPlacement::Edge;
}

// A stuck thread's later hits are its loop rewriting the slot with the routine's own address:
// not a crash to come (docs/model.md, "Stuck threads").
bool in_stuck_loop(const Report& report, const model::JoinedSignal& hit) {
  return std::any_of(report.stuck_threads.begin(), report.stuck_threads.end(), [&hit](const StuckRow& row) {
    return row.tid == hit.tid && hit.ktime_ns >= row.stuck.since_ns;
  });
}

json hits_by_placement(const model::HitTally& hits) {
  json out;
  for (size_t p = 0; p < model::kSlotPlacements; ++p)
    out[model::to_string(static_cast<model::SlotPlacement>(p))] = hits.by_placement[p];
  out["unknown"] = hits.geometry_unknown;
  return out;
}

json routines_json(const Report& report) {
  json out = json::array();
  for (const RoutineSection& r : report.routines)
    out.push_back({{"symbol", r.symbol},
                   {"object", r.object_path},
                   {"build_id", r.build_id},
                   {"window_instructions", r.window_instructions},
                   {"signals_interrupt", r.signals[UT_DELIVERY_INTERRUPT]},
                   {"signals_syscall", r.signals[UT_DELIVERY_SYSCALL]}});
  return out;
}

}  // namespace

CrashSignature fault_signature(int32_t sig, uint64_t ip, uint64_t sp) {
  CrashSignature crash;
  crash.sig = sig;
  crash.fault_ip = ip;
  crash.return_to_zero = ip == 0;
  crash.non_canonical_ip = !model::is_canonical(ip);
  crash.rsp_misaligned_by_8 = (sp & 0xf) == 8;
  return crash;
}

CorruptionEstimate estimate_corruptions(const Report& report, double confidence) {
  CorruptionEstimate estimate;
  estimate.confidence = confidence;
  uint64_t kept = 0;
  uint64_t kept_stuck = 0;
  for (const HitRow& row : report.hits) {
    if (in_stuck_loop(report, row.hit)) {
      ++kept_stuck;
      continue;
    }
    ++kept;
    if (corrupts(row.hit)) ++estimate.corrupting_hits;
  }
  // Hits beyond the kept ones are counted but not kept: scale by the kept ones' share, stuck
  // loops' hits left out of both.
  const uint64_t stuck_not_kept = report.stuck_hits - std::min(report.stuck_hits, kept_stuck);
  const uint64_t not_kept = report.hits_not_listed - std::min(report.hits_not_listed, stuck_not_kept);
  if (not_kept > 0 && kept > 0)
    estimate.corrupting_hits = static_cast<uint64_t>(std::llround(
        static_cast<double>(estimate.corrupting_hits) * static_cast<double>(kept + not_kept) /
        static_cast<double>(kept)));
  if (report.duration_s <= 0) return estimate;
  auto interval = model::poisson_interval(estimate.corrupting_hits, confidence);
  estimate.per_s = static_cast<double>(estimate.corrupting_hits) / report.duration_s;
  estimate.low_per_s = interval.low / report.duration_s;
  estimate.high_per_s = interval.high / report.duration_s;
  return estimate;
}

json host_record(const host::HostIdentity& host, const std::optional<host::FrameSize>& frame,
                 const std::string& time, const model::CpuBudget* budget) {
  json record = envelope("host", host, time);
  record["cpu_model"] = host.info.cpu_model;
  record["kernel"] = host.info.kernel_release;
  record["xsave_features"] = host.xsave_features;
  record["calibration"] = {
      {"signal_frame_bytes",
       frame ? json{{"min", frame->min_bytes}, {"max", frame->max_bytes}} : json(nullptr)}};
  if (budget) {
    auto used = budget->used_percent();
    record["cpu_budget"] = {{"percent", budget->policy().percent},
                            {"window_s", budget->policy().window_s},
                            {"level", model::to_string(budget->level())},
                            {"used_percent", used ? json(*used) : json(nullptr)},
                            {"degradations", budget->degradations()},
                            {"recoveries", budget->recoveries()}};
  } else {
    record["cpu_budget"] = nullptr;
  }
  return record;
}

json process_record(const Report& report, const host::HostIdentity& host, const ProcessFacts& facts,
                    uint64_t records_dropped) {
  json record = envelope("process", host, report.ended_at);
  const Activity& a = report.process;
  auto estimate = estimate_corruptions(report);
  uint64_t interrupt_signals = 0;
  for (const SignalRow& row : a.signals) interrupt_signals += row.by_delivery[UT_DELIVERY_INTERRUPT];
  record["pid"] = report.pid;
  record["process_start_ticks"] = facts.start_ticks;
  record["ns_pid"] = optional_int(facts.placement.namespace_pid);
  record["cgroup"] = facts.placement.cgroup;
  record["container_id"] = facts.placement.container_id;
  record["comm"] = report.comm;
  record["exe"] = report.exe;
  record["exe_build_id"] = facts.exe_build_id;
  record["unwinder"] = {{"binding", report.unwinder},
                        {"object", facts.unwinder_object},
                        {"build_id", facts.unwinder_build_id},
                        {"package", facts.unwinder_package}};
  record["mode"] = model::to_string(report.mode);
  record["sample_duty"] = report.duty_cycle ? report.duty_cycle->fraction : 1.0;
  record["started_at"] = report.started_at;
  record["ended_at"] = report.ended_at;
  record["duration_s"] = report.duration_s;
  record["target_exited"] = report.target_exited || !report.target_change.empty();  // exited or exec'd
  record["exposure"] = to_string(report.exposure);
  record["rates"] = {{"resumes_per_s", a.resumes_per_s ? json(*a.resumes_per_s) : json(nullptr)},
                     {"signals_per_s", a.signals_per_s},
                     {"interrupt_signals_per_s", a.interrupt_signals_per_s}};
  record["counts"] = {{"resumes", a.resumes},
                      {"signals", a.signals_total},
                      {"interrupt_signals", interrupt_signals},
                      {"routine_signals_interrupt", a.routine_signals[UT_DELIVERY_INTERRUPT]},
                      {"routine_signals_syscall", a.routine_signals[UT_DELIVERY_SYSCALL]}};
  record["hits"] = {{"total", a.hits.total},
                    {"return_address", a.hits.return_address},
                    {"register", a.hits.register_read},
                    {"corrupting", estimate.corrupting_hits},
                    {"stuck_threads", report.stuck_threads.size()},
                    {"stuck_loop", report.stuck_hits}};
  record["geometry"] = {
      {"signal_frame_bytes", report.frame_size ? json{{"min", report.frame_size->min_bytes},
                                                      {"max", report.frame_size->max_bytes}}
                                               : json(nullptr)},
      {"distance_median_from", report.distance.median_bucket() ? json(*report.distance.median_bucket()) : json(nullptr)},
      {"hits_by_placement", hits_by_placement(a.hits)}};
  record["model"] = {{"source", "observed"},
                     {"predicted_crashes_per_s", estimate.per_s},
                     {"low_per_s", estimate.low_per_s},
                     {"high_per_s", estimate.high_per_s},
                     {"confidence", estimate.confidence}};
  // The exposure model of the trace (rates, calibrated landing, geometry per handler,
  // predicted vs observed), exactly as `attach --json` reports it.
  record["exposure_model"] = report.model ? model_json(*report.model) : json(nullptr);
  record["lost_events"] = {{"signal", report.lost.kernel[UT_LOST_SIGNAL]},
                           {"uncounted", report.lost.kernel[UT_LOST_COUNTER]}};
  record["records_dropped"] = records_dropped;
  record["cpu_budget_level"] = facts.cpu_budget_level ? json(model::to_string(*facts.cpu_budget_level)) : json(nullptr);
  record["routines"] = routines_json(report);
  return record;
}

json crash_record(const CrashSignature& crash, const host::HostIdentity& host, const std::string& time) {
  json record = envelope("crash", host, time);
  record["pid"] = crash.pid;
  record["ns_pid"] = optional_int(crash.namespace_pid);
  record["container_id"] = crash.container_id;
  record["comm"] = crash.comm;
  record["exe"] = crash.exe;
  record["signal"] = host::signal_name(crash.sig);
  record["fault_ip"] = hex(crash.fault_ip);
  record["fault_addr"] = hex(crash.fault_addr);
  record["fatal"] = crash.fatal;
  record["return_to_zero"] = crash.return_to_zero;
  record["non_canonical_ip"] = crash.non_canonical_ip;
  record["rsp_misaligned_by_8"] = crash.rsp_misaligned_by_8;
  record["inside_unwinder"] = crash.inside_unwinder;
  record["window_hit_before"] = crash.window_hit_before;
  return record;
}

}  // namespace ut::output
