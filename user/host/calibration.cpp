#include "host/calibration.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "host/host_info.h"
#include "host/signal_frame.h"
#include "output/atomic_file.h"

namespace ut::host {

using nlohmann::json;

namespace {

json ranges_json(const std::vector<ByteRange>& ranges) {
  json out = json::array();
  for (const auto& r : ranges) out.push_back({r.begin, r.end});
  return out;
}

std::vector<ByteRange> ranges_from(const json& j) {
  std::vector<ByteRange> out;
  for (const auto& r : j) out.push_back({r.at(0).get<int32_t>(), r.at(1).get<int32_t>()});
  return out;
}

// [begin, "hex of the values"] per run: compact, and the values read like a hex dump.
json constant_json(const std::vector<ConstantBytes>& runs) {
  json out = json::array();
  for (const auto& r : runs) out.push_back({r.begin, fmt::format("{:02x}", fmt::join(r.values, ""))});
  return out;
}

std::vector<ConstantBytes> constant_from(const json& j) {
  std::vector<ConstantBytes> out;
  for (const auto& r : j) {
    const auto hex = r.at(1).get<std::string>();
    ConstantBytes run{r.at(0).get<int32_t>(), {}};
    for (size_t at = 0; at + 1 < hex.size(); at += 2)
      run.values.push_back(static_cast<uint8_t>(std::stoul(hex.substr(at, 2), nullptr, 16)));
    out.push_back(std::move(run));
  }
  return out;
}

json landing_json(const LandingCalibration& l) {
  json instructions = json::array();
  for (const auto& i : l.instructions)
    instructions.push_back({{"offset", fmt::format("{:#x}", i.offset)}, {"landings", i.landings},
                            {"w_s", i.w_s}, {"w_low_s", i.w_low_s}, {"w_high_s", i.w_high_s}});
  json window = json::array();
  for (uint32_t offset : l.window_offsets) window.push_back(fmt::format("{:#x}", offset));
  json workload = nullptr;
  if (l.workload)
    workload = {{"threads", l.workload->threads}, {"signal_rate", l.workload->signal_rate},
                {"depth", l.workload->depth}, {"padding", l.workload->padding}, {"sender", l.workload->sender}};
  return {{"cpu_model", l.cpu_model},   {"object", l.object_path},
          {"build_id", l.build_id},     {"symbol", l.symbol},
          {"workload", workload},       {"storms", l.storms},
          {"duration_s", l.duration_s}, {"resumes", l.resumes},
          {"async_signals", l.async_signals}, {"syscall_signals", l.syscall_signals},
          {"seconds_per_landing", l.seconds_per_landing},
          {"window_offsets", window},   {"instructions", instructions}};
}

uint32_t offset_from(const json& j) { return static_cast<uint32_t>(std::stoul(j.get<std::string>(), nullptr, 16)); }

LandingCalibration landing_from(const json& j) {
  LandingCalibration l;
  l.cpu_model = j.at("cpu_model");
  l.object_path = j.at("object");
  l.build_id = j.at("build_id");
  l.symbol = j.at("symbol");
  if (auto w = j.find("workload"); w != j.end() && !w->is_null())
    l.workload = LandingWorkload{w->at("threads"), w->at("signal_rate"), w->at("depth"), w->at("padding"),
                                 w->value("sender", "wait")};
  l.storms = j.value("storms", 1u);
  l.duration_s = j.at("duration_s");
  l.resumes = j.at("resumes");
  l.async_signals = j.at("async_signals");
  l.syscall_signals = j.at("syscall_signals");
  l.seconds_per_landing = j.at("seconds_per_landing");
  for (const auto& o : j.at("window_offsets")) l.window_offsets.push_back(offset_from(o));
  for (const auto& i : j.at("instructions"))
    l.instructions.push_back({offset_from(i.at("offset")), i.at("landings"), i.at("w_s"),
                              i.at("w_low_s"), i.at("w_high_s")});
  return l;
}

std::string now_iso8601() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(
                                                  std::chrono::system_clock::now())));
}

}  // namespace

std::string landing_workload_text(const std::optional<LandingWorkload>& w) {
  if (!w) return "not recorded";
  return fmt::format("{} threads, {:g} signals/s ({}), depth {}, padding {}", w->threads, w->signal_rate, w->sender,
                     w->depth, w->padding);
}

const InstructionLanding* LandingCalibration::at(uint32_t offset) const {
  for (const auto& i : instructions)
    if (i.offset == offset) return &i;
  return nullptr;
}

CalibrationKey read_calibration_key(const XsaveFeatures& features) {
  HostInfo info = read_host_info();
  return {info.cpu_model, features.cpu_signature, info.kernel_release, features.xcr0,
          features.area_bytes};
}

