// Capstone for x86-64 with instruction details, owned RAII-style: the one place that opens it.
#pragma once

#include <capstone/capstone.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace ut::analysis {

// Instructions decoded from one buffer; decoding stops at the first byte Capstone cannot decode.
class Disassembly {
 public:
  std::span<const cs_insn> instructions() const { return {insns_.get(), count_}; }

 private:
  friend class Disassembler;
  struct Free {
    size_t count;
    void operator()(cs_insn* insns) const { cs_free(insns, count); }
  };
  Disassembly(cs_insn* insns, size_t count) : insns_(insns, Free{count}), count_(count) {}
  std::unique_ptr<cs_insn, Free> insns_;
  size_t count_;
};

class Disassembler {
 public:
  // Throws AnalysisError if Capstone cannot be opened (e.g. built without x86 support).
  Disassembler();
  ~Disassembler();
  Disassembler(const Disassembler&) = delete;
  Disassembler& operator=(const Disassembler&) = delete;

  // `address` is the link-time address of code[0]; it labels instructions and resolves targets.
  Disassembly disassemble(std::span<const uint8_t> code, uint64_t address) const;

 private:
  csh handle_ = 0;
};

// "mnemonic op_str" as objdump-like Intel text, without Capstone 4's trailing blank ("ret ").
std::string instruction_text(const cs_insn& insn);

}  // namespace ut::analysis
