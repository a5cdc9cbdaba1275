#include "analysis/routine_window.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>

#include <fmt/format.h>

#include "analysis/disassembler.h"
#include "analysis/register_names.h"

namespace ut::analysis {

const char* to_string(ReadClass cls) {
  switch (cls) {
    case ReadClass::ReturnAddress: return "return-address";
    case ReadClass::Register: return "register";
  }
  return "?";
}

const char* to_key(ReadClass cls) {
  return cls == ReadClass::ReturnAddress ? "return_address" : "register";
}

uint8_t to_wire(ReadClass cls) {
  switch (cls) {
    case ReadClass::ReturnAddress: return UT_CLASS_RETURN_ADDRESS;
    case ReadClass::Register: return UT_CLASS_REGISTER;
  }
  return UT_CLASS_NONE;
}

const char* to_string(StackSource source) {
  switch (source) {
    case StackSource::Context: return "loaded from a context";
    case StackSource::OldStack: return "old stack plus a variable amount";
    case StackSource::Register: return "a register the routine did not load";
  }
  return "?";
}

namespace {

// ---- decoding past what Capstone 4 does not know ---------------------------------------------

// General-purpose registers by their 4-bit encoding (ModRM with REX extension).
constexpr std::array<x86_reg, 16> kGprByEncoding{
    X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RBX, X86_REG_RSP, X86_REG_RBP,
    X86_REG_RSI, X86_REG_RDI, X86_REG_R8,  X86_REG_R9,  X86_REG_R10, X86_REG_R11,
    X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15};

// An instruction Capstone cannot decode, seen from outside: its length and the register its
// ModRM r/m field names, if any (what CET's rdssp writes; the reg field of these instructions
// is an opcode extension).
struct Opaque {
  uint8_t length = 1;
  x86_reg written = X86_REG_INVALID;
};

bool is_legacy_prefix(uint8_t byte) {
  switch (byte) {
    case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
    case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3: return true;
    default: return false;
  }
}

// Opcodes of the 0F map that take an 8-bit immediate (pshufd/psrlw imm/cmpps/pinsrw/pextrw/
// shufps, shld/shrd imm, bt imm).
bool takes_imm8_in_0f_map(uint8_t opcode) {
  return (opcode >= 0x70 && opcode <= 0x73) || opcode == 0xa4 || opcode == 0xac ||
         opcode == 0xba || opcode == 0xc2 || (opcode >= 0xc4 && opcode <= 0xc6);
}

// Instructions newer than Capstone 4 that compilers emit (CET's rdssp/incssp, which glibc and
// libgcc use when unwinding; newer AVX-512 forms in hand-written codecs) all have the regular
// layout of the escape maps: prefixes, then REX and 0F [38|3A] or a VEX/EVEX prefix naming
// the map, the opcode, ModRM, SIB, displacement, and an imm8 in map 0F 3A and for a few 0F
// opcodes. Anything else is stepped over a byte at a time, as Capstone's skip-data mode would.
Opaque parse_opaque(std::span<const uint8_t> bytes) {
  constexpr size_t kMaxLength = 15;
  auto byte = [&](size_t at) { return at < bytes.size() ? bytes[at] : uint8_t{0}; };
  size_t at = 0;
  while (at < bytes.size() && is_legacy_prefix(bytes[at])) ++at;
  unsigned map = 0;
  bool vector = true;  // VEX/EVEX: writes vector or mask registers
  uint8_t rex = 0;
  switch (byte(at)) {
    case 0xc5: map = 1; at += 2; break;                      // 2-byte VEX: map 0F implied
    case 0xc4: map = byte(at + 1) & 0x1f; at += 3; break;    // 3-byte VEX
    case 0x62: map = byte(at + 1) & 0x07; at += 4; break;    // EVEX
    default:
      vector = false;
      if ((byte(at) & 0xf0) == 0x40) rex = bytes[at++];
      if (byte(at) != 0x0f) return {};
      ++at;
      map = 1;
      if (byte(at) == 0x38 || byte(at) == 0x3a) map = byte(at++) == 0x38 ? 2 : 3;
  }
  uint8_t opcode = byte(at++);
  if (map == 0 || at >= bytes.size()) return {};
  size_t immediate = map == 3 || (map == 1 && takes_imm8_in_0f_map(opcode)) ? 1 : 0;
  uint8_t modrm = bytes[at++];
  unsigned mod = modrm >> 6;
  unsigned rm = (modrm & 7) | ((rex & 1) << 3);
  size_t displacement = mod == 1 ? 1 : mod == 2 ? 4 : 0;
  if (mod != 3 && (modrm & 7) == 4) {  // SIB byte; base 101 with mod 00 means disp32
    if (mod == 0 && (byte(at) & 7) == 5) displacement = 4;
    ++at;
  }
  if (mod == 0 && (modrm & 7) == 5) displacement = 4;  // rip-relative
  at += displacement + immediate;
  if (at > bytes.size() || at > kMaxLength) return {};
  bool writes_gpr = mod == 3 && !vector;
  return Opaque{static_cast<uint8_t>(at), writes_gpr ? kGprByEncoding[rm] : X86_REG_INVALID};
}

struct Decoded {
  uint64_t address = 0;
  uint8_t size = 0;
  const cs_insn* insn = nullptr;  // null: Capstone could not decode it
  Opaque opaque;
  std::string text() const {
    if (insn) return instruction_text(*insn);
    return fmt::format("(undecoded {} bytes)", size);
  }
};

// All instructions of a buffer in address order; Capstone's arrays stay alive with it.
class CodeStream {
 public:
  CodeStream(std::span<const uint8_t> code, uint64_t vaddr) {
    Disassembler disassembler;
    size_t at = 0;
    while (at < code.size()) {
      auto chunk = disassembler.disassemble(code.subspan(at), vaddr + at);
      for (const cs_insn& insn : chunk.instructions()) {
        items_.push_back({insn.address, static_cast<uint8_t>(insn.size), &insn, {}});
        at = insn.address + insn.size - vaddr;
      }
      chunks_.push_back(std::move(chunk));
      if (at >= code.size()) break;
      Opaque opaque = parse_opaque(code.subspan(at));
      opaque.length = static_cast<uint8_t>(std::min<size_t>(opaque.length, code.size() - at));
      items_.push_back({vaddr + at, opaque.length, nullptr, opaque});
      at += opaque.length;
    }
  }
  const std::vector<Decoded>& items() const { return items_; }

