// The one error type of the analysis stage: what failed, on which object, in one line.
#pragma once

#include <stdexcept>
#include <string>

namespace ut::analysis {

class AnalysisError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace ut::analysis
