// Where validate injects: one site per window instruction, sent from the instruction before it,
// with every stale read still pending there; a routine without a window gets the instruction
// after its switch.
#include "validate/injection_plan.h"

#include <gtest/gtest.h>

#include "analysis/object_analysis.h"

namespace ut::validate {
namespace {

const std::string kFixtureDir = UT_FIXTURE_DIR;

analysis::RoutineWindow setcontext_in(const std::string& path) {
  auto analysed = analysis::analyse_object(path);
  for (const auto& routine : analysed.routines)
    if (routine.symbol.name == "_Ux86_64_setcontext") return routine.window;
  throw std::runtime_error(path + ": no _Ux86_64_setcontext");
}

std::vector<int32_t> disps(const InjectionSite& site) {
  std::vector<int32_t> out;
  for (const auto& slot : site.slots) out.push_back(slot.disp);
  return out;
}

TEST(ValidatePlan, VulnerableSequenceGetsASitePerWindowInstruction) {
  auto sites = plan_injection_sites(setcontext_in(kFixtureDir + "/libut_vulnerable.so"));
  ASSERT_EQ(sites.size(), 4u);

  EXPECT_EQ(sites[0].offset, 0x52u);
  EXPECT_EQ(sites[0].inject_offset, 0x4bu) << "the first window instruction is injected from the switch";
  EXPECT_EQ(sites[0].kind, SiteKind::ReturnAddress);
  EXPECT_EQ(sites[0].inject_text, "mov rsp, qword ptr [rdi + 0xa0]");
  EXPECT_EQ(disps(sites[0]), (std::vector<int32_t>{0xa8, 0x98, 0x68}));
  EXPECT_EQ(sites[0].slots[0].cls, analysis::ReadClass::ReturnAddress);

  EXPECT_EQ(sites[1].offset, 0x59u);
  EXPECT_EQ(sites[1].inject_offset, 0x52u);
  EXPECT_EQ(sites[1].kind, SiteKind::Register);
  EXPECT_EQ(disps(sites[1]), (std::vector<int32_t>{0x98, 0x68})) << "the return address was read already";

  EXPECT_EQ(sites[2].offset, 0x5au);
  EXPECT_EQ(sites[2].inject_offset, 0x59u);
  EXPECT_EQ(disps(sites[2]), (std::vector<int32_t>{0x98, 0x68}));

  EXPECT_EQ(sites[3].offset, 0x61u);
  EXPECT_EQ(sites[3].inject_offset, 0x5au);
  EXPECT_EQ(disps(sites[3]), (std::vector<int32_t>{0x68}));
}

TEST(ValidatePlan, DebianLibunwindMatchesTheFixture) {
  auto sites = plan_injection_sites(setcontext_in("/usr/lib/x86_64-linux-gnu/libunwind.so.8"));
  ASSERT_EQ(sites.size(), 4u);
  EXPECT_EQ(sites[0].offset, 0x52u);
  EXPECT_EQ(sites[0].inject_offset, 0x4bu);
  EXPECT_EQ(sites[3].offset, 0x61u);
}

TEST(ValidatePlan, UpstreamFixGetsTheInstructionAfterTheSwitch) {
  auto window = setcontext_in(kFixtureDir + "/libut_fixed.so");
  ASSERT_TRUE(window.switch_offset);
  auto sites = plan_injection_sites(window);
  ASSERT_EQ(sites.size(), 1u);
  EXPECT_EQ(sites[0].kind, SiteKind::AfterSwitch);
  EXPECT_EQ(sites[0].inject_offset, *window.switch_offset);
  EXPECT_GT(sites[0].offset, *window.switch_offset);
  EXPECT_EQ(sites[0].text, "sub rsp, 0x10");
  EXPECT_TRUE(sites[0].slots.empty());
}

TEST(ValidatePlan, NoSwitchNoSites) { EXPECT_TRUE(plan_injection_sites(analysis::RoutineWindow{}).empty()); }

TEST(ValidatePlan, KindNames) {
  EXPECT_STREQ(to_string(SiteKind::ReturnAddress), "return-address");
  EXPECT_STREQ(to_string(SiteKind::Register), "register");
  EXPECT_STREQ(to_string(SiteKind::AfterSwitch), "after-switch");
}

}  // namespace
}  // namespace ut::validate