 private:
  std::vector<Disassembly> chunks_;
  std::vector<Decoded> items_;
};

// ---- instruction properties --------------------------------------------------------------------

bool is_read(const cs_x86_op& op) { return (op.access & CS_AC_READ) != 0; }
bool is_write(const cs_x86_op& op) { return (op.access & CS_AC_WRITE) != 0; }

// lea and hinting nops name a memory operand without touching memory (Capstone 4 still marks
// it as read).
bool touches_memory(const cs_insn& insn) {
  return insn.id != X86_INS_LEA && insn.id != X86_INS_NOP;
}

bool in_group(const cs_insn& insn, cs_group_type group) {
  const cs_detail& detail = *insn.detail;
  return std::find(detail.groups, detail.groups + detail.groups_count, group) !=
         detail.groups + detail.groups_count;
}

bool leaves_routine(const cs_insn& insn) {
  return insn.id == X86_INS_LJMP || insn.id == X86_INS_UD2 || insn.id == X86_INS_HLT ||
         in_group(insn, CS_GRP_RET) || in_group(insn, CS_GRP_IRET);
}

// Control never reaches the next instruction from this one.
bool ends_path(const cs_insn& insn) { return insn.id == X86_INS_JMP || leaves_routine(insn); }

// nop and int3 fill, and the zero bytes a linker leaves between code sections (`00 00`
// decodes as `add byte ptr [rax], al`).
bool is_padding(const Decoded& d) {
  if (!d.insn) return false;
  bool zeros = std::all_of(d.insn->bytes, d.insn->bytes + d.insn->size,
                           [](uint8_t byte) { return byte == 0; });
  return d.insn->id == X86_INS_NOP || d.insn->id == X86_INS_INT3 || zeros;
}

// Target of a direct jump or conditional branch.
std::optional<uint64_t> branch_target(const cs_insn& insn) {
  const cs_x86& x86 = insn.detail->x86;
  if (!in_group(insn, CS_GRP_JUMP) || x86.op_count != 1 || x86.operands[0].type != X86_OP_IMM)
    return std::nullopt;
  return static_cast<uint64_t>(x86.operands[0].imm);
}

bool is_rsp(x86_reg reg) {
  auto slot = pt_regs_slot(reg);
  return slot && slot->reg == UT_REG_SP;
}

// An explicit write of all of %rsp that is not a constant adjustment (sub/add/and with an
// immediate, lea from %rsp): what a stack switch looks like. Writes of %esp or %spl are no
// code a compiler or an assembler programmer writes for x86-64: misdecoded data.
bool switches_rsp(const cs_insn& insn) {
  const cs_x86& x86 = insn.detail->x86;
  bool explicit_write = false;
  for (size_t i = 0; i < x86.op_count; ++i)
    if (x86.operands[i].type == X86_OP_REG && x86.operands[i].reg == X86_REG_RSP &&
        is_write(x86.operands[i]))
      explicit_write = true;
  if (!explicit_write || x86.op_count != 2) return explicit_write;
  const cs_x86_op& source = x86.operands[1];
  bool constant_adjustment =
      (insn.id == X86_INS_ADD || insn.id == X86_INS_SUB || insn.id == X86_INS_AND) &&
      source.type == X86_OP_IMM;
  bool rsp_relative_lea = insn.id == X86_INS_LEA && source.mem.base == X86_REG_RSP &&
                          source.mem.index == X86_REG_INVALID;
  return !constant_adjustment && !rsp_relative_lea;
}

// ---- the value analysis ------------------------------------------------------------------------

constexpr int kNoRoot = -1;

// What the analysis knows of a 64-bit value: `root + offset` when it is a known base value
// (a register's value at entry, or the result of one load) plus a constant, and which stale
// reads it was computed from. Roots below UT_REG_COUNT are the registers' entry values. An
// inexact value is its root plus an unknown amount (an index, a register added): still a
// pointer into the same object, at an unknown place.
struct Value {
  int root = kNoRoot;
  int64_t offset = 0;
  bool exact = true;
  std::set<size_t> stale_sources;

