#include "model/resume_shapes.h"

namespace ut::model {

void ResumeShapes::add(uint32_t routine, uint64_t target_sp, uint64_t ctx) {
  const ResumeShape shape{routine, static_cast<int64_t>(target_sp - ctx), static_cast<uint32_t>(target_sp % 64)};
  auto it = counts_.find(shape);
  if (it != counts_.end()) ++it->second;
  else if (counts_.size() < kMaxShapes) counts_.emplace(shape, 1);
  else ++overflow_;
}

void ResumeShapes::merge(const ResumeShapes& other) {
  for (const auto& [shape, count] : other.counts_) {
    auto it = counts_.find(shape);
    if (it != counts_.end()) it->second += count;
    else if (counts_.size() < kMaxShapes) counts_.emplace(shape, count);
    else overflow_ += count;
  }
  overflow_ += other.overflow_;
}

}  // namespace ut::model
