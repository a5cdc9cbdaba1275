#include "validate/padding_sweep.h"

#include <charconv>
#include <map>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace ut::validate {

namespace {

uint64_t parse_bytes(std::string_view text, const std::string& spec) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    throw std::invalid_argument(fmt::format("'{}': expected FIRST:LAST:STEP in bytes, e.g. 0:1024:16", spec));
  return value;
}

}  // namespace

std::vector<uint64_t> parse_padding_sweep(const std::string& spec) {
  auto first_colon = spec.find(':');
  auto second_colon = first_colon == std::string::npos ? first_colon : spec.find(':', first_colon + 1);
  if (second_colon == std::string::npos)
    throw std::invalid_argument(fmt::format("'{}': expected FIRST:LAST:STEP in bytes, e.g. 0:1024:16", spec));
  std::string_view view(spec);
  uint64_t first = parse_bytes(view.substr(0, first_colon), spec);
  uint64_t last = parse_bytes(view.substr(first_colon + 1, second_colon - first_colon - 1), spec);
  uint64_t step = parse_bytes(view.substr(second_colon + 1), spec);
  if (step == 0 || last < first)
    throw std::invalid_argument(fmt::format("'{}': need FIRST <= LAST and STEP > 0", spec));
  if ((last - first) / step >= 1000)
    throw std::invalid_argument(fmt::format("'{}': more than 1000 paddings", spec));
  std::vector<uint64_t> paddings;
  for (uint64_t padding = first; padding <= last; padding += step) paddings.push_back(padding);
  return paddings;
}

std::vector<CorruptRange> corrupt_ranges(const std::vector<SweepPoint>& points) {
  using Key = std::pair<std::string, uint64_t>;  // routine, offset
  std::map<Key, std::vector<CorruptRange>> by_site;
  std::map<Key, bool> extending;  // the previous padding corrupted there
  for (const auto& point : points) {
    for (const auto& site : point.result.sites) {
      Key key{point.result.routines[site.routine].symbol, site.site.offset};
      bool corrupt = is_corruption(site.outcome);
      bool extend = std::exchange(extending[key], corrupt);
      if (!corrupt) continue;
      auto& ranges = by_site[key];
      if (!extend)
        ranges.push_back(
            {key.first, key.second, site.site.kind, point.padding, point.padding, UINT64_MAX, 0, false});
      auto& range = ranges.back();
      range.padding_max = point.padding;
      if (site.d_min) range.d_min = std::min(range.d_min, *site.d_min);
      if (site.d_max) range.d_max = std::max(range.d_max, *site.d_max);
      range.crashed |= site.outcome == Outcome::Crashed;
    }
  }
  std::vector<CorruptRange> out;
  for (auto& [key, ranges] : by_site)
    for (auto& range : ranges) {
      if (range.d_min == UINT64_MAX) range.d_min = 0;  // no injection measured D
      out.push_back(range);
    }
  return out;
}

}  // namespace ut::validate
