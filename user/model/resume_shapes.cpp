#include "model/resume_shapes.h"

namespace ut::model {

void ResumeShapes::add(uint32_t routine, uint64_t target_sp, uint64_t ctx) {
  add({routine, static_cast<int64_t>(target_sp - ctx), static_cast<uint32_t>(target_sp % 64)}, 1);
}

void ResumeShapes::add(const ResumeShape& shape, uint64_t count) {
  auto it = counts_.find(shape);
  if (it != counts_.end()) it->second += count;
  else if (counts_.size() < kMaxShapes) counts_.emplace(shape, count);
  else overflow_ += count;
}

void ResumeShapes::merge(const ResumeShapes& other) {
  for (const auto& [shape, count] : other.counts_) add(shape, count);
  overflow_ += other.overflow_;
}

uint64_t ResumeShapes::total() const {
  uint64_t n = overflow_;
  for (const auto& [shape, count] : counts_) n += count;
  return n;
}

}  // namespace ut::model
