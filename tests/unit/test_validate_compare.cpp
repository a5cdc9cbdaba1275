// validate --compare: sites of both libraries in one table, matched by routine and offset.
#include <gtest/gtest.h>

#include "validate/compare_report.h"

namespace ut::validate {
namespace {

Compared one_site(const std::string& lib, uint64_t offset, SiteKind kind, Outcome outcome) {
  Compared c;
  c.label.lib = lib;
  c.result.unwinder = lib;
  c.result.routines.push_back({lib, "", "_Ux86_64_setcontext", "GNU libunwind", {}, true});
  SiteResult site;
  site.site.offset = offset;
  site.site.kind = kind;
  site.outcome = outcome;
  c.result.sites.push_back(site);
  return c;
}

TEST(ValidateCompare, SameSiteSharesARowOtherSitesGetTheirOwn) {
  auto a = one_site("old.so", 0x52, SiteKind::ReturnAddress, Outcome::Crashed);
  auto b = one_site("new.so", 0x52, SiteKind::ReturnAddress, Outcome::Survived);
  b.result.sites.push_back(b.result.sites.front());
  b.result.sites.back().site.offset = 0x6c;
  b.result.sites.back().site.kind = SiteKind::AfterSwitch;
  auto text = render_compare_text(a, b);
  auto row = text.find("_Ux86_64_setcontext+0x52");
  ASSERT_NE(row, std::string::npos) << text;
  auto line = text.substr(row, text.find('\n', row) - row);
  EXPECT_NE(line.find(to_string(Outcome::Crashed)), std::string::npos) << line;
  EXPECT_NE(line.find(to_string(Outcome::Survived)), std::string::npos) << line;
  auto other = text.find("_Ux86_64_setcontext+0x6c");
  ASSERT_NE(other, std::string::npos) << text;
  EXPECT_NE(text.substr(other, text.find('\n', other) - other).find(" - "), std::string::npos);
  auto json = compare_to_json(a, b);
  EXPECT_EQ(json["schema"], "unwindtrace-validate-compare/1");
  EXPECT_TRUE(json["a"].is_object());
  EXPECT_TRUE(json["b"].is_object());
}

}  // namespace
}  // namespace ut::validate
