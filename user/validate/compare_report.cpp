#include "validate/compare_report.h"

#include <map>
#include <tuple>

#include <fmt/format.h>

namespace ut::validate {

namespace {

// Sites are matched by routine symbol and landing offset: the same instruction of the same
// routine in both libraries (a fixed routine has different offsets, hence separate rows).
using SiteKey = std::tuple<std::string, uint64_t, std::string>;

std::map<SiteKey, const SiteResult*> sites_by_key(const ValidateResult& result) {
  std::map<SiteKey, const SiteResult*> out;
  for (const auto& site : result.sites)
    out[{result.routines.at(site.routine).symbol, site.site.offset, to_string(site.site.kind)}] = &site;
  return out;
}

std::string cell(const SiteResult* site) {
  if (!site) return "-";
  return fmt::format("{} ({} landed)", to_string(site->outcome), site->landed());
}

}  // namespace

std::string render_compare_text(const Compared& a, const Compared& b) {
  auto a_sites = sites_by_key(a.result), b_sites = sites_by_key(b.result);
  std::map<SiteKey, std::pair<const SiteResult*, const SiteResult*>> rows;
  for (const auto& [key, site] : a_sites) rows[key].first = site;
  for (const auto& [key, site] : b_sites) rows[key].second = site;

  std::string out = fmt::format("\nCompare\n  A: {}\n  B: {}\n", a.label.lib, b.label.lib);
  out += fmt::format("  A unwinds through {}\n  B unwinds through {}\n\n", a.result.unwinder, b.result.unwinder);
  out += fmt::format("  {:<42} {:<26} {:<26}\n", "site", "A", "B");
  for (const auto& [key, pair] : rows) {
    const auto& [symbol, offset, kind] = key;
    out += fmt::format("  {:<42} {:<26} {:<26}\n", fmt::format("{}+{:#x} {}", symbol, offset, kind),
                       cell(pair.first), cell(pair.second));
  }
  out += fmt::format("\n  A: {}\n  B: {}\n", verdict_line(a.result), verdict_line(b.result));
  return out;
}

nlohmann::ordered_json compare_to_json(const Compared& a, const Compared& b) {
  nlohmann::ordered_json out;
  out["schema"] = "unwindtrace-validate-compare/1";
  out["a"] = to_json(a.result, a.label);
  out["b"] = to_json(b.result, b.label);
  return out;
}

}  // namespace ut::validate
