#include "validate/validate_report.h"

#include <algorithm>
#include <cctype>
#include <iterator>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "host/signal_names.h"

namespace ut::validate {

namespace {

using json = nlohmann::ordered_json;

std::string hex(uint64_t value) { return fmt::format("{:#x}", value); }
std::string offset_text(uint64_t offset) { return fmt::format("+{:#x}", offset); }

uint64_t total_landed(const ValidateResult& r) {
  uint64_t n = 0;
  for (const auto& site : r.sites) n += site.landed();
  return n;
}

// An interrupted IP as an offset into the routine when it lies inside it.
std::string ip_text(const SiteResult& site, uint64_t size, uint64_t ip) {
  return ip >= site.routine_start && ip < site.routine_start + size ? offset_text(ip - site.routine_start)
                                                                    : hex(ip);
}

std::string d_text(const SiteResult& site) {
  if (!site.d_min) return "no context, no D";
  if (*site.d_min == *site.d_max) return fmt::format("D {} B", *site.d_min);
  return fmt::format("D {}-{} B", *site.d_min, *site.d_max);
}

std::string frame_text(const std::optional<host::FrameSize>& frame) {
  if (!frame) return "not measured";
  return fmt::format("{}-{} B below SP-128", frame->min_bytes, frame->max_bytes);
}

std::string upper(const char* text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

void render_site(std::string& out, const ValidateResult& r, const SiteResult& site) {
  auto it = std::back_inserter(out);
  const auto& routine = r.routines[site.routine];
  const auto& c = site.counters;
  fmt::format_to(it, "  {:<7} {:<15} {}\n", offset_text(site.site.offset), to_string(site.site.kind),
                 site.site.text);
  fmt::format_to(it, "          {}: {}\n", upper(to_string(site.outcome)), site.reason);
  fmt::format_to(it, "          injected from {} ({}): {} sent, {} delivered, {} at {} ({:.1f}%)",
                 offset_text(site.site.inject_offset), site.site.inject_text, c[UT_INJ_SENT],
                 site.delivered(), site.landed(), offset_text(site.site.offset), site.landing_ratio() * 100);
  std::vector<std::string> elsewhere;
  for (const auto& [ip, n] : site.elsewhere)
    elsewhere.push_back(fmt::format("{} x{}", ip_text(site, routine.window.size, ip), n));
  if (!elsewhere.empty()) fmt::format_to(it, ", elsewhere: {}", fmt::join(elsewhere, ", "));
  fmt::format_to(it, "; {}; {:.2f} s\n", d_text(site), site.end.duration_s);
  if (c[UT_INJ_SEND_FAILED] || c[UT_INJ_BUSY] || c[UT_INJ_MASKED] || site.process_counters[UT_INJ_LOST])
    fmt::format_to(it,
                   "          not sent: {} failed, {} while the previous one was pending, {} while the "
                   "thread blocked the signal; {} events lost in the run\n",
                   c[UT_INJ_SEND_FAILED], c[UT_INJ_BUSY], c[UT_INJ_MASKED], site.process_counters[UT_INJ_LOST]);
  if (auto s = site.crash_s())
    fmt::format_to(it, "          crash {:.3f} s after injection started (first injection at {:.3f} s)\n", *s,
                   site.first_injection_s().value_or(0));
}

json slot_json(const SlotEvidence& slot) {
  json out{{"disp", slot.slot.disp},
           {"class", analysis::to_string(slot.slot.cls)},
           {"address", hex(slot.addr)},
           {"before", hex(slot.before)},
           {"after", slot.after ? json(hex(*slot.after)) : json()},
           {"overwritten", slot.overwritten()}};
  if (slot.geometry) {
    out["placement"] = model::to_string(slot.geometry->placement);
    out["reach_bytes"] = slot.geometry->reach_bytes;
    out["handler_bytes"] = slot.geometry->handler_bytes;
  } else {
    out["placement"] = nullptr;
  }
  return out;
}

json injection_json(const Injection& injection) {
  json slots = json::array();
  for (const auto& slot : injection.slots) slots.push_back(slot_json(slot));
  return {{"seq", injection.seq},
          {"tid", injection.tid},
          {"sp", hex(injection.sp)},
          {"ctx", hex(injection.ctx)},
          {"target_sp", hex(injection.target_sp)},
          {"distance", injection.distance ? json(*injection.distance) : json()},
          {"resumed", injection.resumed},
          {"slots", slots}};
}

json site_json(const ValidateResult& r, const SiteResult& site) {
  const auto& c = site.counters;
  const auto& routine = r.routines[site.routine];
  json elsewhere = json::object();
  for (const auto& [ip, n] : site.elsewhere) elsewhere[ip_text(site, routine.window.size, ip)] = n;
  json slots = json::array();
  for (const auto& summary : site.slots) {
    json placements = json::object();
    for (size_t p = 0; p < model::kSlotPlacements; ++p)
      if (summary.placements[p])
        placements[model::to_string(static_cast<model::SlotPlacement>(p))] = summary.placements[p];
    slots.push_back({{"disp", summary.slot.disp},
                     {"class", analysis::to_string(summary.slot.cls)},
                     {"overwritten", summary.overwritten},
                     {"placements", placements},
                     {"unclassified", summary.unclassified}});
  }
  json crash = nullptr;
  if (site.crash)
    crash = {{"signal", host::signal_name(site.crash->sig)},
             {"signal_number", site.crash->sig},
             {"ip", hex(site.crash->ip)},
             {"sp", hex(site.crash->sp)},
             {"fault_addr", hex(site.crash->fault_addr)},
             {"tid", site.crash->tid},
             {"seconds", site.crash_s().value_or(0)},
             {"after_injection", site.crash->after ? injection_json(*site.crash->after) : json()}};
  return {
      {"routine", site.routine},
      {"offset", offset_text(site.site.offset)},
      {"kind", to_string(site.site.kind)},
      {"instruction", site.site.text},
      {"inject_at", offset_text(site.site.inject_offset)},
      {"inject_instruction", site.site.inject_text},
      {"outcome", to_string(site.outcome)},
      {"reason", site.reason},
      {"injections",
       {{"limit", site.limit},
        {"sent", c[UT_INJ_SENT]},
        {"send_failed", c[UT_INJ_SEND_FAILED]},
        {"busy", c[UT_INJ_BUSY]},
        {"masked", c[UT_INJ_MASKED]},
        {"delivered", site.delivered()},
        {"landed", site.landed()},
        {"landing_ratio", site.landing_ratio()},
        {"elsewhere", elsewhere},
        {"resumed", c[UT_INJ_CHECKED]},
        {"corrupted", site.corrupted},
        {"passes", c[UT_INJ_PASSES]}}},
      {"distance",
       {{"min", site.d_min ? json(*site.d_min) : json()}, {"max", site.d_max ? json(*site.d_max) : json()}}},
      {"slots", slots},
      {"first_injection", site.first ? injection_json(*site.first) : json()},
      {"first_corruption", site.first_corruption ? injection_json(*site.first_corruption) : json()},
      {"crash", crash},
      {"run",
       {{"fatal_signals", site.process_counters[UT_INJ_FATAL]},
        {"events_lost", site.process_counters[UT_INJ_LOST]},
        {"exited", site.end.exited},
        {"status", site.end.exited ? json(site.end.status) : json()},
        {"stopped_by_validate", site.end.stopped_by_validate}}},
      {"duration_s", site.end.duration_s}};
}

json routine_json(const ValidatedRoutine& routine) {
  json window = json::array();
  for (const auto& insn : routine.window.window)
    window.push_back({{"offset", offset_text(insn.offset)}, {"class", analysis::to_string(insn.cls)}});
  return {{"object", routine.object_path},
          {"build_id", routine.build_id},
          {"symbol", routine.symbol},
          {"origin", routine.origin},
          {"reached", routine.reached},
          {"switch_offset",
           routine.window.switch_offset ? json(offset_text(*routine.window.switch_offset)) : json()},
          {"window", window}};
}

}  // namespace

std::string verdict_line(const ValidateResult& r) {
  size_t corrupted = std::count_if(r.sites.begin(), r.sites.end(),
                                   [](const SiteResult& s) { return is_corruption(s.outcome); });
  if (corrupted > 0)
    return fmt::format(
        "CORRUPTED: signals at {} of {} instruction(s) corrupted the resume: the routine reads the "
        "abandoned stack after its switch, where the signal frame lands",
        corrupted, r.sites.size());
  if (r.routines.empty())
    return fmt::format(
        "nothing to validate: no known resume routine in the target (C++ exceptions unwind "
        "through: {})",
        r.unwinder);
  if (r.sites.empty())
    return fmt::format("nothing to validate: none of the {} resume routine(s) ran in the target",
                       r.routines.size());
  if (!r.conclusive())
    return "inconclusive: no instruction received enough injections at the right place (see above)";
  bool any_window = std::any_of(r.sites.begin(), r.sites.end(),
                                [](const SiteResult& s) { return s.site.kind != SiteKind::AfterSwitch; });
  if (!any_window)
    return fmt::format(
        "no window: nothing reads the abandoned stack after the switch; {} injection(s) survived",
        total_landed(r));
  return fmt::format(
      "no corruption in {} injection(s), but a window exists: this geometry kept the frame off the "
      "pending slots (see above; --sweep-padding shows where it does not)",
      total_landed(r));
}

std::string render_text(const ValidateResult& r, const TargetLabel& label) {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "unwindtrace validate: {}\n", label.description);
  if (!label.lib.empty()) fmt::format_to(it, "  unwinder under test (LD_PRELOAD): {}\n", label.lib);
  fmt::format_to(it, "  {}, up to {} injection(s) per instruction; signal frame on this host: {}\n",
                 host::signal_name(r.sig), r.count, frame_text(r.frame));
  if (!r.unwinder.empty()) fmt::format_to(it, "  C++ exceptions unwind through: {}\n", r.unwinder);
  std::vector<std::string> unreached;
  for (const auto& routine : r.routines)
    if (!routine.reached) unreached.push_back(fmt::format("{} in {}", routine.symbol, routine.object_path));
  if (!unreached.empty())
    fmt::format_to(it, "  not reached (never ran while the target resumed elsewhere): {}\n",
                   fmt::join(unreached, ", "));
  for (size_t i = 0; i < r.routines.size(); ++i) {
    const auto& routine = r.routines[i];
    if (!routine.reached) continue;
    fmt::format_to(it, "\n{} in {} ({})\n", routine.symbol, routine.object_path, routine.origin);
    if (routine.window.switch_offset) {
      auto sw = std::find_if(routine.window.listing.begin(), routine.window.listing.end(),
                             [&](const auto& insn) { return insn.offset == *routine.window.switch_offset; });
      fmt::format_to(it, "  switch at {}: {}{}\n", offset_text(*routine.window.switch_offset),
                     sw != routine.window.listing.end() ? sw->text : "?",
                     routine.window.exposed() ? "" : " (no window after it)");
    }
    for (const auto& site : r.sites)
      if (site.routine == i) render_site(out, r, site);
  }
  fmt::format_to(it, "\nVerdict: {}\n", verdict_line(r));
  return out;
}

json to_json(const ValidateResult& r, const TargetLabel& label) {
  json routines = json::array(), sites = json::array();
  for (const auto& routine : r.routines) routines.push_back(routine_json(routine));
  for (const auto& site : r.sites) sites.push_back(site_json(r, site));
  return {
      {"schema", kValidateSchema},
      {"target",
       {{"description", label.description},
        {"argv", r.argv},
        {"pid", r.pid ? json(r.pid) : json()},
        {"lib", label.lib.empty() ? json() : json(label.lib)}}},
      {"signal", host::signal_name(r.sig)},
      {"signal_number", r.sig},
      {"count", r.count},
      {"frame_bytes", r.frame ? json{{"min", r.frame->min_bytes}, {"max", r.frame->max_bytes}} : json()},
      {"unwinder", r.unwinder},
      {"routines", routines},
      {"sites", sites},
      {"warnings", r.warnings},
      {"duration_s", r.duration_s},
      {"verdict", {{"corrupted", r.corrupted()}, {"conclusive", r.conclusive()}, {"text", verdict_line(r)}}}};
}

std::string render_sweep_text(const std::vector<SweepPoint>& points, const TargetLabel& label) {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "unwindtrace validate --sweep-padding: {}\n", label.description);
  if (points.empty()) return out;
  const auto& first = points.front().result;
  fmt::format_to(it, "  {}, up to {} injection(s) per instruction; signal frame on this host: {}\n\n",
                 host::signal_name(first.sig), first.count, frame_text(first.frame));
  // A column per landing instruction, in the order the first run met them.
  std::vector<std::pair<std::string, uint64_t>> columns;
  for (const auto& point : points)
    for (const auto& site : point.result.sites) {
      std::pair<std::string, uint64_t> key{point.result.routines[site.routine].symbol, site.site.offset};
      if (std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
    }
  fmt::format_to(it, "  {:>8}  {:>11}", "padding", "D (B)");
  for (const auto& [symbol, offset] : columns) fmt::format_to(it, "  {:>12}", offset_text(offset));
  fmt::format_to(it, "\n");
  for (const auto& point : points) {
    std::optional<uint64_t> d_min, d_max;
    for (const auto& site : point.result.sites) {
      if (!site.d_min) continue;
      d_min = std::min(d_min.value_or(*site.d_min), *site.d_min);
      d_max = std::max(d_max.value_or(*site.d_max), *site.d_max);
    }
    fmt::format_to(it, "  {:>8}  {:>11}", point.padding,
                   d_min ? fmt::format("{}-{}", *d_min, *d_max) : std::string("-"));
    for (const auto& column : columns) {
      auto site =
          std::find_if(point.result.sites.begin(), point.result.sites.end(), [&](const SiteResult& s) {
            return point.result.routines[s.routine].symbol == column.first && s.site.offset == column.second;
          });
      fmt::format_to(it, "  {:>12}", site == point.result.sites.end() ? "-" : to_string(site->outcome));
    }
    fmt::format_to(it, "\n");
  }
  auto ranges = corrupt_ranges(points);
  fmt::format_to(it, "\nD ranges that corrupt on this host:\n");
  if (ranges.empty()) fmt::format_to(it, "  none in this sweep\n");
  for (const auto& range : ranges)
    fmt::format_to(it, "  {} {} ({}): D {}-{} B (padding {}-{}){}\n", range.routine,
                   offset_text(range.offset), to_string(range.kind), range.d_min, range.d_max,
                   range.padding_min, range.padding_max, range.crashed ? ", crashed" : "");
  return out;
}

json sweep_to_json(const std::vector<SweepPoint>& points, const TargetLabel& label) {
  json runs = json::array(), ranges = json::array();
  for (const auto& point : points) {
    json report = to_json(point.result, label);
    runs.push_back({{"padding", point.padding}, {"report", report}});
  }
  for (const auto& range : corrupt_ranges(points))
    ranges.push_back({{"routine", range.routine},
                      {"offset", offset_text(range.offset)},
                      {"kind", to_string(range.kind)},
                      {"d_min", range.d_min},
                      {"d_max", range.d_max},
                      {"padding_min", range.padding_min},
                      {"padding_max", range.padding_max},
                      {"crashed", range.crashed}});
  bool corrupted =
      std::any_of(points.begin(), points.end(), [](const SweepPoint& p) { return p.result.corrupted(); });
  return {{"schema", kValidateSchema},
          {"sweep", {{"description", label.description}, {"runs", runs}, {"corrupt_ranges", ranges}}},
          {"verdict", {{"corrupted", corrupted}}}};
}

}  // namespace ut::validate
