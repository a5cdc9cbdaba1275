// `validate --sweep-padding A:B:STEP`: the workload's padding moves the distance D between the
// target SP and the stale context; one validate run per padding shows which D corrupt on this
// host. Pure: parsing the range and summing the runs up into D ranges.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "validate/validate_result.h"

namespace ut::validate {

// "0:1024:16" -> 0, 16, ..., 1024 (B inclusive). Throws std::invalid_argument saying what is wrong.
std::vector<uint64_t> parse_padding_sweep(const std::string& spec);

struct SweepPoint {
  uint64_t padding = 0;
  ValidateResult result;
};

// Contiguous runs of paddings whose injections at one landing instruction corrupted, as D ranges.
struct CorruptRange {
  std::string routine;  // symbol
  uint64_t offset = 0;  // landing instruction, from the routine's start
  SiteKind kind = SiteKind::Register;
  uint64_t padding_min = 0, padding_max = 0;
  uint64_t d_min = 0, d_max = 0;
  bool crashed = false;  // some run in the range crashed (not only corrupted)
};

// By routine and offset, then in padding order.
std::vector<CorruptRange> corrupt_ranges(const std::vector<SweepPoint>& points);

}  // namespace ut::validate
