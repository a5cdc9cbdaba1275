// Inputs the fuzzers (tests/fuzz/) found crashing the object-analysis path, kept after the fix:
// each must be analysed or rejected with AnalysisError, never crash. Memory errors only show
// under ASan (the sanitizer build); the checks on the results hold in every build.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "analysis/analysis_error.h"
#include "analysis/object_analysis.h"

namespace ut::analysis {
namespace {

const std::filesystem::path kRegressionDir =
    std::filesystem::path(UT_SOURCE_DIR) / "tests/fuzz/regressions";

// longjmp does not switch stacks itself: the routine it calls does. direct_callees iterated a
// temporary Disassembly freed before the loop (heap-use-after-free found by ASan on libc.so.6);
// this stand-in libc takes the same path.
TEST(FuzzRegressions, CalleesOfLongjmpAreReadFromLiveDisassembly) {
  ObjectAnalysis analysis =
      analyse_object((kRegressionDir / "longjmp_callee_use_after_free.so").string());
  auto callee = std::find_if(analysis.routines.begin(), analysis.routines.end(),
                             [](const HazardousRoutine& r) { return r.symbol.name == "__longjmp"; });
  ASSERT_NE(callee, analysis.routines.end());
  EXPECT_EQ(callee->found_by, "called by longjmp");
  EXPECT_EQ(callee->family, Family::Glibc);
  EXPECT_TRUE(callee->window.switch_offset.has_value());
}

// Every kept input: analysed, or rejected with the analysis' one error type.
TEST(FuzzRegressions, EveryKeptInputIsAnalysedOrRejected) {
  int inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kRegressionDir)) {
    if (!entry.is_regular_file() || entry.path().extension() == ".md") continue;
    ++inputs;
    SCOPED_TRACE(entry.path().string());
    try {
      AnalysisOptions options;
      options.sweep_unwinders = true;
      (void)analyse_object(entry.path().string(), options);
    } catch (const AnalysisError&) {
    }
  }
  EXPECT_GT(inputs, 0);
}

}  // namespace
}  // namespace ut::analysis