  Value& depend_on(const Value& other) {
    stale_sources.insert(other.stale_sources.begin(), other.stale_sources.end());
    return *this;
  }
  Value unrooted() const { return Value{kNoRoot, 0, true, stale_sources}; }
  bool same(const Value& other) const {
    return root == other.root && offset == other.offset && exact == other.exact;
  }
  bool operator==(const Value&) const = default;
};

// Where a 64-bit load read from; `decoded` once the loaded value went through a bijective
// transform (ror/rol/xor with a key: pointer mangling).
struct Address {
  int root;
  int64_t offset;
  bool decoded = false;
};

using Registers = std::array<Value, UT_REG_COUNT>;
using Memory = std::map<std::pair<int, int64_t>, Value>;  // stores to known addresses

// What holds on one path through the code at one instruction.
struct State {
  Registers regs;
  Memory memory;
  bool operator==(const State&) const = default;
};

// Two paths meet: what both agree on stays known.
Value join(const Value& a, const Value& b) {
  Value joined = a;
  joined.depend_on(b);
  if (a.same(b)) return joined;
  if (a.root != b.root) return joined.unrooted();
  joined.exact = false;
  return joined;
}

State join(const State& a, const State& b) {
  State joined;
  for (int reg = 0; reg < UT_REG_COUNT; ++reg) joined.regs[reg] = join(a.regs[reg], b.regs[reg]);
  // Compilers keep %rsp consistent where paths meet (the unwind tables require it): a
  // mismatch is this model's imprecision, not a switch.
  if (a.regs[UT_REG_SP].root == b.regs[UT_REG_SP].root) joined.regs[UT_REG_SP] = a.regs[UT_REG_SP];
  for (const auto& [key, value] : a.memory)
    if (auto other = b.memory.find(key); other != b.memory.end())
      joined.memory.emplace(key, join(value, other->second));
  return joined;
}

// Forward passes over the routine in address order, tracking where each register's value came
// from (value numbering) and, after the stack switch, which values were read through pointers
// into the abandoned stack and whether any of them becomes the address the routine resumes
// at. Where branches land, the state is the join of every branch's state and of the fall-
// through: states at backward branch targets come from the previous pass, so passes repeat
// until those states stop changing (a small fixpoint; rotated loops need it). Values a
// load creates are numbered by instruction, so a loop's load is the same value on every pass.
class SwitchAnalysis {
 public:
  SwitchAnalysis(RoutineWindow& out, const std::vector<Decoded>& items)
      : out_(out), items_(items) {}

  void run() {
    constexpr int kMaxPasses = 4;
    for (int pass = 0; pass < kMaxPasses; ++pass) {
      start_pass();
      for (index_ = 0; index_ < items_.size(); ++index_)
        if (!step(items_[index_])) break;
      if (!branch_states_changed_) break;
    }
    finish();
  }

