// analyse_routine on real resume routines and on the assembled fixtures.
#include "analysis/routine_window.h"

#include <gtest/gtest.h>

#include <algorithm>

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

std::string switch_text(const RoutineWindow& routine) {
  for (const auto& insn : routine.listing)
    if (routine.switch_offset && insn.offset == *routine.switch_offset) return insn.text;
  return "";
}

const std::string kStackShapes = kFixtureDir + "/libut_stack_shapes.so";

// libgcc's shape: %rsp becomes the frame pointer plus a run-time offset, after every reload.
TEST(RoutineWindow, EhReturnEpilogueSwitchesWithinItsStack) {
  auto routine = analyse_symbol(kStackShapes, "eh_epilogue");
  EXPECT_EQ(switch_text(routine), "mov rsp, rcx");
  EXPECT_EQ(routine.stack_source, StackSource::OldStack);
  EXPECT_FALSE(routine.ctx_known);
  EXPECT_TRUE(routine.stale_reads.empty());
  EXPECT_FALSE(routine.exposed());
}

// Reloading %rbp through the old frame pointer after the switch reads the abandoned frame.
TEST(RoutineWindow, EhReturnEpilogueReadingTheOldFrameAfterTheSwitch) {
  auto routine = analyse_symbol(kStackShapes, "eh_epilogue_late_rbp");
  ASSERT_EQ(switch_text(routine), "mov rsp, rcx");
  EXPECT_EQ(routine.stack_source, StackSource::OldStack);
  ASSERT_EQ(routine.stale_reads.size(), 1u);
  EXPECT_EQ(routine.stale_reads[0].text, "mov rbp, qword ptr [rbp]");
  EXPECT_EQ(routine.stale_reads[0].disp, -8);  // from the entry %rsp: the saved %rbp
  EXPECT_EQ(routine.stale_reads[0].cls, ReadClass::Register);
  ASSERT_EQ(routine.window.size(), 1u);
  EXPECT_EQ(routine.window[0].offset, routine.stale_reads[0].offset);
}

// glibc's __longjmp: the new %rsp is a load from the jmp_buf, decoded by ror/xor.
TEST(RoutineWindow, MangledStackPointerStillNamesItsContext) {
  auto routine = analyse_symbol(kStackShapes, "mangled_longjmp");
  EXPECT_EQ(switch_text(routine), "mov rsp, r8");
  EXPECT_EQ(routine.stack_source, StackSource::Context);
  EXPECT_TRUE(routine.ctx_known);
  EXPECT_EQ(routine.ctx_reg, UT_REG_DI);
  EXPECT_TRUE(routine.ctx_reg_from_entry);
  EXPECT_EQ(routine.sp_disp, 0x30);
  EXPECT_TRUE(routine.sp_decoded);
  EXPECT_TRUE(routine.stale_reads.empty());

  auto late = analyse_symbol(kStackShapes, "mangled_longjmp_late_rbp");
  ASSERT_EQ(late.stale_reads.size(), 1u);
  EXPECT_EQ(late.stale_reads[0].text, "mov rbp, qword ptr [rdi + 8]");
  EXPECT_EQ(late.stale_reads[0].disp, 8);
  EXPECT_EQ(late.window.size(), 1u);
}

// The scope's exit (`mov rsp, rbx`) comes before its entry in address order; only the loop's
// back edge tells that %rbx holds an earlier %rsp there.
TEST(RoutineWindow, VariableLengthArrayLoopIsNotASwitch) {
  auto routine = analyse_symbol(kStackShapes, "vla_scope_loop");
  EXPECT_FALSE(routine.switch_offset);
  EXPECT_FALSE(routine.exposed());
}

