#include "analysis/register_names.h"

#include <array>

namespace ut::analysis {

namespace {

// Every name of one pt_regs slot, widest first; X86_REG_INVALID where a width has no name.
struct Aliases {
  ut_reg reg;
  const char* name;
  std::array<x86_reg, 5> by_width;  // 64, 32, 16, low 8, high 8 (ah/bh/ch/dh)
};

constexpr std::array<Aliases, 17> kAliases{{
    {UT_REG_AX, "rax", {X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL, X86_REG_AH}},
    {UT_REG_BX, "rbx", {X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL, X86_REG_BH}},
    {UT_REG_CX, "rcx", {X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL, X86_REG_CH}},
    {UT_REG_DX, "rdx", {X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL, X86_REG_DH}},
    {UT_REG_SI, "rsi", {X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL, X86_REG_INVALID}},
    {UT_REG_DI, "rdi", {X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL, X86_REG_INVALID}},
    {UT_REG_BP, "rbp", {X86_REG_RBP, X86_REG_EBP, X86_REG_BP, X86_REG_BPL, X86_REG_INVALID}},
    {UT_REG_SP, "rsp", {X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL, X86_REG_INVALID}},
    {UT_REG_R8, "r8", {X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B, X86_REG_INVALID}},
    {UT_REG_R9, "r9", {X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B, X86_REG_INVALID}},
    {UT_REG_R10, "r10", {X86_REG_R10, X86_REG_R10D, X86_REG_R10W, X86_REG_R10B, X86_REG_INVALID}},
    {UT_REG_R11, "r11", {X86_REG_R11, X86_REG_R11D, X86_REG_R11W, X86_REG_R11B, X86_REG_INVALID}},
    {UT_REG_R12, "r12", {X86_REG_R12, X86_REG_R12D, X86_REG_R12W, X86_REG_R12B, X86_REG_INVALID}},
    {UT_REG_R13, "r13", {X86_REG_R13, X86_REG_R13D, X86_REG_R13W, X86_REG_R13B, X86_REG_INVALID}},
    {UT_REG_R14, "r14", {X86_REG_R14, X86_REG_R14D, X86_REG_R14W, X86_REG_R14B, X86_REG_INVALID}},
    {UT_REG_R15, "r15", {X86_REG_R15, X86_REG_R15D, X86_REG_R15W, X86_REG_R15B, X86_REG_INVALID}},
    {UT_REG_IP, "rip", {X86_REG_RIP, X86_REG_EIP, X86_REG_IP, X86_REG_INVALID, X86_REG_INVALID}},
}};

constexpr std::array<unsigned, 5> kWidthBits{64, 32, 16, 8, 8};

}  // namespace

std::optional<RegisterSlot> pt_regs_slot(x86_reg reg) {
  if (reg == X86_REG_INVALID) return std::nullopt;
  for (const auto& aliases : kAliases)
    for (size_t width = 0; width < aliases.by_width.size(); ++width)
      if (aliases.by_width[width] == reg) return RegisterSlot{aliases.reg, kWidthBits[width]};
  return std::nullopt;
}

const char* ut_reg_name(ut_reg reg) {
  for (const auto& aliases : kAliases)
    if (aliases.reg == reg) return aliases.name;
  return "?";
}

}  // namespace ut::analysis