 private:
  void start_pass() {
    for (int reg = 0; reg < UT_REG_COUNT; ++reg) state_.regs[reg] = Value{reg, 0, true, {}};
    state_.memory.clear();
    reached_ = true;
    falls_through_ = true;
    after_call_ = false;
    branch_states_changed_ = false;
    switched_ = false;
    stale_root_ = kNoRoot;
    stale_offset_ = 0;
    load_origin_.clear();
    reaches_return_.clear();
    out_.switch_offset.reset();
    out_.stack_source = StackSource::Register;
    out_.ctx_known = out_.ctx_reg_from_entry = out_.sp_decoded = false;
    out_.ctx_reg = UT_REG_DI;
    out_.sp_disp = 0;
    out_.ip_disp.reset();
    out_.stale_reads.clear();
  }

  // Returns false once control leaves the routine after the switch: nothing later runs.
  bool step(const Decoded& d) {
    offset_ = d.address - out_.vaddr;
    roots_made_ = 0;
    enter(d.address);
    bool leaves = reached_ && execute(d);
    if (d.insn && reached_) remember_branch(*d.insn);
    // Padding after a transfer is not reached either: the next block gets the branch states.
    // Compilers pad after a call only when it does not return (abort, __fortify_fail).
    if (is_padding(d))
      falls_through_ = falls_through_ && !after_call_;
    else
      falls_through_ = !d.insn || !ends_path(*d.insn);
    after_call_ = d.insn && d.insn->id == X86_INS_CALL;
    return !(switched_ && leaves);
  }

  // Runs one instruction on the state; returns whether control leaves the routine there.
  bool execute(const Decoded& d) {
    Value sp_before = state_.regs[UT_REG_SP];
    auto regs_before = state_.regs;
    if (!d.insn) {
      if (!is_rsp(d.opaque.written)) set_reg(d.opaque.written, Value{});
      return false;
    }
    bool leaves = execute(*d.insn);
    if (!switched_ && switches(sp_before, state_.regs[UT_REG_SP]))
      record_switch(*d.insn, regs_before);
    return leaves;
  }

  // Classes are final only when the whole flow has been seen.
  void finish() {
    for (size_t i = 0; i < out_.stale_reads.size(); ++i)
      if (reaches_return_.contains(i)) out_.stale_reads[i].cls = ReadClass::ReturnAddress;
    auto first_return = std::find_if(out_.stale_reads.begin(), out_.stale_reads.end(),
                                     [](const StaleRead& r) {
                                       return r.cls == ReadClass::ReturnAddress;
                                     });
    if (first_return != out_.stale_reads.end()) out_.ip_disp = first_return->disp;
  }

  // The state at an instruction: the fall-through's joined with the branches' to it. Code
  // with neither is not reached yet (a loop body placed after the function's return, until
  // the next pass brings the loop's backward branch); code only an indirect jump reaches
  // never is, and is not analysed.
  void enter(uint64_t address) {
    bool flows_in = reached_ && falls_through_;
    auto incoming = branch_states_.find(address);
    if (incoming == branch_states_.end()) {
      reached_ = flows_in;
      return;
    }
    state_ = flows_in ? join(state_, incoming->second) : incoming->second;
    reached_ = true;
  }

  void remember_branch(const cs_insn& insn) {
    auto target = branch_target(insn);
    if (!target || *target < out_.vaddr || *target >= out_.vaddr + out_.size) return;
    auto [it, inserted] = branch_states_.try_emplace(*target, state_);
    if (inserted) {
      branch_states_changed_ = true;
      return;
    }
    State joined = join(it->second, state_);
    if (joined == it->second) return;
    it->second = std::move(joined);
    branch_states_changed_ = true;
  }

  // %rsp leaves the stack it had at entry: not the entry %rsp plus a known constant. A
  // variable allocation (`sub rsp, reg`) is modelled as keeping %rsp exact: it moves down
  // within the same stack and abandons nothing.
  static bool switches(const Value& before, const Value& after) {
    return before.root == UT_REG_SP && before.exact && (after.root != UT_REG_SP || !after.exact);
  }

