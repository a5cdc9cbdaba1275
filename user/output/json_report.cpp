#include "host/signal_names.h"
#include "output/json_report.h"

#include <fmt/format.h>

namespace ut::output {
namespace {

using nlohmann::json;

// JSON numbers lose precision above 2^53 in most readers: addresses go as hex strings.
std::string hex(uint64_t address) { return fmt::format("{:#x}", address); }

// Schema names, independent of the analysis stage's display strings.
json optional_class(const std::optional<analysis::ReadClass>& cls) {
  return cls ? json(analysis::to_key(*cls)) : json(nullptr);
}

json optional_number(const std::optional<double>& value) {
  return value ? json(*value) : json(nullptr);
}

json sampling_json(const Report& report) {
  if (!report.duty_cycle) return nullptr;
  return {{"percent", report.duty_cycle->fraction * 100},
          {"period_s", report.duty_cycle->period_s},
          {"periods", report.sampled_periods}};
}

json deliveries(const model::DeliveryCounts& counts) {
  return {{"interrupt", counts[UT_DELIVERY_INTERRUPT]}, {"syscall", counts[UT_DELIVERY_SYSCALL]}};
}

json hits_json(const model::HitTally& hits) {
  json geometry;
  for (size_t p = 0; p < model::kSlotPlacements; ++p)
    geometry[model::to_string(static_cast<model::SlotPlacement>(p))] = hits.by_placement[p];
  geometry["unknown"] = hits.geometry_unknown;
  return {{"total", hits.total},
          {"interrupt", hits.interrupt},
          {"return_address", hits.return_address},
          {"register", hits.register_read},
          {"geometry", geometry}};
}

json distance_json(const model::DistanceHistogram& d) {
  json buckets = json::array();
  for (const auto& [start, n] : d.buckets()) buckets.push_back({{"from", start}, {"count", n}});
  json median = nullptr;
  if (const auto start = d.median_bucket())
    median = {{"from", *start}, {"to", *start + model::DistanceHistogram::kBucketBytes - 1}};
  return {{"count", d.count()},
          {"min", d.min() ? json(*d.min()) : json(nullptr)},
          {"max", d.max() ? json(*d.max()) : json(nullptr)},
          {"median_bucket", median},
          {"bucket_bytes", model::DistanceHistogram::kBucketBytes},
          {"buckets", buckets}};
}

json activity_json(const Activity& a) {
  json by_signal = json::array();
  for (const SignalRow& row : a.signals)
    by_signal.push_back({{"sig", row.sig},
                         {"name", row.name},
                         {"interrupt", row.by_delivery[UT_DELIVERY_INTERRUPT]},
                         {"syscall", row.by_delivery[UT_DELIVERY_SYSCALL]},
                         {"total", row.total},
                         {"per_s", row.per_s}});
  json missing;
  for (size_t r = 0; r < model::kMissingResumeReasons; ++r)
    missing[model::to_string(static_cast<model::MissingResume>(r))] = a.resume_missing[r];
  return {{"resumes",
           {{"count", a.resumes},
            {"per_s", optional_number(a.resumes_per_s)},
            {"per_s_error", optional_number(a.resumes_per_s_error)},
            {"estimated", a.resumes_estimated}}},
          {"signals",
           {{"total", a.signals_total},
            {"per_s", a.signals_per_s},
            {"interrupt_per_s", a.interrupt_signals_per_s},
            {"by_signal", by_signal}}},
          {"in_routine", deliveries(a.routine_signals)},
          {"hits", hits_json(a.hits)},
          {"resume_missing", missing}};
}

// The process's activity, and D of every traced resume (the kernel counts shapes per process).
json process_json(const Report& report) {
  json process = activity_json(report.process);
  process["distance"] = distance_json(report.distance);
  return process;
}

json routine_json(const RoutineSection& r) {
  json probes = json::array();
  for (const analysis::ProbePoint& p : r.probes)
    probes.push_back({{"function", p.function},
                      {"vaddr", hex(p.vaddr)},
                      {"file_offset", hex(p.file_offset)},
                      {"instruction", p.text},
                      {"emulated", p.emulated},
                      {"reason", p.reason}});
  json listing = json::array();
  for (const ListingRow& row : r.listing)
    listing.push_back({{"offset", row.offset},
                       {"text", row.text},
                       {"stack_switch", row.stack_switch},
                       {"window_class", optional_class(row.window_class)},
                       {"signals", deliveries(row.signals)}});
  return {{"index", r.index},
          {"symbol", r.symbol},
          {"object_path", r.object_path},
          {"build_id", r.build_id},
          {"start", hex(r.start)},
          {"window_instructions", r.window_instructions},
          {"probes", probes},
          {"signals", deliveries(r.signals)},
          {"listing", listing}};
}

json hit_json(const HitRow& row) {
  const model::JoinedSignal& h = row.hit;
  json slot = {{"addr", hex(h.slot_addr)},
               {"value", hex(h.slot_value)},
               {"placement", nullptr},
               {"reach_bytes", nullptr},
               {"handler_bytes", nullptr}};
  if (h.geometry) {
    slot["placement"] = model::to_string(h.geometry->placement);
    slot["reach_bytes"] = h.geometry->reach_bytes;
    slot["handler_bytes"] = h.geometry->handler_bytes;
  }
  json resume = nullptr;
  if (h.resume)
    resume = {{"seq", h.resume->seq},
              {"target_ip", hex(h.resume->target_ip)},
              {"target_sp", hex(h.resume->target_sp)},
              {"ctx", hex(h.resume->ctx)}};
  return {{"time_s", row.time_s},
          {"ktime_ns", h.ktime_ns},
          {"tid", h.tid},
          {"tgid", h.tgid},
          {"sig", h.sig},
          {"signal", host::signal_name(h.sig)},
          {"delivery", delivery_name(h.delivery)},
          {"routine", h.routine},
          {"symbol", row.routine},
          {"offset", h.offset},
          {"instruction", row.instruction},
          {"class", optional_class(h.window_class)},
          {"ip", hex(h.ip)},
          {"sp", hex(h.sp)},
          {"ctx", hex(h.ctx)},
          {"flags", h.flags},
          {"distance", h.distance ? json(*h.distance) : json(nullptr)},
          {"slot", slot},
          {"resume_seq", h.resume_seq},
          {"resume", resume},
          {"resume_missing",
           h.resume_missing ? json(model::to_string(*h.resume_missing)) : json(nullptr)}};
}

json stuck_json(const Report& report) {
  json threads = json::array();
  for (const StuckRow& row : report.stuck_threads) {
    const auto& target = row.stuck.returns_to;
    json returns_to = nullptr;
    if (target)
      returns_to = {{"address", hex(target->address)},
                    {"routine", target->routine},
                    {"symbol", row.returns_to_symbol},
                    {"offset", target->offset}};
    threads.push_back({{"tid", row.tid},
                       {"mark", model::to_string(row.stuck.mark)},
                       {"since_s", row.since_s},
                       {"routine", row.stuck.routine},
                       {"symbol", row.symbol},
                       {"offset", row.stuck.offset},
                       {"cause_s", row.cause_s ? json(*row.cause_s) : json(nullptr)},
                       {"returns_to", returns_to},
                       {"hits", row.stuck.hits},
                       {"last_hit_s", row.last_hit_s}});
  }
  return {{"count", report.stuck_threads.size()}, {"hits", report.stuck_hits}, {"threads", threads}};
}

}  // namespace

json to_json(const Report& report) {
  json threads = json::array();
  for (const Activity& t : report.threads) {
    json thread = activity_json(t);
    thread["tid"] = t.tid;
    threads.push_back(std::move(thread));
  }
  json routines = json::array();
  for (const RoutineSection& r : report.routines) routines.push_back(routine_json(r));
  json listed = json::array();
  for (const HitRow& row : report.hits) listed.push_back(hit_json(row));
  json frame = nullptr;
  if (report.frame_size)
    frame = {{"min_bytes", report.frame_size->min_bytes},
             {"max_bytes", report.frame_size->max_bytes}};

  return {{"schema_version", kReportSchemaVersion},
          {"target",
           {{"pid", report.pid},
            {"comm", report.comm},
            {"exe", report.exe},
            {"exited", report.target_exited},
            {"changed", report.target_change.empty() ? json(nullptr) : json(report.target_change)}}},
          {"trace",
           {{"started_at", report.started_at},
            {"ended_at", report.ended_at},
            {"duration_s", report.duration_s},
            {"mode", model::to_string(report.mode)},
            {"resume_traced_s", report.resume_traced_s},
            {"sampling", sampling_json(report)},
            {"load_ms", report.load_ms},
            {"attach_ms", report.attach_ms}}},
          {"host",
           {{"hostname", report.host.hostname},
            {"cpu_model", report.host.cpu_model},
            {"kernel_release", report.host.kernel_release}}},
          {"unwinder", report.unwinder},
          {"verdict", {{"exposure", to_string(report.exposure)}, {"text", report.verdict}}},
          {"lost",
           {{"signal_events", report.lost.kernel[UT_LOST_SIGNAL]},
            {"uncounted", report.lost.kernel[UT_LOST_COUNTER]}}},
          {"process", process_json(report)},
          {"threads", threads},
          {"routines", routines},
          {"signal_frame", frame},
          {"model", report.model ? model_json(*report.model) : json(nullptr)},
          {"hits",
           {{"total", report.process.hits.total},
            {"listed", listed},
            {"not_listed", report.hits_not_listed}}},
          {"stuck_threads", stuck_json(report)}};
}

std::string render_json(const Report& report) { return to_json(report).dump(2) + "\n"; }

}  // namespace ut::output
