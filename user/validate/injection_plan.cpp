#include "validate/injection_plan.h"

#include <algorithm>

namespace ut::validate {

const char* to_string(SiteKind kind) {
  switch (kind) {
    case SiteKind::ReturnAddress:
      return "return-address";
    case SiteKind::Register:
      return "register";
    case SiteKind::AfterSwitch:
      return "after-switch";
  }
  return "?";
}

namespace {

// The site landing at listing[index], injected from listing[index - 1]. The listing is the
// routine's straight-line disassembly; a landing instruction reached by a branch shows up as
// injections that land elsewhere, which the report counts.
InjectionSite site_at(const analysis::RoutineWindow& window, size_t index, SiteKind kind) {
  const auto& landing = window.listing[index];
  const auto& before = window.listing[index - 1];
  InjectionSite site{landing.offset, before.offset, kind, landing.text, before.text, {}};
  for (const auto& read : window.stale_reads)
    if (read.offset >= landing.offset) site.slots.push_back({read.disp, read.cls});
  return site;
}

}  // namespace

std::vector<InjectionSite> plan_injection_sites(const analysis::RoutineWindow& window) {
  std::vector<InjectionSite> sites;
  if (!window.switch_offset) return sites;
  auto index_of = [&](uint64_t offset) {
    auto it = std::find_if(window.listing.begin(), window.listing.end(),
                           [&](const analysis::Instruction& insn) { return insn.offset == offset; });
    return static_cast<size_t>(it - window.listing.begin());
  };
  if (window.window.empty()) {
    size_t after = index_of(*window.switch_offset) + 1;
    if (after < window.listing.size()) sites.push_back(site_at(window, after, SiteKind::AfterSwitch));
    return sites;
  }
  for (const auto& insn : window.window) {
    size_t index = index_of(insn.offset);
    if (index == 0 || index >= window.listing.size()) continue;
    auto kind = insn.cls == analysis::ReadClass::ReturnAddress ? SiteKind::ReturnAddress : SiteKind::Register;
    sites.push_back(site_at(window, index, kind));
  }
  return sites;
}

}  // namespace ut::validate