  bool execute(const cs_insn& insn) {
    const cs_x86& x86 = insn.detail->x86;
    std::vector<Value> in(x86.op_count);
    for (size_t i = 0; i < x86.op_count; ++i) in[i] = operand_value(insn, x86.operands[i]);
    const cs_x86_op* ops = x86.operands;

    // Each modelled form has a fixed operand count; anything else goes the generic way.
    auto operands = [&](size_t count) { return x86.op_count == count; };
    auto whole_register = [&] { return ops[0].type == X86_OP_REG && ops[0].size == 8; };
    switch (insn.id) {
      case X86_INS_NOP:
      case X86_INS_ENDBR64: return false;
      case X86_INS_MOV:
      case X86_INS_MOVABS:
        if (!operands(2)) break;
        assign(ops[0], in[1]);
        return false;
      case X86_INS_LEA:
        if (!operands(2)) break;
        assign(ops[0], address_of(ops[1].mem));
        return false;
      case X86_INS_XCHG: {
        if (!operands(2)) break;
        Value first = in[0];
        assign(ops[0], in[1]);
        assign(ops[1], first);
        return false;
      }
      case X86_INS_ADD:
      case X86_INS_SUB:
      case X86_INS_AND:
      case X86_INS_XOR:
        if (!operands(2) || !whole_register()) break;
        arithmetic(insn.id, ops, in);
        return false;
      case X86_INS_ROR:
      case X86_INS_ROL:
        if (!operands(2) || !whole_register()) break;
        set_reg(ops[0].reg, decoded(in[0], in[1]));
        return false;
      case X86_INS_BSWAP:
      case X86_INS_NOT:
        if (!operands(1) || !whole_register()) break;
        set_reg(ops[0].reg, decoded(in[0], Value{}));
        return false;
      case X86_INS_PUSH:
        if (!operands(1)) break;
        push(in[0]);
        return false;
      case X86_INS_PUSHFQ: push(Value{}); return false;
      case X86_INS_POP:
        if (!operands(1)) break;
        assign(ops[0], pop());
        return false;
      case X86_INS_POPFQ: pop(); return false;
      case X86_INS_LEAVE:
        set_reg(X86_REG_RSP, reg_value(X86_REG_RBP));
        set_reg(X86_REG_RBP, pop());
        return false;
      case X86_INS_CALL:
        if (!operands(1)) break;
        if (ops[0].type != X86_OP_IMM) mark_return_target(in[0]);
        clobber_caller_saved();
        return false;
      case X86_INS_RET: mark_return_target(stack_top()); return true;
      case X86_INS_JMP:
        if (operands(1) && ops[0].type != X86_OP_IMM) mark_return_target(in[0]);
        return true;
      default: break;
    }
    generic(insn, in);
    return leaves_routine(insn);
  }

  // add/sub/and keep a pointer a pointer into the same object (sp adjustment, alignment); a
  // register added or subtracted makes the place unknown. xor/sub of a register with itself
  // is zero; xor with a key decodes a mangled pointer.
  void arithmetic(unsigned id, const cs_x86_op* ops, const std::vector<Value>& in) {
    bool same_register = ops[1].type == X86_OP_REG && ops[1].reg == ops[0].reg;
    if ((id == X86_INS_XOR || id == X86_INS_SUB) && same_register) {
      set_reg(ops[0].reg, Value{});
      return;
    }
    if (id == X86_INS_XOR) {
      bool first_loaded = load_origin_.contains(in[0].root);
      set_reg(ops[0].reg, first_loaded ? decoded(in[0], in[1]) : decoded(in[1], in[0]));
      return;
    }
    Value result = in[0];
    result.depend_on(in[1]);
    bool immediate = ops[1].type == X86_OP_IMM;
    if (id == X86_INS_ADD) {
      if (immediate) result.offset += ops[1].imm;
      else result.exact = false;
    }
    if (id == X86_INS_SUB) {
      if (immediate) result.offset -= ops[1].imm;
      else if (!is_rsp(ops[0].reg)) result.exact = false;  // `sub rsp, reg`: see switches()
    }
    set_reg(ops[0].reg, result);
  }

  // A bijective transform of one loaded value with a key (or nothing): a new value that still
  // came from that load, encoded. Anything else is just unknown.
  Value decoded(const Value& value, const Value& key) {
    Value result{kNoRoot, 0, true, {}};
    result.depend_on(value).depend_on(key);
    auto origin = load_origin_.find(value.root);
    if (origin == load_origin_.end() || load_origin_.contains(key.root)) return result;
    result.root = fresh_root();
    load_origin_[result.root] = {origin->second.root, origin->second.offset, true};
    return result;
  }

