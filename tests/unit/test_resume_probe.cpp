// choose_resume_probes and analyse_object: which objects hold a hazardous resume routine, and
// where its resumes can be traced cheaply.
#include "analysis/resume_probe.h"

#include <gtest/gtest.h>

#include "analysis/object_analysis.h"

namespace ut::analysis {
namespace {

const std::string kGnuLibunwind = "/usr/lib/x86_64-linux-gnu/libunwind.so.8";
const std::string kFixtureDir = UT_FIXTURE_DIR;

std::vector<uint64_t> probe_addresses(const std::vector<ProbePoint>& probes) {
  std::vector<uint64_t> addresses;
  for (const auto& probe : probes) addresses.push_back(probe.vaddr);
  return addresses;
}

TEST(ResumeProbe, DebianLibunwindCallSite) {
  auto elf = ElfObject::open(kGnuLibunwind);
  auto routine = elf.find_symbol("_Ux86_64_setcontext");
  ASSERT_TRUE(routine);
  auto window = analyse_routine(elf.read(routine->vaddr, routine->size), routine->vaddr,
                                routine->name);
  auto probes = choose_resume_probes(elf, *routine, window);
  ASSERT_EQ(probes.size(), 1u);
  const ProbePoint& call = probes[0];
  EXPECT_EQ(call.vaddr, 0x6155u);
  EXPECT_EQ(call.file_offset, 0x6155u);
  EXPECT_EQ(call.text, "call 0x3280");
  EXPECT_TRUE(call.emulated);
  // x86_64_local_resume is static: the stripped object names it only relative to a neighbour.
  EXPECT_EQ(call.function, "_ULx86_64_get_proc_info+0x395");
  EXPECT_NE(call.reason.find("_Ux86_64_setcontext@plt"), std::string::npos) << call.reason;
}

TEST(ObjectAnalysis, DebianLibunwind) {
  auto analysis = analyse_object(kGnuLibunwind);
  EXPECT_EQ(analysis.path, kGnuLibunwind);
  EXPECT_EQ(analysis.soname, "libunwind.so.8");
  EXPECT_EQ(analysis.build_id.size(), 40u);
  ASSERT_EQ(analysis.routines.size(), 1u);
  const auto& routine = analysis.routines[0];
  EXPECT_EQ(routine.symbol.name, "_Ux86_64_setcontext");
  EXPECT_EQ(routine.family, Family::GnuLibunwind);
  EXPECT_EQ(routine.symbol.vaddr, 0x5382u);
  EXPECT_EQ(routine.window.switch_offset, 0x4bu);
  EXPECT_EQ(routine.window.window.size(), 4u);
  EXPECT_EQ(probe_addresses(routine.probes), (std::vector<uint64_t>{0x6155}));
}

TEST(ObjectAnalysis, OtherUnwindersHaveNoWindow) {
  for (const std::string path :
       {"/usr/lib/llvm-14/lib/libunwind.so.1", "/lib/x86_64-linux-gnu/libgcc_s.so.1"}) {
    auto analysis = analyse_object(path);
    EXPECT_FALSE(analysis.routines.empty()) << path;
    EXPECT_FALSE(analysis.exposed()) << path;
  }
}

// Both fixture layouts: the call through the PLT (classic .plt or IBT .plt.sec) and the direct
// tail jump, never the movabs whose immediate merely looks like a call.
TEST(ResumeProbe, FixtureCallSitesThroughEitherPlt) {
  for (const std::string library : {"libut_vulnerable.so", "libut_vulnerable_ibt.so"}) {
    SCOPED_TRACE(library);
    auto elf = ElfObject::open(kFixtureDir + "/" + library);
    auto via_plt = elf.find_symbol("resume_via_plt");
    auto direct = elf.find_symbol("resume_direct");
    ASSERT_TRUE(via_plt && direct);
    auto analysis = analyse_object(elf);
    ASSERT_EQ(analysis.routines.size(), 1u);
    const auto& probes = analysis.routines[0].probes;
    EXPECT_EQ(probe_addresses(probes), (std::vector<uint64_t>{via_plt->vaddr + 4, direct->vaddr}));
    for (const auto& probe : probes) {
      EXPECT_TRUE(probe.emulated);
      EXPECT_EQ(elf.file_offset_of(probe.vaddr), probe.file_offset);
    }
    EXPECT_EQ(probes.at(0).function, "resume_via_plt");
    EXPECT_EQ(probes.at(0).text.substr(0, 5), "call ");
    EXPECT_EQ(probes.at(1).function, "resume_direct");
    EXPECT_EQ(probes.at(1).text.substr(0, 4), "jmp ");
  }
}

TEST(ResumeProbe, FallsBackToEntryWithoutCallers) {
  auto analysis = analyse_object(kFixtureDir + "/libut_long_gap.so");
  ASSERT_EQ(analysis.routines.size(), 1u);
  const auto& routine = analysis.routines[0];
  ASSERT_EQ(routine.probes.size(), 1u);
  const ProbePoint& entry = routine.probes[0];
  EXPECT_EQ(entry.vaddr, routine.symbol.vaddr);
  EXPECT_EQ(entry.function, "_Ux86_64_setcontext");
  EXPECT_EQ(entry.text, "mov rsi, rdi");
  EXPECT_FALSE(entry.emulated);
  EXPECT_NE(entry.reason.find("no direct call"), std::string::npos) << entry.reason;
  EXPECT_NE(entry.reason.find("single-steps"), std::string::npos) << entry.reason;
}

TEST(ObjectAnalysis, UpstreamFixIsReportedWithEmptyWindow) {
  auto analysis = analyse_object(kFixtureDir + "/libut_fixed.so");
  ASSERT_EQ(analysis.routines.size(), 1u);
  EXPECT_FALSE(analysis.routines[0].window.exposed());
  EXPECT_EQ(analysis.routines[0].probes.size(), 1u);
}

TEST(ObjectAnalysis, ObjectWithoutKnownRoutines) {
  auto analysis = analyse_object(kFixtureDir + "/libut_coroutine.so");
  EXPECT_EQ(analysis.soname, "libut_coroutine.so");
  EXPECT_TRUE(analysis.routines.empty());
}

// A switch in the routine's first instructions leaves no safe place at its entry.
TEST(ResumeProbe, NeverProbesJustBeforeTheSwitch) {
  auto elf = ElfObject::open(kFixtureDir + "/libut_fixed.so");
  auto routine = elf.find_symbol("_Ux86_64_setcontext");
  ASSERT_TRUE(routine);
  const std::vector<uint8_t> code{0x48, 0x8b, 0x4f, 0x28,  // mov rcx, qword ptr [rdi + 0x28]
                                  0x48, 0x8b, 0x67, 0x38,  // mov rsp, qword ptr [rdi + 0x38]
                                  0xff, 0x67, 0x40};       // jmp qword ptr [rdi + 0x40]
  auto window = analyse_routine(code, routine->vaddr, routine->name);
  ASSERT_EQ(window.switch_offset, 4u);
  EXPECT_TRUE(choose_resume_probes(elf, *routine, window).empty());
}

}  // namespace
}  // namespace ut::analysis
