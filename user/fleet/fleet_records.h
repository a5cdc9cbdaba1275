// Reading records back (docs/records.md) from many hosts' files: each line parsed and checked on
// its own, so one bad line costs that line only, with a file:line message saying why.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ut::fleet {

struct HostRecord {
  std::string host;
  std::string boot_id;
  std::string cpu_model;
  std::string kernel;
  std::vector<std::string> xsave_features;
  std::optional<uint32_t> frame_max_bytes;
};

// A model's rate with its interval, per second.
struct ModelRate {
  double value = 0;
  double low = 0;
  double high = 0;
};

// One snapshot of one traced process: its totals since its trace started. A trace writes one
// every few seconds and a last one at its end; a later snapshot supersedes the earlier ones.
struct ProcessRecord {
  std::string host;
  std::string boot_id;
  int32_t pid = 0;
  uint64_t process_start_ticks = 0;  // with host, boot and pid: one process across traces
  std::string started_at;            // when this trace started: its snapshots share it
  std::string comm;
  std::string exe;
  std::string exe_build_id;
  std::string unwinder_binding;
  std::string unwinder_object;
  std::string unwinder_build_id;
  std::string unwinder_package;
  std::string container_id;
  std::string mode;
  std::string exposure;  // not_exposed, exposed, hit
  double duration_s = 0;
  double resumes_per_s = 0;
  double interrupt_signals_per_s = 0;
  uint64_t hits = 0;
  uint64_t corrupting_hits = 0;
  uint64_t stuck_threads = 0;  // looping in the unwinder, sent back by an earlier hit (0 in older records)
  std::string model_source;  // "observed": the prediction is corrupting hits over time
  double predicted_per_s = 0;
  double low_per_s = 0;
  double high_per_s = 0;
  // exposure_model.prediction.crashes_per_s: the exposure model's crash rate and its interval;
  // unset when the record has no model (no calibration, nothing traced, an older record).
  std::optional<ModelRate> model_crashes_per_s;
  std::string cpu_budget_level;  // the most degraded during the segment; "" without a budget
  uint64_t lost_events = 0;      // this process's events and counts the kernel could not record
  uint64_t records_dropped = 0;  // the writer's count so far
};

struct CrashRecord {
  std::string host;
  std::string time;
  int32_t pid = 0;
  std::string comm;
  std::string exe;
  std::string signal;  // "SIGSEGV"
  std::string fault_ip;
  bool return_to_zero = false;
  bool non_canonical_ip = false;
  bool rsp_misaligned_by_8 = false;
  bool inside_unwinder = false;
  bool window_hit_before = false;
};

struct BadLine {
  std::string where;  // "file:line"
  std::string reason;
};

struct RecordSet {
  std::map<std::string, HostRecord> hosts;  // by host name, the last host record read
  std::vector<ProcessRecord> processes;
  std::vector<CrashRecord> crashes;
  size_t files = 0;
  size_t lines = 0;
  size_t bad_lines = 0;
};

using BadLineHandler = std::function<void(const BadLine&)>;

// Adds one line's record; false (and `reason` set) when the line is not a record this version reads.
bool add_record_line(const std::string& line, RecordSet& set, std::string& reason);

// Reads files and directories (every *.jsonl below them). Throws UserError(Usage) for a path that
// does not exist or cannot be read; bad lines go to `on_bad` and are counted.
RecordSet load_records(const std::vector<std::string>& paths, const BadLineHandler& on_bad);

}  // namespace ut::fleet