  // Anything not modelled above: every written register or memory operand depends on
  // everything read, and is no longer a known pointer. The stack pointer keeps its value: the
  // instructions that move it implicitly (pushes, string ops aside) are modelled above.
  void generic(const cs_insn& insn, const std::vector<Value>& in) {
    const cs_x86& x86 = insn.detail->x86;
    Value result;
    for (const Value& v : in) result.depend_on(v);
    for (size_t i = 0; i < insn.detail->regs_read_count; ++i)
      result.depend_on(reg_value(static_cast<x86_reg>(insn.detail->regs_read[i])));
    for (size_t i = 0; i < x86.op_count; ++i)
      if (is_write(x86.operands[i])) assign(x86.operands[i], result);
    for (size_t i = 0; i < insn.detail->regs_write_count; ++i) {
      auto reg = static_cast<x86_reg>(insn.detail->regs_write[i]);
      if (!is_rsp(reg)) set_reg(reg, result);
    }
  }

  void clobber_caller_saved() {
    for (ut_reg reg : {UT_REG_AX, UT_REG_CX, UT_REG_DX, UT_REG_SI, UT_REG_DI, UT_REG_R8,
                       UT_REG_R9, UT_REG_R10, UT_REG_R11})
      state_.regs[reg] = Value{};
  }

  Value operand_value(const cs_insn& insn, const cs_x86_op& op) {
    if (op.type == X86_OP_REG && is_read(op)) return reg_value(op.reg);
    if (op.type == X86_OP_MEM && is_read(op) && touches_memory(insn)) return load(op);
    return Value{};
  }

  Value reg_value(x86_reg reg) const {
    auto slot = pt_regs_slot(reg);
    if (!slot || slot->reg == UT_REG_IP) return Value{};
    const Value& value = state_.regs[slot->reg];
    return slot->bits == 64 ? value : value.unrooted();
  }

  // 32-bit writes zero-extend into a new value; 8- and 16-bit writes merge into the old one.
  void set_reg(x86_reg reg, Value value) {
    auto slot = pt_regs_slot(reg);
    if (!slot || slot->reg == UT_REG_IP) return;
    Value& target = state_.regs[slot->reg];
    if (slot->bits == 64)
      target = std::move(value);
    else if (slot->bits == 32)
      target = value.unrooted();
    else
      target = target.unrooted().depend_on(value);
  }

  Value address_of(const x86_op_mem& mem) const {
    Value address = mem.base == X86_REG_INVALID ? Value{} : reg_value(mem.base);
    if (mem.index != X86_REG_INVALID) address.depend_on(reg_value(mem.index)).exact = false;
    if (mem.segment != X86_REG_INVALID || mem.base == X86_REG_INVALID) address.root = kNoRoot;
    address.offset += mem.disp;
    return address;
  }

  static bool known(const Value& address) { return address.root != kNoRoot && address.exact; }

  Value load(const cs_x86_op& op) {
    Value address = address_of(op.mem);
    if (is_stale(op.mem, address)) {
      out_.stale_reads.push_back({offset_, static_cast<int32_t>(address.offset - stale_offset_),
                                  ReadClass::Register, out_.listing[index_].text});
      Value value{fresh_root(), 0, true, address.stale_sources};
      value.stale_sources.insert(out_.stale_reads.size() - 1);
      return value;
    }
    if (known(address))
      if (auto stored = state_.memory.find({address.root, address.offset});
          stored != state_.memory.end())
        return stored->second;
    Value value{fresh_root(), 0, true, address.stale_sources};
    if (known(address) && op.size == 8) load_origin_[value.root] = {address.root, address.offset};
    return value;
  }

  bool is_stale(const x86_op_mem& mem, const Value& address) const {
    return switched_ && stale_root_ != kNoRoot && address.root == stale_root_ &&
           mem.base != X86_REG_RSP && mem.base != X86_REG_RIP;
  }

  void store(const Value& address, Value value) {
    if (known(address)) state_.memory[{address.root, address.offset}] = std::move(value);
  }

  void assign(const cs_x86_op& op, Value value) {
    if (op.type == X86_OP_REG) set_reg(op.reg, std::move(value));
    if (op.type == X86_OP_MEM) store(address_of(op.mem), std::move(value));
  }

  Value stack_top() const {
    const Value& sp = state_.regs[UT_REG_SP];
    if (!known(sp)) return Value{};
    auto stored = state_.memory.find({sp.root, sp.offset});
    return stored == state_.memory.end() ? Value{} : stored->second;
  }

