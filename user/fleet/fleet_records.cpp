#include "fleet/fleet_records.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "errors.h"
#include "output/record_builder.h"

namespace ut::fleet {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

template <typename T>
T field(const json& record, const char* name) {
  auto it = record.find(name);
  if (it == record.end()) throw std::invalid_argument(fmt::format("no field \"{}\"", name));
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw std::invalid_argument(fmt::format("field \"{}\" has the wrong type ({})", name, it->type_name()));
  }
}

// Nullable fields of the schema.
template <typename T>
std::optional<T> nullable(const json& record, const char* name) {
  auto it = record.find(name);
  if (it == record.end() || it->is_null()) return std::nullopt;
  return field<T>(record, name);
}

HostRecord parse_host(const json& r) {
  HostRecord host;
  host.host = field<std::string>(r, "host");
  host.boot_id = field<std::string>(r, "boot_id");
  host.cpu_model = field<std::string>(r, "cpu_model");
  host.kernel = field<std::string>(r, "kernel");
  host.xsave_features = field<std::vector<std::string>>(r, "xsave_features");
  const json calibration = field<json>(r, "calibration");
  if (auto frame = nullable<json>(calibration, "signal_frame_bytes")) host.frame_max_bytes = field<uint32_t>(*frame, "max");
  return host;
}

ProcessRecord parse_process(const json& r) {
  ProcessRecord p;
  p.host = field<std::string>(r, "host");
  p.boot_id = field<std::string>(r, "boot_id");
  p.pid = field<int32_t>(r, "pid");
  p.process_start_ticks = field<uint64_t>(r, "process_start_ticks");
  p.started_at = field<std::string>(r, "started_at");
  p.comm = field<std::string>(r, "comm");
  p.exe = field<std::string>(r, "exe");
  p.exe_build_id = field<std::string>(r, "exe_build_id");
  p.container_id = field<std::string>(r, "container_id");
  p.mode = field<std::string>(r, "mode");
  p.exposure = field<std::string>(r, "exposure");
  p.duration_s = field<double>(r, "duration_s");
  if (p.duration_s < 0) throw std::invalid_argument("field \"duration_s\" is negative");
  const json unwinder = field<json>(r, "unwinder");
  p.unwinder_binding = field<std::string>(unwinder, "binding");
  p.unwinder_object = field<std::string>(unwinder, "object");
  p.unwinder_build_id = field<std::string>(unwinder, "build_id");
  p.unwinder_package = field<std::string>(unwinder, "package");
  const json rates = field<json>(r, "rates");
  p.resumes_per_s = nullable<double>(rates, "resumes_per_s").value_or(0);
  p.interrupt_signals_per_s = field<double>(rates, "interrupt_signals_per_s");
  const json hits = field<json>(r, "hits");
  p.hits = field<uint64_t>(hits, "total");
  p.corrupting_hits = field<uint64_t>(hits, "corrupting");
  p.stuck_threads = nullable<uint64_t>(hits, "stuck_threads").value_or(0);
  const json model = field<json>(r, "model");
  p.model_source = field<std::string>(model, "source");
  p.predicted_per_s = field<double>(model, "predicted_crashes_per_s");
  p.low_per_s = field<double>(model, "low_per_s");
  p.high_per_s = field<double>(model, "high_per_s");
  if (auto exposure_model = nullable<json>(r, "exposure_model"))
    if (auto prediction = nullable<json>(*exposure_model, "prediction")) {
      const json crashes = field<json>(*prediction, "crashes_per_s");
      auto value = nullable<double>(crashes, "value"), low = nullable<double>(crashes, "low"),
           high = nullable<double>(crashes, "high");
      if (value && low && high) p.model_crashes_per_s = ModelRate{*value, *low, *high};  // null: not finite
    }
  p.cpu_budget_level = nullable<std::string>(r, "cpu_budget_level").value_or("");
  const json lost = field<json>(r, "lost_events");
  // "resume" and "resume_seq_gaps": records of unwindtrace before resumes stopped crossing as events.
  p.lost_events = field<uint64_t>(lost, "signal");
  for (const char* name : {"resume", "resume_seq_gaps", "uncounted"})
    p.lost_events += nullable<uint64_t>(lost, name).value_or(0);
  p.records_dropped = field<uint64_t>(r, "records_dropped");
  return p;
}

CrashRecord parse_crash(const json& r) {
  CrashRecord c;
  c.host = field<std::string>(r, "host");
  c.time = field<std::string>(r, "time");
  c.pid = field<int32_t>(r, "pid");
  c.comm = field<std::string>(r, "comm");
  c.exe = field<std::string>(r, "exe");
  c.signal = field<std::string>(r, "signal");
  c.fault_ip = field<std::string>(r, "fault_ip");
  c.return_to_zero = field<bool>(r, "return_to_zero");
  c.non_canonical_ip = field<bool>(r, "non_canonical_ip");
  c.rsp_misaligned_by_8 = field<bool>(r, "rsp_misaligned_by_8");
  c.inside_unwinder = field<bool>(r, "inside_unwinder");
  c.window_hit_before = field<bool>(r, "window_hit_before");
  return c;
}

void load_file(const fs::path& path, RecordSet& set, const BadLineHandler& on_bad) {
  std::ifstream in(path);
  if (!in) throw UserError(ExitCode::Usage, fmt::format("cannot read {}: check the path and permissions", path.string()));
  ++set.files;
  std::string line, reason;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++set.lines;
    if (add_record_line(line, set, reason)) continue;
    ++set.bad_lines;
    if (on_bad) on_bad({fmt::format("{}:{}", path.string(), number), reason});
  }
}

}  // namespace

bool add_record_line(const std::string& line, RecordSet& set, std::string& reason) {
  json record = json::parse(line, nullptr, false);
  if (record.is_discarded() || !record.is_object()) {
    reason = "not a JSON object (a torn or foreign line?)";
    return false;
  }
  try {
    int schema = field<int>(record, "schema");
    if (schema != output::kRecordSchemaVersion) {
      reason = fmt::format("schema {} (this unwindtrace reads schema {})", schema, output::kRecordSchemaVersion);
      return false;
    }
    auto kind = field<std::string>(record, "kind");
    if (kind == "host") {
      auto host = parse_host(record);
      set.hosts[host.host] = std::move(host);
    } else if (kind == "process") {
      set.processes.push_back(parse_process(record));
    } else if (kind == "crash") {
      set.crashes.push_back(parse_crash(record));
    } else {
      reason = fmt::format("unknown record kind \"{}\"", kind);
      return false;
    }
  } catch (const std::invalid_argument& e) {
    reason = e.what();
    return false;
  }
  return true;
}

RecordSet load_records(const std::vector<std::string>& paths, const BadLineHandler& on_bad) {
  RecordSet set;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::recursive_directory_iterator(path, ec))
        if (entry.is_regular_file() && entry.path().extension() == ".jsonl") files.push_back(entry.path());
      if (ec) throw UserError(ExitCode::Usage, fmt::format("cannot list {}: {}", path, ec.message()));
      std::sort(files.begin(), files.end());
      for (const auto& file : files) load_file(file, set, on_bad);
    } else if (fs::exists(path, ec)) {
      load_file(path, set, on_bad);
    } else {
      throw UserError(ExitCode::Usage, fmt::format("{}: no such file or directory", path));
    }
  }
  return set;
}

}  // namespace ut::fleet