Calibration measure_frame_calibration() {
  Calibration calibration;
  calibration.measured_at = now_iso8601();
  calibration.xsave = read_xsave_features();
  calibration.key = read_calibration_key(calibration.xsave);
  calibration.frame = measure_frame_map(calibration.xsave);
  return calibration;
}

std::string default_calibration_path() {
  const char* env = std::getenv("UNWINDTRACE_CALIBRATION");
  return env && *env ? env : "/var/cache/unwindtrace/calibration.json";
}

std::string calibration_json(const Calibration& c) {
  json components = json::array();
  for (const auto& x : c.xsave.components)
    components.push_back({{"bit", x.bit}, {"name", x.name}, {"offset", x.offset}, {"size", x.size}});
  json layouts = json::array();
  for (const auto& l : c.frame.layouts)
    layouts.push_back({{"top_align", l.top_align}, {"siginfo", l.siginfo},
                       {"frame_bytes", l.frame_bytes}, {"written", ranges_json(l.written)},
                       {"written_if_vector_state", ranges_json(l.written_if_vector_state)},
                       {"written_constant", constant_json(l.written_constant)}});
  json out = {
      {"version", c.version},
      {"measured_at", c.measured_at},
      {"host", {{"cpu_model", c.key.cpu_model}, {"cpu_signature", c.key.cpu_signature},
                {"kernel_release", c.key.kernel_release}}},
      {"xsave", {{"xcr0", fmt::format("{:#x}", c.key.xcr0)}, {"area_bytes", c.key.xsave_area_bytes},
                 {"components", components}}},
      {"frame", {{"layouts", layouts}}},
      {"landing", c.landing ? landing_json(*c.landing) : json(nullptr)},
  };
  return out.dump(2) + "\n";
}

Calibration calibration_from_json(const std::string& text) {
  json j = json::parse(text);
  Calibration c;
  c.version = j.at("version");
  c.measured_at = j.at("measured_at");
  const json& host = j.at("host");
  c.key.cpu_model = host.at("cpu_model");
  c.key.cpu_signature = host.at("cpu_signature");
  c.key.kernel_release = host.at("kernel_release");
  const json& xsave = j.at("xsave");
  c.key.xcr0 = std::stoull(xsave.at("xcr0").get<std::string>(), nullptr, 16);
  c.key.xsave_area_bytes = xsave.at("area_bytes");
  c.xsave.supported = c.key.xcr0 != 0;
  c.xsave.xcr0 = c.key.xcr0;
  c.xsave.area_bytes = c.key.xsave_area_bytes;
  c.xsave.cpu_signature = c.key.cpu_signature;
  for (const auto& x : xsave.at("components"))
    c.xsave.components.push_back({x.at("bit"), x.at("name"), x.at("offset"), x.at("size")});
  for (const auto& l : j.at("frame").at("layouts"))
    c.frame.layouts.push_back({l.at("top_align"), l.at("siginfo"), l.at("frame_bytes"),
                               ranges_from(l.at("written")), ranges_from(l.at("written_if_vector_state")),
                               constant_from(l.at("written_constant"))});
  if (!j.at("landing").is_null()) c.landing = landing_from(j.at("landing"));
  return c;
}

std::optional<Calibration> read_calibration(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  try {
    Calibration c = calibration_from_json(text.str());
    if (c.version != kCalibrationVersion) return std::nullopt;
    return c;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void write_calibration(const std::string& path, const Calibration& calibration) {
  std::error_code ignored;  // a missing directory shows up as the write's error
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  output::write_file_atomically(path, calibration_json(calibration));
}

LoadedCalibration load_or_measure_calibration(const std::string& path, bool force) {
  LoadedCalibration loaded;
  auto cached = read_calibration(path);
  const XsaveFeatures features = read_xsave_features();
  const CalibrationKey key = read_calibration_key(features);
  if (cached && !force && cached->key == key && !cached->frame.empty()) {
    loaded.calibration = std::move(*cached);
    loaded.note = fmt::format("calibration from {} ({})", path, loaded.calibration.measured_at);
    return loaded;
  }
  loaded.calibration = measure_frame_calibration();
  loaded.measured_now = true;
  if (cached && cached->landing && cached->landing->cpu_model == key.cpu_model)
    loaded.calibration.landing = cached->landing;
  loaded.note = force ? "calibration measured now (forced)"
                : cached ? "calibration measured now (the cached one was made on another CPU, XSAVE set or kernel)"
                         : "calibration measured now (none cached)";
  try {
    write_calibration(path, loaded.calibration);
  } catch (const std::exception& e) {
    loaded.note += fmt::format("; not cached: {}", e.what());
  }
  return loaded;
}

}  // namespace ut::host