  void push(Value value) {
    state_.regs[UT_REG_SP].offset -= 8;
    store(state_.regs[UT_REG_SP], std::move(value));
  }

  Value pop() {
    Value top = stack_top();
    state_.regs[UT_REG_SP].offset += 8;
    return top;
  }

  void mark_return_target(const Value& target) {
    reaches_return_.insert(target.stale_sources.begin(), target.stale_sources.end());
  }

  // The k-th value the instruction at items_[index_] creates: the same on every pass.
  int fresh_root() {
    constexpr int kRootsPerInstruction = 8;
    return UT_REG_COUNT + static_cast<int>(index_) * kRootsPerInstruction +
           std::min(roots_made_++, kRootsPerInstruction - 1);
  }

  // What the new %rsp abandons decides which later reads are stale: the context it was loaded
  // through, or, when it is the old stack plus a variable amount, the old stack itself.
  void record_switch(const cs_insn& insn, const Registers& before) {
    switched_ = true;
    out_.switch_offset = offset_;
    Value& sp = state_.regs[UT_REG_SP];
    if (sp.root == UT_REG_SP) {
      out_.stack_source = StackSource::OldStack;
      stale_root_ = UT_REG_SP;
      stale_offset_ = 0;
      // From here on %rsp is a different place on that stack: reads through it are safe.
      sp = Value{fresh_root(), 0, true, sp.stale_sources};
      return;
    }
    auto origin = load_origin_.find(sp.root);
    if (origin == load_origin_.end()) return;  // the new SP was not loaded: no context
    out_.stack_source = StackSource::Context;
    out_.sp_decoded = origin->second.decoded;
    stale_root_ = origin->second.root;
    auto ctx_reg = context_register(insn, before);
    if (!ctx_reg) {
      stale_root_ = kNoRoot;  // nothing still names the context: nothing can read it
      return;
    }
    const Value& ctx = before[*ctx_reg];
    stale_offset_ = ctx.offset;
    out_.ctx_known = true;
    out_.ctx_reg = *ctx_reg;
    out_.ctx_reg_from_entry = ctx.root == *ctx_reg && ctx.offset == 0;
    out_.sp_disp = static_cast<int32_t>(origin->second.offset - stale_offset_);
  }

  // The register naming the context at the switch: the base of the switch's own memory
  // operand, else one holding the context since entry, else the lowest-numbered copy.
  std::optional<ut_reg> context_register(const cs_insn& insn, const Registers& before) const {
    const cs_x86& x86 = insn.detail->x86;
    for (size_t i = 0; i < x86.op_count; ++i)
      if (x86.operands[i].type == X86_OP_MEM)
        if (auto base = pt_regs_slot(x86.operands[i].mem.base);
            base && base->bits == 64 && before[base->reg].root == stale_root_)
          return base->reg;
    if (stale_root_ < UT_REG_COUNT && before[stale_root_].root == stale_root_)
      return static_cast<ut_reg>(stale_root_);
    for (int reg = 0; reg < UT_REG_COUNT; ++reg)
      if (reg != UT_REG_SP && before[reg].root == stale_root_) return static_cast<ut_reg>(reg);
    return std::nullopt;
  }

