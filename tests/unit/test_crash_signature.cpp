// Fatal signals classified by their marks and by a window hit just before them.
#include <gtest/gtest.h>

#include <signal.h>

#include "model/crash_signature.h"

namespace ut::model {
namespace {

constexpr uint64_t kStart = 0x7f00'0000'5382;
const std::vector<UnwinderRoutine> kRoutines = {{"_Ux86_64_setcontext", kStart, kStart + 0x66, {kStart + 0x65}}};
constexpr uint64_t kNow = 5'000'000'000;

FatalSignal fatal(uint64_t ip, uint64_t fault_addr, int32_t si_code = 1) {
  return {7, kNow, SIGSEGV, si_code, ip, 0x7ffd'0000'1000, fault_addr};
}
const PriorHit kRecentHit{kNow - 20'000, 0x52, analysis::ReadClass::ReturnAddress};

TEST(CrashSignature, ReturnToNullAfterAHitIsConfirmed) {
  auto s = classify_crash(fatal(0, 0), kRoutines, kRecentHit);
  EXPECT_EQ(s.kind, CrashKind::ReturnToNull);
  EXPECT_EQ(s.verdict, CrashVerdict::Confirmed);
  ASSERT_TRUE(s.hit_age_ns);
  EXPECT_EQ(*s.hit_age_ns, 20'000u);
  EXPECT_NE(s.summary.find("confirmed"), std::string::npos);
}

TEST(CrashSignature, GeneralProtectionAtTheRetIsFaultAtRet) {
  auto s = classify_crash(fatal(kStart + 0x65, 0, 0x80), kRoutines, kRecentHit);
  EXPECT_EQ(s.kind, CrashKind::FaultAtRet);
  EXPECT_EQ(s.verdict, CrashVerdict::Confirmed);
  EXPECT_NE(s.summary.find("general protection"), std::string::npos);
  EXPECT_NE(s.summary.find("_Ux86_64_setcontext+0x65"), std::string::npos);
}

TEST(CrashSignature, FetchFaultAtAWildTargetIsWildFetch) {
  auto s = classify_crash(fatal(0x4141'4141'4141, 0x4141'4141'4141), kRoutines, std::nullopt);
  EXPECT_EQ(s.kind, CrashKind::WildFetch);
  EXPECT_EQ(s.verdict, CrashVerdict::Suspected);  // the signature without a hit seen
}

TEST(CrashSignature, AnOrdinaryNullDereferenceIsUnrelated) {
  auto s = classify_crash(fatal(0x5555'5555'1234, 0x10), kRoutines, std::nullopt);
  EXPECT_EQ(s.kind, CrashKind::Other);
  EXPECT_EQ(s.verdict, CrashVerdict::Unrelated);
}

TEST(CrashSignature, AnOldHitDoesNotConfirm) {
  PriorHit old = kRecentHit;
  old.ktime_ns = kNow - 2 * kHitRecentNs;
  auto s = classify_crash(fatal(0, 0), kRoutines, old);
  EXPECT_EQ(s.verdict, CrashVerdict::Suspected);
  EXPECT_FALSE(s.hit_age_ns);
}

TEST(CrashSignature, AHitThenAnUnrelatedFaultIsSuspected) {
  auto s = classify_crash(fatal(0x5555'5555'1234, 0x10), kRoutines, kRecentHit);
  EXPECT_EQ(s.verdict, CrashVerdict::Suspected);
}

TEST(CrashSignature, CanonicalAddresses) {
  EXPECT_TRUE(is_canonical(0x7fff'ffff'ffff));
  EXPECT_TRUE(is_canonical(0xffff'8000'0000'0000));
  EXPECT_FALSE(is_canonical(0x8000'0000'0000));
  EXPECT_FALSE(is_canonical(0x4141'4141'4141'4141));
}

TEST(CrashSignature, MisalignedStackIsReported) {
  FatalSignal f = fatal(0, 0);
  f.sp = 0x7ffd'0000'1008;
  EXPECT_TRUE(classify_crash(f, kRoutines, kRecentHit).sp_misaligned);
  f.sp = 0x7ffd'0000'1000;
  EXPECT_FALSE(classify_crash(f, kRoutines, kRecentHit).sp_misaligned);
}

}  // namespace
}  // namespace ut::model
