// Every resume's geometry, compactly: how far its ucontext lies below the target SP and the
// target SP's alignment (mod 64) decide, with the calibrated frame map, what a hit during that
// resume would overwrite. Distinct shapes are few (a program unwinds through a few call paths).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace ut::model {

struct ResumeShape {
  uint32_t routine = 0;
  int64_t distance = 0;    // target SP - ucontext address
  uint32_t sp_align = 0;   // target SP mod 64
  auto operator<=>(const ResumeShape&) const = default;
};

class ResumeShapes {
 public:
  static constexpr size_t kMaxShapes = 4096;  // beyond: counted in `overflow` only

  void add(uint32_t routine, uint64_t target_sp, uint64_t ctx);
  void add(const ResumeShape& shape, uint64_t count);
  void merge(const ResumeShapes& other);
  const std::map<ResumeShape, uint64_t>& counts() const { return counts_; }
  uint64_t overflow() const { return overflow_; }
  uint64_t total() const;  // resumes counted, overflow included

 private:
  std::map<ResumeShape, uint64_t> counts_;
  uint64_t overflow_ = 0;
};

}  // namespace ut::model
