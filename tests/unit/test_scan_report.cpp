// scan's per-object results: verdict lines, the per-run cache, errors that do not stop the rest.
#include <gtest/gtest.h>

#include "analysis/analysis_cache.h"
#include "output/scan_report.h"

namespace ut::output {
namespace {

constexpr const char* kGnuLibunwind = "/usr/lib/x86_64-linux-gnu/libunwind.so.8";

TEST(ScanReport, GnuLibunwindVerdictNamesTheSwitchAndTheWindowByClass) {
  analysis::AnalysisCache cache;
  auto object = make_scan_object(kGnuLibunwind, cache.get(kGnuLibunwind));
  ASSERT_TRUE(object.error.empty()) << object.error;
  ASSERT_EQ(object.routines.size(), 1u);
  EXPECT_TRUE(object.exposed());
  EXPECT_EQ(object.routines[0].verdict,
            "EXPOSED: switch at +0x4b; window: +0x52 return-address, +0x59..+0x61 register");
  EXPECT_EQ(object.routines[0].switch_text, "mov rsp, qword ptr [rdi + 0xa0]");
}

TEST(ScanReport, CacheAnalysesOneFileOnceWhateverThePath) {
  analysis::AnalysisCache cache;
  cache.get(kGnuLibunwind);
  cache.get("/usr/lib/x86_64-linux-gnu/libunwind.so.8.0.1");  // the symlink's target
  cache.get(std::string("/proc/self/root") + kGnuLibunwind);
  EXPECT_EQ(cache.lookups(), 3u);
  EXPECT_EQ(cache.objects_analysed(), 1u);
}

TEST(ScanReport, BadObjectIsReportedAndTheRestGoesOn) {
  analysis::AnalysisCache cache;
  ScanReport report;
  for (const char* path : {"/etc/passwd", "/nonexistent/libx.so", kGnuLibunwind})
    report.objects.push_back(make_scan_object(path, cache.get(path)));
  EXPECT_NE(report.objects[0].error.find("not an ELF file"), std::string::npos) << report.objects[0].error;
  EXPECT_NE(report.objects[1].error.find("No such file"), std::string::npos) << report.objects[1].error;
  EXPECT_TRUE(report.objects[2].exposed());
  EXPECT_TRUE(report.any_exposed());
  auto json = scan_to_json(report);
  EXPECT_EQ(json["objects"].size(), 3u);
  EXPECT_TRUE(json["objects"][0]["error"].is_string());
  EXPECT_TRUE(json["objects"][2]["error"].is_null());
  EXPECT_EQ(json["objects"][2]["routines"][0]["window"].size(), 4u);
  EXPECT_EQ(json["objects"][2]["routines"][0]["window"][0]["class"], "return_address");
  auto text = render_scan_text(report);
  EXPECT_NE(text.find("error: /etc/passwd"), std::string::npos) << text;
  EXPECT_NE(text.find("EXPOSED"), std::string::npos) << text;
}

TEST(ScanReport, LibgccHasNoExposedRoutine) {
  analysis::AnalysisCache cache;
  const char* libgcc = "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1";
  auto object = make_scan_object(libgcc, cache.get(libgcc));
  EXPECT_TRUE(object.error.empty()) << object.error;
  EXPECT_FALSE(object.exposed());
}

}  // namespace
}  // namespace ut::output