// Capstone 4 does not know CET's shadow-stack instructions: they are stepped over by length
// (rdsspq rax: f3 48 0f 1e c8) and the analysis goes on.
TEST(RoutineWindow, UndecodableInstructionsAreSteppedOver) {
  const std::vector<uint8_t> code{0xf3, 0x48, 0x0f, 0x1e, 0xc8,  // rdsspq rax
                                  0x48, 0x8b, 0x67, 0x38,        // mov rsp, qword ptr [rdi + 0x38]
                                  0x48, 0x8b, 0x8f, 0x80, 0, 0, 0,  // mov rcx, [rdi + 0x80]
                                  0xff, 0xe1};                    // jmp rcx
  auto routine = analyse_routine(code, 0, "cet");
  ASSERT_EQ(routine.listing.size(), 4u);
  EXPECT_EQ(routine.listing[0].length, 5u);
  EXPECT_EQ(routine.undecoded, (std::vector<uint64_t>{0}));
  EXPECT_EQ(routine.switch_offset, 5u);
  ASSERT_EQ(routine.stale_reads.size(), 1u);
  EXPECT_EQ(routine.stale_reads[0].cls, ReadClass::ReturnAddress);

  // incsspq rcx names %rbp in its ModRM reg field, an opcode extension: %rbp stays the frame.
  const std::vector<uint8_t> frame{0x55,                          // push rbp
                                   0x48, 0x89, 0xe5,              // mov rbp, rsp
                                   0xf3, 0x48, 0x0f, 0xae, 0xe9,  // incsspq rcx
                                   0x48, 0x8d, 0x65, 0x00,        // lea rsp, [rbp]
                                   0x5d, 0xc3};                   // pop rbp; ret
  auto framed = analyse_routine(frame, 0, "incssp");
  EXPECT_EQ(framed.undecoded, (std::vector<uint64_t>{4}));
  EXPECT_FALSE(framed.switch_offset);
}

TEST(RoutineWindow, LibgccRaiseExceptionSwitchesAtItsEpilogue) {
  auto routine = analyse_symbol("/lib/x86_64-linux-gnu/libgcc_s.so.1", "_Unwind_RaiseException");
  ASSERT_TRUE(routine.switch_offset);
  EXPECT_EQ(switch_text(routine), "mov rsp, rcx");
  EXPECT_GT(*routine.switch_offset, routine.size / 2);  // far from the entry
  EXPECT_EQ(routine.stack_source, StackSource::OldStack);
  for (uint64_t offset : routine.undecoded) {
    auto insn = std::find_if(routine.listing.begin(), routine.listing.end(),
                             [&](const Instruction& i) { return i.offset == offset; });
    ASSERT_NE(insn, routine.listing.end());
    EXPECT_EQ(insn->length, 5u) << insn->text;  // rdsspq, incsspq
  }
  EXPECT_TRUE(routine.stale_reads.empty());
}

// The hidden routine of the hidden_resume fixture lies between two exported functions: the
// split of that stretch puts it in a piece of its own.
TEST(CodePieces, SplitAtPaddingAfterTransfers) {
  auto elf = ElfObject::open(kFixtureDir + "/libut_hidden_resume.so");
  auto before = elf.find_symbol("_Unwind_GetIP");
  auto hidden = elf.find_symbol("resume_hidden");
  auto after = elf.find_symbol("unw_getcontext");
  ASSERT_TRUE(before && hidden && after);
  auto pieces = split_into_pieces(elf.read(before->vaddr, after->vaddr - before->vaddr),
                                  before->vaddr);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].vaddr, before->vaddr);
  EXPECT_EQ(pieces[0].size, before->size);
  EXPECT_FALSE(pieces[0].writes_rsp);
  EXPECT_EQ(pieces[1].vaddr, hidden->vaddr);
  EXPECT_EQ(pieces[1].size, hidden->size);
  EXPECT_TRUE(pieces[1].writes_rsp);
}

TEST(CodePieces, MaySwitchRspScansEncodings) {
  using Bytes = std::vector<uint8_t>;
  EXPECT_TRUE(may_switch_rsp(Bytes{0x48, 0x8b, 0x67, 0x38}));  // mov rsp, [rdi + 0x38]
  EXPECT_TRUE(may_switch_rsp(Bytes{0x48, 0x89, 0xcc}));        // mov rsp, rcx
  EXPECT_TRUE(may_switch_rsp(Bytes{0x4c, 0x89, 0xc4}));        // mov rsp, r8
  EXPECT_TRUE(may_switch_rsp(Bytes{0x48, 0x8d, 0x65, 0xd8}));  // lea rsp, [rbp - 0x28]
  EXPECT_FALSE(may_switch_rsp(Bytes{0x48, 0x89, 0xe5}));       // mov rbp, rsp
  EXPECT_FALSE(may_switch_rsp(Bytes{0x49, 0x89, 0xc4}));       // mov r12, rax
  EXPECT_FALSE(may_switch_rsp(Bytes{0x48, 0x83, 0xec, 0x10}));  // sub rsp, 0x10
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