  RoutineWindow& out_;
  const std::vector<Decoded>& items_;
  size_t index_ = 0;   // of the instruction being stepped, in items_ and out_.listing
  int roots_made_ = 0;  // by that instruction
  State state_;
  std::map<uint64_t, State> branch_states_;  // joined states at branch targets, all passes
  bool branch_states_changed_ = false;       // in this pass
  bool reached_ = true;                // some known path reaches this instruction
  bool falls_through_ = true;          // the previous instruction continues to this one
  bool after_call_ = false;            // the previous instruction is a call
  std::map<int, Address> load_origin_;  // root of a 64-bit load -> its address
  bool switched_ = false;
  int stale_root_ = kNoRoot;   // reads through this root after the switch are stale
  int64_t stale_offset_ = 0;   // the context register's offset from that root at the switch
  std::set<size_t> reaches_return_;
  uint64_t offset_ = 0;
};

// A signal delivered with IP = X interrupts before X runs: X is in the window while any stale
// read at or after X is still to come.
std::vector<WindowInsn> window_after_switch(const RoutineWindow& routine) {
  std::vector<WindowInsn> window;
  if (!routine.switch_offset || routine.stale_reads.empty()) return window;
  uint64_t last_read = routine.stale_reads.back().offset;
  for (const Instruction& insn : routine.listing) {
    if (insn.offset <= *routine.switch_offset || insn.offset > last_read) continue;
    auto pending_of = [&](ReadClass cls) {
      return std::find_if(
          routine.stale_reads.begin(), routine.stale_reads.end(),
          [&](const StaleRead& read) { return read.offset >= insn.offset && read.cls == cls; });
    };
    auto worst = pending_of(ReadClass::ReturnAddress);
    if (worst == routine.stale_reads.end()) worst = pending_of(ReadClass::Register);
    window.push_back({insn.offset, insn.length, worst->cls, worst->disp, insn.text});
  }
  return window;
}

}  // namespace

RoutineWindow analyse_routine(std::span<const uint8_t> code, uint64_t vaddr, std::string name) {
  RoutineWindow out;
  out.routine = std::move(name);
  out.vaddr = vaddr;
  out.size = code.size();
  CodeStream stream(code, vaddr);
  for (const Decoded& d : stream.items()) {
    out.listing.push_back({d.address - vaddr, d.size, d.text()});
    if (!d.insn) out.undecoded.push_back(d.address - vaddr);
  }
  SwitchAnalysis(out, stream.items()).run();
  out.window = window_after_switch(out);
  return out;
}

std::vector<CodePiece> split_into_pieces(std::span<const uint8_t> code, uint64_t vaddr) {
  std::vector<CodePiece> pieces;
  std::optional<CodePiece> current;
  uint64_t reach = 0;            // furthest forward branch target in the buffer, this piece
  bool after_transfer = false;   // the previous instruction does not fall through
  CodeStream stream(code, vaddr);
  for (const Decoded& d : stream.items()) {
    bool padding = is_padding(d);
    if (current && padding && after_transfer && reach <= d.address) {
      pieces.push_back(*current);
      current.reset();
    }
    if (!current) {
      if (padding) continue;
      current = CodePiece{d.address, 0, false};
      reach = 0;
    }
    current->size = d.address + d.size - current->vaddr;
    after_transfer = d.insn && ends_path(*d.insn);
    if (!d.insn) continue;
    if (switches_rsp(*d.insn)) current->writes_rsp = true;
    if (auto target = branch_target(*d.insn);
        target && *target > d.address && *target < vaddr + code.size())
      reach = std::max(reach, *target);
  }
  if (current) pieces.push_back(*current);
  return pieces;
}

bool may_switch_rsp(std::span<const uint8_t> code) {
  // REX.W opcodes whose ModRM reg field is the destination (mov, lea, add/or/adc/sbb/and/sub/
  // xor r, r/m, xchg) and those whose r/m field is (the r/m, r forms and xchg again).
  auto reg_is_destination = [](uint8_t op) {
    return op == 0x03 || op == 0x0b || op == 0x13 || op == 0x1b || op == 0x23 || op == 0x2b ||
           op == 0x33 || op == 0x8b || op == 0x8d || op == 0x87;
  };
  auto rm_is_destination = [](uint8_t op) {
    return op == 0x01 || op == 0x09 || op == 0x11 || op == 0x19 || op == 0x21 || op == 0x29 ||
           op == 0x31 || op == 0x89 || op == 0x87;
  };
  constexpr uint8_t kRexR = 4, kRexB = 1, kRsp = 4;
  for (size_t at = 0; at + 2 < code.size(); ++at) {
    uint8_t rex = code[at];
    if ((rex & 0xf8) != 0x48) continue;  // REX.W
    uint8_t op = code[at + 1];
    if (op == 0x94 && !(rex & kRexB)) return true;  // xchg rsp, rax
    size_t modrm_at = at + 2;
    bool two_byte = op == 0x0f;  // cmovcc and imul r, r/m
    if (two_byte) {
      uint8_t op2 = code[at + 2];
      if ((op2 & 0xf0) != 0x40 && op2 != 0xaf) continue;
      if (++modrm_at >= code.size()) continue;
    }
    uint8_t modrm = code[modrm_at];
    bool reg_rsp = ((modrm >> 3) & 7) == kRsp && !(rex & kRexR);
    bool rm_rsp = (modrm >> 6) == 3 && (modrm & 7) == kRsp && !(rex & kRexB);
    if (((two_byte || reg_is_destination(op)) && reg_rsp) || (rm_is_destination(op) && rm_rsp))
      return true;
  }
  return false;
}

}  // namespace ut::analysis
