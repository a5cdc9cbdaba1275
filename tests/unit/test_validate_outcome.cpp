// What validate concludes from the kernel's injection events: crash, corruption or survival, each
// with its evidence; crashes blamed on the right site; no verdict without enough landed signals.
#include "validate/site_outcome.h"

#include <gtest/gtest.h>

#include <csignal>

namespace ut::validate {
namespace {

using analysis::ReadClass;

constexpr uint32_t kTid = 100;
constexpr uint64_t kStart = 0x7f0000005382;     // the routine
constexpr uint64_t kTargetSp = 0x7ffd00010000;  // the SP it switches to
constexpr uint8_t kHandler = UT_SIG_HANDLER | UT_SIG_SIGINFO;
const model::FrameSize kFrame{2896, 2944};

InjectionSite return_address_site() {
  return {0x52,
          0x4b,
          SiteKind::ReturnAddress,
          "mov rcx, qword ptr [rdi + 0xa8]",
          "mov rsp, qword ptr [rdi + 0xa0]",
          {{0xa8, ReadClass::ReturnAddress}, {0x98, ReadClass::Register}, {0x68, ReadClass::Register}}};
}

InjectionSite register_site() {
  return {0x61,
          0x5a,
          SiteKind::Register,
          "mov rdi, qword ptr [rdi + 0x68]",
          "mov rcx, qword ptr [rdi + 0x98]",
          {{0x68, ReadClass::Register}}};
}

InjectionSite after_switch_site() {
  return {0x6c, 0x65, SiteKind::AfterSwitch, "sub rsp, 0x10", "mov rsp, qword ptr [rdi + 0xa0]", {}};
}

SiteAccumulator::Context context(const InjectionSite& site, size_t routine = 0) {
  return {site, routine, kStart, 1000, SIGPROF, true, kFrame, 0, uint64_t{0}};
}

// Landing of injection `seq` at the site's instruction, the context `distance` below the target SP.
ut_inject_event landing(const InjectionSite& site, uint64_t seq, uint64_t distance,
                        std::vector<uint64_t> before, uint8_t flags = kHandler, uint8_t site_index = 0) {
  ut_inject_event e{};
  e.hdr.kind = UT_EVENT_INJECT_LANDING;
  e.hdr.tid = kTid;
  e.hdr.ktime_ns = 1'000'000 * seq;
  e.seq = seq;
  e.site = site_index;
  e.ip = kStart + site.offset;
  e.sp = kTargetSp;
  e.ctx = kTargetSp - distance;
  e.target_sp = kTargetSp;
  e.flags = flags;
  e.sig = SIGPROF;
  e.n_slots = static_cast<uint8_t>(site.slots.size());
  for (size_t i = 0; i < site.slots.size(); ++i) {
    e.slot_addr[i] = e.ctx + site.slots[i].disp;
    e.slot_value[i] = before[i];
  }
  return e;
}

ut_inject_event check(const ut_inject_event& landed, std::vector<uint64_t> after) {
  ut_inject_event e = landed;
  e.hdr.kind = UT_EVENT_INJECT_CHECK;
  for (size_t i = 0; i < after.size(); ++i) e.slot_value[i] = after[i];
  return e;
}

ut_inject_event fatal(int sig, uint64_t ip) {
  ut_inject_event e{};
  e.hdr.kind = UT_EVENT_FATAL_SIGNAL;
  e.hdr.tid = kTid;
  e.site = UT_INJECT_NO_SITE;
  e.sig = sig;
  e.ip = ip;
  e.sp = kTargetSp;
  return e;
}

InjectCounters counters(uint64_t delivered, uint64_t landed, uint64_t checked) {
  InjectCounters c{};
  c[UT_INJ_PASSES] = delivered;
  c[UT_INJ_SENT] = delivered;
  c[UT_INJ_DELIVERED] = delivered;
  c[UT_INJ_LANDED] = landed;
  c[UT_INJ_CHECKED] = checked;
  return c;
}

TargetEnd stopped() { return {true, 128 + SIGTERM, true, 0.5}; }
TargetEnd died_of(int sig) { return {true, 128 + sig, false, 0.1}; }

TEST(ValidateOutcome, ReturnToZeroIsACrashWithItsEvidence) {
  auto site = return_address_site();
  SiteAccumulator acc(context(site));
  auto e = landing(site, 1, 2128, {0x5555deadbeef, 0x11, 0x22});
  acc.add_landing(e);
  acc.add_check(check(e, {0, 0x11, 0x22}));
  acc.add_crash(fatal(SIGSEGV, 0));
  auto r = acc.finish(counters(1, 1, 1), {}, died_of(SIGSEGV), true);

  EXPECT_EQ(r.outcome, Outcome::Crashed);
  ASSERT_TRUE(r.crash && r.crash->after);
  EXPECT_EQ(r.crash->after->seq, 1u);
  EXPECT_EQ(r.corrupted, 1u);
  EXPECT_EQ(r.d_min, 2128u);
  EXPECT_NE(r.reason.find("SIGSEGV at IP 0x0 (return to 0) after injection #1 at +0x52"), std::string::npos)
      << r.reason;
  EXPECT_NE(r.reason.find("ctx+0xa8 (return address) lay inside the signal frame"), std::string::npos)
      << r.reason;
  EXPECT_NE(r.reason.find("0x5555deadbeef before the frame and 0x0 when the routine read it"),
            std::string::npos)
      << r.reason;
  ASSERT_EQ(r.slots.size(), 3u);
  EXPECT_EQ(r.slots[0].overwritten, 1u);
  EXPECT_EQ(r.slots[0].placements[static_cast<size_t>(model::SlotPlacement::Inside)], 1u);
  EXPECT_TRUE(is_corruption(r.outcome));
}

TEST(ValidateOutcome, AReturnIntoTheRoutineItselfSaysTheThreadLoops) {
  // The frame's saved %rip, the landing instruction's own address, over the return-address slot.
  auto site = return_address_site();
  SiteAccumulator acc(context(site));
  auto e = landing(site, 1, 3072, {0x5555deadbeef, 0x11, 0x22});
  acc.add_landing(e);
  acc.add_check(check(e, {kStart + 0x52, 0x11, 0x22}));
  auto r = acc.finish(counters(1, 1, 1), {}, stopped(), false);
  EXPECT_EQ(r.outcome, Outcome::Corrupted);
  EXPECT_NE(r.reason.find("wild return to 0x7f00000053d4 (+0x52 of this routine: the thread loops in it"),
            std::string::npos)
      << r.reason;

  SiteAccumulator elsewhere(context(site));
  e = landing(site, 1, 3072, {0x5555deadbeef, 0x11, 0x22});
  elsewhere.add_landing(e);
  elsewhere.add_check(check(e, {0x5555deadbe00, 0x11, 0x22}));
  r = elsewhere.finish(counters(1, 1, 1), {}, stopped(), false);
  EXPECT_EQ(r.reason.find("loops"), std::string::npos) << r.reason;
}

TEST(ValidateOutcome, ChangedRegisterSlotIsSilentCorruption) {
  auto site = register_site();
  SiteAccumulator acc(context(site));
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    auto e = landing(site, seq, 2128, {0x7f0000001234});
    acc.add_landing(e);
    acc.add_check(check(e, {seq == 2 ? uint64_t{0} : uint64_t{0x7f0000001234}}));
  }
  auto r = acc.finish(counters(3, 3, 3), {}, stopped(), false);
  EXPECT_EQ(r.outcome, Outcome::Corrupted);
  EXPECT_EQ(r.corrupted, 1u);
  ASSERT_TRUE(r.first_corruption);
  EXPECT_EQ(r.first_corruption->seq, 2u);
  EXPECT_NE(r.reason.find("1 of 3 injection(s) overwrote a pending slot; first #2"), std::string::npos)
      << r.reason;
  EXPECT_NE(r.reason.find("silent register corruption"), std::string::npos) << r.reason;
}

TEST(ValidateOutcome, SlotBelowTheFrameSurvivesAndSaysWhy) {
  auto site = return_address_site();
  SiteAccumulator acc(context(site));
  auto e = landing(site, 1, 18560, {0x5555deadbeef, 0x11, 0x22});
  acc.add_landing(e);
  acc.add_check(check(e, {0x5555deadbeef, 0x11, 0x22}));
  auto r = acc.finish(counters(1, 1, 1), {}, stopped(), false);
  EXPECT_EQ(r.outcome, Outcome::Survived);
  EXPECT_NE(r.reason.find("ctx+0xa8 (return address) lay below the signal frame (a handler must use"),
            std::string::npos)
      << r.reason;
  EXPECT_NE(r.reason.find("this handler uses 0 B"), std::string::npos) << r.reason;
}

TEST(ValidateOutcome, SlotInsideTheFrameButUnwrittenSurvivesAndSaysWhy) {
  auto site = register_site();
  SiteAccumulator acc(context(site));
  auto e = landing(site, 1, 2128, {0x42});
  acc.add_landing(e);
  acc.add_check(check(e, {0x42}));
  auto r = acc.finish(counters(1, 1, 1), {}, stopped(), false);
  EXPECT_EQ(r.outcome, Outcome::Survived);
  EXPECT_NE(r.reason.find("inside the signal frame, but in bytes the kernel did not write"),
            std::string::npos)
      << r.reason;
}

TEST(ValidateOutcome, NoWindowSurvivesWithTheNoWindowSentence) {
  auto site = after_switch_site();
  SiteAccumulator acc(context(site));
  auto e = landing(site, 1, 2128, {});
  acc.add_landing(e);
  acc.add_check(check(e, {}));
  auto r = acc.finish(counters(1, 1, 1), {}, stopped(), false);
  EXPECT_EQ(r.outcome, Outcome::Survived);
  EXPECT_NE(r.reason.find("no window: nothing reads the abandoned stack after the switch"),
            std::string::npos);
}

TEST(ValidateOutcome, NothingDeliveredIsNotReached) {
  SiteAccumulator acc(context(return_address_site()));
  auto r = acc.finish(counters(0, 0, 0), {}, stopped(), false);
  EXPECT_EQ(r.outcome, Outcome::NotReached);
  EXPECT_NE(r.reason.find("the instruction at +0x4b never ran"), std::string::npos) << r.reason;
  EXPECT_FALSE(is_corruption(r.outcome));
}

TEST(ValidateOutcome, TooFewAtTheIntendedInstructionIsInconclusive) {
  auto site = register_site();
  SiteAccumulator acc(context(site));
  for (uint64_t seq = 1; seq <= 97; ++seq) {
    auto e = landing(site, seq, 2128, {0x42});
    acc.add_landing(e);
    acc.add_check(check(e, {0x42}));
  }
  for (uint64_t seq = 98; seq <= 100; ++seq) {
    auto e = landing(site, seq, 2128, {0x42});
    e.ip = kStart + 0x65;  // the ret, say
    acc.add_landing(e);
  }
  auto r = acc.finish(counters(100, 97, 97), {}, stopped(), false);
  EXPECT_EQ(r.outcome, Outcome::Inconclusive);
  EXPECT_DOUBLE_EQ(r.landing_ratio(), 0.97);
  EXPECT_EQ(r.elsewhere.at(kStart + 0x65), 3u);
}

TEST(ValidateOutcome, NinetyNinePercentIsEnough) {
  auto site = register_site();
  SiteAccumulator acc(context(site));
  auto r = acc.finish(counters(100, 99, 99), {}, stopped(), false);
  EXPECT_NE(r.outcome, Outcome::Inconclusive);
}

TEST(ValidateOutcome, KilledByTheInjectedSignalWithoutAHandlerIsInconclusive) {
  auto site = register_site();
  SiteAccumulator acc(context(site));
  acc.add_landing(landing(site, 1, 2128, {0x42}, /*flags=*/0));
  auto r = acc.finish(counters(1, 1, 0), {}, died_of(SIGPROF), false);
  EXPECT_EQ(r.outcome, Outcome::Inconclusive);
  EXPECT_NE(r.reason.find("no handler for SIGPROF"), std::string::npos) << r.reason;
}

TEST(ValidateOutcome, CrashIsBlamedOnTheSiteOfTheThreadsLastInjection) {
  auto ra = return_address_site();
  auto reg = register_site();
  RunAccumulator run({context(reg, 0), context(ra, 1)});
  auto quiet = landing(reg, 1, 2128, {0x42}, kHandler, 0);
  quiet.hdr.tid = kTid + 1;
  run.add(quiet);
  run.add(check(quiet, {0x42}));
  auto fatal_one = landing(ra, 1, 2128, {0x5555deadbeef, 0x11, 0x22}, kHandler, 1);
  run.add(fatal_one);
  run.add(check(fatal_one, {0, 0x11, 0x22}));
  run.add(fatal(SIGSEGV, 0));
  run.add(fatal(SIGSEGV, 0));  // consequences are not new crashes
  auto results = run.finish({counters(1, 1, 1), counters(1, 1, 1)}, {}, died_of(SIGSEGV));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcome, Outcome::Survived) << results[0].reason;
  EXPECT_EQ(results[1].outcome, Outcome::Crashed);
  EXPECT_EQ(results[1].routine, 1u);
}

TEST(ValidateOutcome, SiteThatNeverRanStaysNotReachedWhenAnotherCrashed) {
  auto ra = return_address_site();
  RunAccumulator run({context(ra, 0), context(ra, 1)});
  auto e = landing(ra, 1, 2128, {0x5555deadbeef, 0x11, 0x22}, kHandler, 0);
  run.add(e);
  run.add(check(e, {0, 0x11, 0x22}));
  run.add(fatal(SIGSEGV, 0));
  auto results = run.finish({counters(1, 1, 1), counters(0, 0, 0)}, {}, died_of(SIGSEGV));
  EXPECT_EQ(results[0].outcome, Outcome::Crashed);
  EXPECT_EQ(results[1].outcome, Outcome::NotReached);
}

TEST(ValidateOutcome, OutcomeNames) {
  EXPECT_STREQ(to_string(Outcome::Crashed), "crashed");
  EXPECT_STREQ(to_string(Outcome::NotReached), "not_reached");
}

}  // namespace
}  // namespace ut::validate
