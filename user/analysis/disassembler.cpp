#include "analysis/disassembler.h"

#include <fmt/format.h>

#include "analysis/analysis_error.h"

namespace ut::analysis {

Disassembler::Disassembler() {
  if (cs_err err = cs_open(CS_ARCH_X86, CS_MODE_64, &handle_); err != CS_ERR_OK)
    throw AnalysisError(fmt::format("cannot open the Capstone x86-64 disassembler: {}",
                                    cs_strerror(err)));
  // Operand details (registers, memory bases, access) are what the analyses run on.
  if (cs_err err = cs_option(handle_, CS_OPT_DETAIL, CS_OPT_ON); err != CS_ERR_OK) {
    cs_close(&handle_);
    throw AnalysisError(fmt::format("cannot enable Capstone instruction details: {}",
                                    cs_strerror(err)));
  }
}

Disassembler::~Disassembler() { cs_close(&handle_); }

Disassembly Disassembler::disassemble(std::span<const uint8_t> code, uint64_t address) const {
  cs_insn* insns = nullptr;
  size_t count = cs_disasm(handle_, code.data(), code.size(), address, 0, &insns);
  // Zero instructions is a valid answer (empty or undecodable code) unless Capstone says why not.
  if (count == 0) {
    if (cs_err err = cs_errno(handle_); err != CS_ERR_OK)
      throw AnalysisError(fmt::format("Capstone failed to disassemble {} bytes at {:#x}: {}",
                                      code.size(), address, cs_strerror(err)));
  }
  return Disassembly(insns, count);
}

std::string instruction_text(const cs_insn& insn) {
  if (insn.op_str[0] == '\0') return insn.mnemonic;
  return fmt::format("{} {}", insn.mnemonic, insn.op_str);
}

}  // namespace ut::analysis
