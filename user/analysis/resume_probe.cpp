#include "analysis/resume_probe.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "analysis/disassembler.h"
#include "analysis/register_names.h"

namespace ut::analysis {

namespace {

constexpr uint8_t kCallRel32 = 0xe8;
constexpr uint8_t kJmpRel32 = 0xe9;
constexpr uint64_t kRel32Length = 5;

struct Target {
  uint64_t vaddr;
  std::string name;  // "_Ux86_64_setcontext" or "_Ux86_64_setcontext@plt"
};

// Addresses from which a probe must stay away: from the instruction before the switch to the
// routine's end. A single-stepped probe there moves pending signals into the window.
struct Forbidden {
  uint64_t begin = 0;
  uint64_t end = 0;
  bool contains(uint64_t vaddr) const { return vaddr >= begin && vaddr < end; }
};

Forbidden forbidden_zone(const Symbol& routine, const RoutineWindow& window) {
  if (!window.switch_offset) return {};
  uint64_t from = *window.switch_offset;
  auto at_switch = std::find_if(window.listing.begin(), window.listing.end(),
                                [&](const Instruction& insn) { return insn.offset == from; });
  if (at_switch != window.listing.begin() && at_switch != window.listing.end())
    from = std::prev(at_switch)->offset;
  return {routine.vaddr + from, routine.vaddr + std::max(routine.size, window.size)};
}

// Where to start decoding so that `vaddr` is reached on instruction boundaries: the function
// containing it, or in code no symbol covers (static functions of a stripped object), the
// nearest function before it.
std::optional<std::pair<Symbol, std::string>> decode_start(const ElfObject& elf, uint64_t vaddr) {
  if (auto sym = elf.symbol_containing(vaddr)) return std::pair{*sym, sym->name};
  if (auto before = elf.function_at_or_before(vaddr))
    return std::pair{*before, fmt::format("{}+{:#x}", before->name, vaddr - before->vaddr)};
  return std::nullopt;
}

// A byte pattern that looks like a direct call/jmp to a target is one only if decoding the
// surrounding function from its start lands on it.
std::optional<ProbePoint> confirm_call_site(const ElfObject& elf, const Disassembler& disassembler,
                                            const Segment& segment, uint64_t vaddr,
                                            const Target& target) {
  auto start = decode_start(elf, vaddr);
  if (!start || start->first.vaddr < segment.vaddr) return std::nullopt;
  uint64_t from = start->first.vaddr;
  auto code = elf.read(from, vaddr + kRel32Length - from);
  auto disassembly = disassembler.disassemble(code, from);
  for (const cs_insn& insn : disassembly.instructions()) {
    if (insn.address < vaddr) continue;
    const cs_x86& x86 = insn.detail->x86;
    bool direct = (insn.id == X86_INS_CALL || insn.id == X86_INS_JMP) && x86.op_count == 1 &&
                  x86.operands[0].type == X86_OP_IMM;
    if (insn.address != vaddr || !direct ||
        static_cast<uint64_t>(x86.operands[0].imm) != target.vaddr)
      return std::nullopt;
    auto file_offset = elf.file_offset_of(vaddr);
    if (!file_offset) return std::nullopt;
    return ProbePoint{vaddr, *file_offset, start->second, instruction_text(insn), true,
                      fmt::format("direct {} to {}: the kernel emulates it (no single-step), "
                                  "and %rdi holds the context there",
                                  insn.mnemonic, target.name)};
  }
  return std::nullopt;
}

// rel32 call/jmp candidates are found by scanning the bytes (fast), then confirmed by decoding.
std::vector<ProbePoint> call_sites(const ElfObject& elf, const Symbol& routine,
                                   const Forbidden& forbidden) {
  std::vector<Target> targets{{routine.vaddr, routine.name}};
  if (auto stub = elf.plt_stub_for(routine.name))
    targets.push_back({*stub, routine.name + "@plt"});
  Disassembler disassembler;
  std::vector<ProbePoint> points;
  for (const Segment& segment : elf.segments()) {
    if (!segment.executable || segment.file_size < kRel32Length) continue;
    auto bytes = elf.read(segment.vaddr, segment.file_size);
    for (size_t at = 0; at + kRel32Length <= bytes.size(); ++at) {
      if (bytes[at] != kCallRel32 && bytes[at] != kJmpRel32) continue;
      int32_t rel;
      std::memcpy(&rel, &bytes[at + 1], sizeof rel);  // x86 is little-endian, like the host
      uint64_t vaddr = segment.vaddr + at;
      uint64_t destination = vaddr + kRel32Length + static_cast<int64_t>(rel);
      auto target = std::find_if(targets.begin(), targets.end(),
                                 [&](const Target& t) { return t.vaddr == destination; });
      if (target == targets.end() || forbidden.contains(vaddr)) continue;
      if (auto point = confirm_call_site(elf, disassembler, segment, vaddr, *target))
        points.push_back(std::move(*point));
    }
  }
  return points;
}

std::optional<ProbePoint> routine_entry(const ElfObject& elf, const Symbol& routine,
                                        const RoutineWindow& window, const Forbidden& forbidden,
                                        std::string_view why) {
  auto file_offset = elf.file_offset_of(routine.vaddr);
  if (window.listing.empty() || forbidden.contains(routine.vaddr) || !file_offset)
    return std::nullopt;
  return ProbePoint{routine.vaddr, *file_offset, routine.name, window.listing.front().text, false,
                    fmt::format("{}: probing the routine's entry, which the kernel single-steps "
                                "(~30x dearer than an emulated call site)",
                                why)};
}

std::string why_entry(const Symbol& routine, const RoutineWindow& window) {
  if (window.stack_source == StackSource::OldStack)
    return "the routine moves %rsp within its own stack: no context pointer to read at a call";
  if (!window.ctx_known) return "no register names the context at the switch";
  if (window.ctx_reg != UT_REG_DI || !window.ctx_reg_from_entry)
    return fmt::format("a caller cannot read the context: the routine {} it in %{}",
                       window.ctx_reg_from_entry ? "receives" : "computes",
                       ut_reg_name(window.ctx_reg));
  return fmt::format("no direct call to {} found", routine.name);
}

}  // namespace

std::vector<ProbePoint> choose_resume_probes(const ElfObject& elf, const Symbol& routine,
                                             const RoutineWindow& window) {
  Forbidden forbidden = forbidden_zone(routine, window);
  // A call site sees the caller's registers: usable when the routine takes the context as its
  // first SysV argument and keeps it there up to the switch.
  bool context_in_first_argument =
      window.ctx_known && window.ctx_reg_from_entry && window.ctx_reg == UT_REG_DI;
  if (context_in_first_argument) {
    auto points = call_sites(elf, routine, forbidden);
    if (!points.empty()) return points;
  }
  if (auto entry = routine_entry(elf, routine, window, forbidden, why_entry(routine, window)))
    return {*entry};
  return {};
}

}  // namespace ut::analysis
