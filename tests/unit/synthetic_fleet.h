// A synthetic fleet of records, built with the real record builders: six hosts running an exposed
// ingest service (GNU libunwind) and an unexposed one (libgcc), window crashes spread over every
// host, and a cluster of misaligned-stack crashes on node-3 (a defective CPU), the two crash
// populations of the story that `report` must tell apart.
#pragma once

#include <csignal>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "output/record_builder.h"
#include "output/report.h"

namespace ut::testing {

inline constexpr int kFleetHosts = 6;
inline constexpr const char* kBadHost = "node-3";
inline constexpr int kMisalignedOnBadHost = 10;
inline constexpr int kWindowCrashesPerHost = 2;
inline constexpr double kCampaignSeconds = 600;
inline constexpr int kCorruptingHitsPerIngest = 3;

inline output::Report synthetic_report(int pid, const std::string& exe, int corrupting, int harmless,
                                       double duration_s) {
  output::Report report;
  report.pid = pid;
  report.comm = exe.substr(exe.rfind('/') + 1);
  report.exe = exe;
  report.unwinder = corrupting + harmless ? "GNU libunwind 1.6.2" : "libgcc_s.so.1";
  report.duration_s = duration_s;
  report.started_at = "2026-11-25T20:00:00Z";
  report.ended_at = "2026-11-25T20:10:00Z";
  report.exposure = corrupting + harmless ? output::Exposure::Hit : output::Exposure::NotExposed;
  report.process.resumes_per_s = 20000;
  report.process.interrupt_signals_per_s = 1000;
  auto add = [&](model::SlotPlacement placement) {
    output::HitRow row;
    row.hit.window_class = analysis::ReadClass::ReturnAddress;
    row.hit.geometry = model::SlotVerdict{placement, 0, 0};
    row.hit.slot_value = 0x5ec7e7;  // target memory: must never reach a record
    report.hits.push_back(row);
  };
  for (int i = 0; i < corrupting; ++i) add(model::SlotPlacement::Inside);
  for (int i = 0; i < harmless; ++i) add(model::SlotPlacement::BelowFrame);
  report.process.hits.total = static_cast<uint64_t>(corrupting + harmless);
  return report;
}

inline host::HostIdentity synthetic_host(const std::string& name) {
  host::HostIdentity host;
  host.info = {name, "6.18.0", name == "node-5" ? "AMD EPYC 9B14" : "Intel Xeon Platinum 8481C"};
  host.boot_id = "boot-" + name;
  host.xsave_features = {"xsave", "avx512f"};
  return host;
}

inline output::CrashSignature ingest_crash(int pid) {
  output::CrashSignature crash;
  crash.pid = pid;
  crash.comm = "ingest";
  crash.exe = "/usr/bin/ingest";
  crash.sig = SIGSEGV;
  return crash;
}

inline output::CrashSignature window_crash(int pid) {
  auto crash = ingest_crash(pid);
  crash.return_to_zero = true;
  crash.inside_unwinder = true;
  crash.window_hit_before = true;
  return crash;
}

inline output::CrashSignature misaligned_crash(int pid) {
  auto crash = ingest_crash(pid);
  crash.fault_ip = 0x7f00'1234'5678;
  crash.rsp_misaligned_by_8 = true;
  return crash;
}

// Records per host, in the order a campaign writes them.
inline std::vector<std::pair<std::string, std::vector<nlohmann::json>>> synthetic_fleet() {
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> fleet;
  const std::string time = "2026-11-25T20:10:00Z";
  for (int h = 0; h < kFleetHosts; ++h) {
    std::string name = "node-" + std::to_string(h);
    auto host = synthetic_host(name);
    std::vector<nlohmann::json> records{output::host_record(host, host::FrameSize{3408, 3464}, time)};
    output::ProcessFacts exposed;
    exposed.unwinder_object = "/usr/lib/x86_64-linux-gnu/libunwind.so.8";
    exposed.unwinder_build_id = "6e5f3cbb8ee3a2a2e1f0c0b2b1d1a3c4e5f60718";
    exposed.unwinder_package = "libunwind8 1.6.2-3 amd64";
    records.push_back(output::process_record(
        synthetic_report(1000 + h, "/usr/bin/ingest", kCorruptingHitsPerIngest, 5, kCampaignSeconds), host, exposed, 0));
    records.push_back(output::process_record(synthetic_report(2000 + h, "/usr/bin/frontend", 0, 0, kCampaignSeconds),
                                             host, output::ProcessFacts{}, 0));
    for (int i = 0; i < kWindowCrashesPerHost; ++i)
      records.push_back(output::crash_record(window_crash(1000 + h), host, time));
    int misaligned = name == kBadHost ? kMisalignedOnBadHost : h == 0 ? 1 : 0;  // one stray elsewhere
    for (int i = 0; i < misaligned; ++i) records.push_back(output::crash_record(misaligned_crash(1000 + h), host, time));
    fleet.emplace_back(name, std::move(records));
  }
  return fleet;
}

}  // namespace ut::testing
