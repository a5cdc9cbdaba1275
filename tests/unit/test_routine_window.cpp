// analyse_routine on real resume routines and on the assembled fixtures.
#include "analysis/routine_window.h"

#include <gtest/gtest.h>

#include "analysis/elf_object.h"
#include "analysis/register_names.h"

namespace ut::analysis {
namespace {

const std::string kFixtureDir = UT_FIXTURE_DIR;

RoutineWindow analyse_symbol(const std::string& path, const std::string& name) {
  auto elf = ElfObject::open(path);
  auto symbol = elf.find_symbol(name);
  if (!symbol) throw std::runtime_error(path + " lacks " + name);
  return analyse_routine(elf.read(symbol->vaddr, symbol->size), symbol->vaddr, name);
}

std::vector<uint64_t> window_offsets(const RoutineWindow& routine) {
  std::vector<uint64_t> offsets;
  for (const auto& insn : routine.window) offsets.push_back(insn.offset);
  return offsets;
}

void expect_stale(const StaleRead& read, uint64_t offset, int32_t disp, ReadClass cls) {
  EXPECT_EQ(read.offset, offset) << read.text;
  EXPECT_EQ(read.disp, disp) << read.text;
  EXPECT_EQ(read.cls, cls) << read.text;
}

void expect_window(const WindowInsn& insn, uint64_t offset, ReadClass cls, int32_t slot_disp) {
  EXPECT_EQ(insn.offset, offset) << insn.text;
  EXPECT_EQ(insn.cls, cls) << insn.text;
  EXPECT_EQ(insn.slot_disp, slot_disp) << insn.text;
}

TEST(RoutineWindow, DebianLibunwindSetcontext) {
  auto routine = analyse_symbol("/usr/lib/x86_64-linux-gnu/libunwind.so.8", "_Ux86_64_setcontext");
  EXPECT_EQ(routine.vaddr, 0x5382u);
  EXPECT_EQ(routine.size, 102u);
  ASSERT_EQ(routine.listing.size(), 21u);
  EXPECT_EQ(routine.listing[0].text, "mov r8, qword ptr [rdi + 0x1a8]");
  EXPECT_EQ(routine.listing[1].text, "fldenv [r8]");
  EXPECT_EQ(routine.listing.back().offset, 0x65u);
  EXPECT_EQ(routine.listing.back().text, "ret");

  ASSERT_EQ(routine.switch_offset, 0x4bu);
  EXPECT_EQ(routine.listing[15].text, "mov rsp, qword ptr [rdi + 0xa0]");
  EXPECT_TRUE(routine.ctx_known);
  EXPECT_EQ(routine.ctx_reg, UT_REG_DI);
  EXPECT_TRUE(routine.ctx_reg_from_entry);
  EXPECT_EQ(routine.sp_disp, 0xa0);
  EXPECT_EQ(routine.ip_disp, 0xa8);

  ASSERT_EQ(routine.stale_reads.size(), 3u);
  expect_stale(routine.stale_reads[0], 0x52, 0xa8, ReadClass::ReturnAddress);
  expect_stale(routine.stale_reads[1], 0x5a, 0x98, ReadClass::Register);
  expect_stale(routine.stale_reads[2], 0x61, 0x68, ReadClass::Register);
  EXPECT_EQ(routine.stale_reads[0].text, "mov rcx, qword ptr [rdi + 0xa8]");

  ASSERT_EQ(routine.window.size(), 4u);
  expect_window(routine.window[0], 0x52, ReadClass::ReturnAddress, 0xa8);
  expect_window(routine.window[1], 0x59, ReadClass::Register, 0x98);
  expect_window(routine.window[2], 0x5a, ReadClass::Register, 0x98);
  expect_window(routine.window[3], 0x61, ReadClass::Register, 0x68);
  EXPECT_EQ(routine.window[1].text, "push rcx");
  EXPECT_EQ(routine.window[1].length, 1u);
  EXPECT_TRUE(routine.exposed());
}

// LLVM's __libunwind_Registers_x86_64_jumpto is static; in Debian 12's libunwind-14 it spans
// [0x5d74, 0x5dd1). It stores RDI and RIP on the target stack first, then pops them.
TEST(RoutineWindow, LlvmJumptoReadsNothingStale) {
  auto elf = ElfObject::open("/usr/lib/llvm-14/lib/libunwind.so.1");
  auto routine = analyse_routine(elf.read(0x5d74, 0x5d), 0x5d74, "jumpto");
  ASSERT_FALSE(routine.listing.empty());
  ASSERT_EQ(routine.listing[0].text, "mov rax, qword ptr [rdi + 0x38]");
  ASSERT_TRUE(routine.switch_offset);
  EXPECT_EQ(routine.listing.at(routine.listing.size() - 4).text, "mov rsp, qword ptr [rdi + 0x38]");
  EXPECT_EQ(routine.ctx_reg, UT_REG_DI);
  EXPECT_EQ(routine.sp_disp, 0x38);
  EXPECT_TRUE(routine.stale_reads.empty());
  EXPECT_FALSE(routine.ip_disp);
  EXPECT_FALSE(routine.exposed());
}

TEST(RoutineWindow, VulnerableFixtureMatchesLibunwind) {
  auto routine = analyse_symbol(kFixtureDir + "/libut_vulnerable.so", "_Ux86_64_setcontext");
  ASSERT_EQ(routine.switch_offset, 0x4bu);
  EXPECT_EQ(window_offsets(routine), (std::vector<uint64_t>{0x52, 0x59, 0x5a, 0x61}));
  EXPECT_EQ(routine.ip_disp, 0xa8);
}

TEST(RoutineWindow, UpstreamFixHasNoWindow) {
  auto routine = analyse_symbol(kFixtureDir + "/libut_fixed.so", "_Ux86_64_setcontext");
  ASSERT_TRUE(routine.switch_offset);
  EXPECT_EQ(routine.listing.at(routine.listing.size() - 4).offset, *routine.switch_offset);
  EXPECT_EQ(routine.ctx_reg, UT_REG_DI);
  EXPECT_TRUE(routine.ctx_reg_from_entry);
  EXPECT_EQ(routine.sp_disp, 0xa0);
  EXPECT_TRUE(routine.stale_reads.empty());
  EXPECT_FALSE(routine.exposed());
}

TEST(RoutineWindow, LongGapWindowCoversTheGapAndCopies) {
  auto routine = analyse_symbol(kFixtureDir + "/libut_long_gap.so", "_Ux86_64_setcontext");
  ASSERT_TRUE(routine.switch_offset);
  const auto& listing = routine.listing;
  ASSERT_EQ(listing.size(), 15u);
  EXPECT_EQ(listing[4].offset, *routine.switch_offset);
  EXPECT_EQ(routine.ctx_reg, UT_REG_DI);
  EXPECT_TRUE(routine.ctx_reg_from_entry);
  EXPECT_EQ(routine.sp_disp, 0xa0);
  EXPECT_EQ(routine.ip_disp, 0xa8);

  // Through the derived pointer (%rsi + 0x10) and the copy (%rsi), not through %r9.
  ASSERT_EQ(routine.stale_reads.size(), 2u);
  expect_stale(routine.stale_reads[0], listing[11].offset, 0xa8, ReadClass::ReturnAddress);
  expect_stale(routine.stale_reads[1], listing[13].offset, 0x70, ReadClass::Register);
  EXPECT_EQ(routine.stale_reads[0].text, "mov rcx, qword ptr [rdx + 0x98]");

  // Every instruction from the one after the switch to the last stale read.
  ASSERT_EQ(routine.window.size(), 9u);
  for (size_t i = 0; i < routine.window.size(); ++i) {
    const auto& insn = routine.window[i];
    EXPECT_EQ(insn.offset, listing[5 + i].offset);
    if (i <= 6)
      expect_window(insn, listing[5 + i].offset, ReadClass::ReturnAddress, 0xa8);
    else
      expect_window(insn, listing[5 + i].offset, ReadClass::Register, 0x70);
  }
}

TEST(RoutineWindow, CoroutineSwitchReadsOnlyTheNewStack) {
  auto routine = analyse_symbol(kFixtureDir + "/libut_coroutine.so", "coroutine_switch");
  ASSERT_EQ(routine.switch_offset, routine.listing.at(7).offset);
  EXPECT_EQ(routine.listing[7].text, "mov rsp, qword ptr [rsi]");
  EXPECT_TRUE(routine.ctx_known);
  EXPECT_EQ(routine.ctx_reg, UT_REG_SI);
  EXPECT_TRUE(routine.ctx_reg_from_entry);
  EXPECT_EQ(routine.sp_disp, 0);
  EXPECT_TRUE(routine.stale_reads.empty());
  EXPECT_FALSE(routine.exposed());
}

TEST(RoutineWindow, SwitchToARegisterHasNoContext) {
  const std::vector<uint8_t> code{0x48, 0x89, 0xfc,  // mov rsp, rdi
                                  0x48, 0x8b, 0x47, 0x08,  // mov rax, qword ptr [rdi + 8]
                                  0xc3};  // ret
  auto routine = analyse_routine(code, 0x1000, "switch_to_rdi");
  EXPECT_EQ(routine.switch_offset, 0u);
  EXPECT_FALSE(routine.ctx_known);
  EXPECT_TRUE(routine.stale_reads.empty());
  EXPECT_FALSE(routine.exposed());
}

TEST(RoutineWindow, StackAdjustmentsAreNotSwitches) {
  const std::vector<uint8_t> code{0x55,                    // push rbp
                                  0x48, 0x89, 0xe5,        // mov rbp, rsp
                                  0x48, 0x83, 0xe4, 0xf0,  // and rsp, -16
                                  0x48, 0x83, 0xec, 0x20,  // sub rsp, 0x20
                                  0x48, 0x8d, 0x64, 0x24, 0x08,  // lea rsp, [rsp + 8]
                                  0xc9,                    // leave
                                  0xc3};                   // ret
  auto routine = analyse_routine(code, 0, "frame");
  EXPECT_EQ(routine.listing.size(), 7u);
  EXPECT_FALSE(routine.switch_offset);
  EXPECT_FALSE(routine.exposed());
}

TEST(RoutineWindow, IndirectJumpThroughStaleSlotIsReturnAddress) {
  const std::vector<uint8_t> code{0x48, 0x8b, 0x67, 0x38,  // mov rsp, qword ptr [rdi + 0x38]
                                  0x48, 0x8b, 0x77, 0x28,  // mov rsi, qword ptr [rdi + 0x28]
                                  0xff, 0x67, 0x40};       // jmp qword ptr [rdi + 0x40]
  auto routine = analyse_routine(code, 0, "jump_through_context");
  ASSERT_EQ(routine.stale_reads.size(), 2u);
  expect_stale(routine.stale_reads[0], 4, 0x28, ReadClass::Register);
  expect_stale(routine.stale_reads[1], 8, 0x40, ReadClass::ReturnAddress);
  EXPECT_EQ(routine.ip_disp, 0x40);
  ASSERT_EQ(routine.window.size(), 2u);
  expect_window(routine.window[0], 4, ReadClass::ReturnAddress, 0x40);
  expect_window(routine.window[1], 8, ReadClass::ReturnAddress, 0x40);
}

TEST(RegisterNames, AliasesMapToPtRegsSlots) {
  EXPECT_EQ(pt_regs_slot(X86_REG_RDI)->reg, UT_REG_DI);
  EXPECT_EQ(pt_regs_slot(X86_REG_EDI)->bits, 32u);
  EXPECT_EQ(pt_regs_slot(X86_REG_DIL)->reg, UT_REG_DI);
  EXPECT_EQ(pt_regs_slot(X86_REG_AH)->reg, UT_REG_AX);
  EXPECT_EQ(pt_regs_slot(X86_REG_AH)->bits, 8u);
  EXPECT_EQ(pt_regs_slot(X86_REG_R10W)->reg, UT_REG_R10);
  EXPECT_EQ(pt_regs_slot(X86_REG_R10W)->bits, 16u);
  EXPECT_EQ(pt_regs_slot(X86_REG_SPL)->reg, UT_REG_SP);
  EXPECT_EQ(pt_regs_slot(X86_REG_RIP)->reg, UT_REG_IP);
  EXPECT_FALSE(pt_regs_slot(X86_REG_XMM0));
  EXPECT_FALSE(pt_regs_slot(X86_REG_FS));
  EXPECT_FALSE(pt_regs_slot(X86_REG_INVALID));
  EXPECT_STREQ(ut_reg_name(UT_REG_R8), "r8");
  EXPECT_STREQ(ut_reg_name(UT_REG_DI), "rdi");
}

TEST(ReadClass, WireValues) {
  EXPECT_EQ(to_wire(ReadClass::ReturnAddress), UT_CLASS_RETURN_ADDRESS);
  EXPECT_EQ(to_wire(ReadClass::Register), UT_CLASS_REGISTER);
  EXPECT_STREQ(to_string(ReadClass::ReturnAddress), "return-address");
}

}  // namespace
}  // namespace ut::analysis
