#include "analysis/routine_window.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>

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

uint8_t to_wire(ReadClass cls) {
  switch (cls) {
    case ReadClass::ReturnAddress: return UT_CLASS_RETURN_ADDRESS;
    case ReadClass::Register: return UT_CLASS_REGISTER;
  }
  return UT_CLASS_NONE;
}

namespace {

constexpr int kNoRoot = -1;

// What the analysis knows of a 64-bit value: `root + offset` when it is a known base value
// (a register's value at entry, or the result of one load) plus a constant, and which stale
// reads it was computed from. Roots below UT_REG_COUNT are the registers' entry values.
struct Value {
  int root = kNoRoot;
  int64_t offset = 0;
  std::set<size_t> stale_sources;

  Value& depend_on(const Value& other) {
    stale_sources.insert(other.stale_sources.begin(), other.stale_sources.end());
    return *this;
  }
  Value unrooted() const { return Value{kNoRoot, 0, stale_sources}; }
};

struct Address {
  int root;
  int64_t offset;
};

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

// A forward pass over the routine in address order, tracking where each register's value came
// from (value numbering) and, after the stack switch, which values were read through the
// context pointer and whether any of them becomes the address the routine resumes at.
class SwitchAnalysis {
 public:
  explicit SwitchAnalysis(RoutineWindow& out) : out_(out) {
    for (int reg = 0; reg < UT_REG_COUNT; ++reg) regs_[reg] = Value{reg, 0, {}};
  }

  // Returns false once control leaves the routine after the switch: nothing later runs.
  bool step(const cs_insn& insn, uint64_t offset) {
    insn_ = &insn;
    offset_ = offset;
    auto before = regs_;
    bool leaves = execute(insn);
    if (!switched_ && before[UT_REG_SP].root == UT_REG_SP && regs_[UT_REG_SP].root != UT_REG_SP)
      record_switch(insn, offset, before);
    return !(switched_ && leaves);
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

 private:
  using Registers = std::array<Value, UT_REG_COUNT>;

  bool execute(const cs_insn& insn) {
    const cs_x86& x86 = insn.detail->x86;
    std::vector<Value> in(x86.op_count);
    for (size_t i = 0; i < x86.op_count; ++i) in[i] = operand_value(insn, x86.operands[i]);
    const cs_x86_op* ops = x86.operands;

    // Each modelled form has a fixed operand count; anything else goes the generic way.
    auto operands = [&](size_t count) { return x86.op_count == count; };
    switch (insn.id) {
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
        if (!operands(2) || ops[0].type != X86_OP_REG || ops[0].size != 8) break;
        arithmetic(insn.id, ops, in);
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

  // add/sub/and keep a pointer a pointer into the same object (sp adjustment, alignment),
  // so the stack pointer they act on is not switched; xor of a register with itself is zero.
  void arithmetic(unsigned id, const cs_x86_op* ops, const std::vector<Value>& in) {
    bool same_register = ops[1].type == X86_OP_REG && ops[1].reg == ops[0].reg;
    if ((id == X86_INS_XOR || id == X86_INS_SUB) && same_register) {
      set_reg(ops[0].reg, Value{});
      return;
    }
    Value result = in[0];
    result.depend_on(in[1]);
    if (id == X86_INS_XOR) result.root = kNoRoot;
    if (ops[1].type == X86_OP_IMM && id == X86_INS_ADD) result.offset += ops[1].imm;
    if (ops[1].type == X86_OP_IMM && id == X86_INS_SUB) result.offset -= ops[1].imm;
    set_reg(ops[0].reg, result);
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
      auto slot = pt_regs_slot(reg);
      if (slot && slot->reg != UT_REG_SP) set_reg(reg, result);
    }
  }

  void clobber_caller_saved() {
    for (ut_reg reg : {UT_REG_AX, UT_REG_CX, UT_REG_DX, UT_REG_SI, UT_REG_DI, UT_REG_R8,
                       UT_REG_R9, UT_REG_R10, UT_REG_R11})
      regs_[reg] = Value{};
  }

  Value operand_value(const cs_insn& insn, const cs_x86_op& op) {
    if (op.type == X86_OP_REG && is_read(op)) return reg_value(op.reg);
    if (op.type == X86_OP_MEM && is_read(op) && touches_memory(insn)) return load(op);
    return Value{};
  }

  Value reg_value(x86_reg reg) const {
    auto slot = pt_regs_slot(reg);
    if (!slot || slot->reg == UT_REG_IP) return Value{};
    const Value& value = regs_[slot->reg];
    return slot->bits == 64 ? value : value.unrooted();
  }

  // 32-bit writes zero-extend into a new value; 8- and 16-bit writes merge into the old one.
  void set_reg(x86_reg reg, Value value) {
    auto slot = pt_regs_slot(reg);
    if (!slot || slot->reg == UT_REG_IP) return;
    Value& target = regs_[slot->reg];
    if (slot->bits == 64)
      target = std::move(value);
    else if (slot->bits == 32)
      target = value.unrooted();
    else
      target = target.unrooted().depend_on(value);
  }

  Value address_of(const x86_op_mem& mem) const {
    Value base = mem.base == X86_REG_INVALID ? Value{} : reg_value(mem.base);
    Value address = base;
    if (mem.index != X86_REG_INVALID) address.depend_on(reg_value(mem.index)).root = kNoRoot;
    if (mem.segment != X86_REG_INVALID || mem.base == X86_REG_INVALID) address.root = kNoRoot;
    address.offset += mem.disp;
    return address;
  }

  Value load(const cs_x86_op& op) {
    Value address = address_of(op.mem);
    if (is_stale(op.mem, address)) {
      out_.stale_reads.push_back({offset_, static_cast<int32_t>(address.offset - ctx_offset_),
                                  ReadClass::Register, instruction_text(*insn_)});
      Value value{fresh_root(), 0, address.stale_sources};
      value.stale_sources.insert(out_.stale_reads.size() - 1);
      return value;
    }
    if (address.root != kNoRoot)
      if (auto stored = memory_.find({address.root, address.offset}); stored != memory_.end())
        return stored->second;
    Value value{fresh_root(), 0, address.stale_sources};
    if (address.root != kNoRoot && op.size == 8)
      load_origin_[value.root] = {address.root, address.offset};
    return value;
  }

  bool is_stale(const x86_op_mem& mem, const Value& address) const {
    return switched_ && ctx_root_ != kNoRoot && address.root == ctx_root_ &&
           mem.base != X86_REG_RSP && mem.base != X86_REG_RIP;
  }

  void store(const Value& address, Value value) {
    if (address.root != kNoRoot) memory_[{address.root, address.offset}] = std::move(value);
  }

  void assign(const cs_x86_op& op, Value value) {
    if (op.type == X86_OP_REG) set_reg(op.reg, std::move(value));
    if (op.type == X86_OP_MEM) store(address_of(op.mem), std::move(value));
  }

  Value stack_top() const {
    const Value& sp = regs_[UT_REG_SP];
    if (sp.root == kNoRoot) return Value{};
    auto stored = memory_.find({sp.root, sp.offset});
    return stored == memory_.end() ? Value{} : stored->second;
  }

  void push(Value value) {
    regs_[UT_REG_SP].offset -= 8;
    store(regs_[UT_REG_SP], std::move(value));
  }

  Value pop() {
    Value top = stack_top();
    regs_[UT_REG_SP].offset += 8;
    return top;
  }

  void mark_return_target(const Value& target) {
    reaches_return_.insert(target.stale_sources.begin(), target.stale_sources.end());
  }

  int fresh_root() { return next_root_++; }

  void record_switch(const cs_insn& insn, uint64_t offset, const Registers& before) {
    switched_ = true;
    out_.switch_offset = offset;
    auto origin = load_origin_.find(regs_[UT_REG_SP].root);
    if (origin == load_origin_.end()) return;  // the new SP was not loaded: no context
    ctx_root_ = origin->second.root;
    auto ctx_reg = context_register(insn, before);
    if (!ctx_reg) {
      ctx_root_ = kNoRoot;  // nothing still names the context: nothing can read it
      return;
    }
    const Value& ctx = before[*ctx_reg];
    ctx_offset_ = ctx.offset;
    out_.ctx_known = true;
    out_.ctx_reg = *ctx_reg;
    out_.ctx_reg_from_entry = ctx.root == *ctx_reg && ctx.offset == 0;
    out_.sp_disp = static_cast<int32_t>(origin->second.offset - ctx_offset_);
  }

  // The register naming the context at the switch: the base of the switch's own memory
  // operand, else one holding the context since entry, else the lowest-numbered copy.
  std::optional<ut_reg> context_register(const cs_insn& insn, const Registers& before) const {
    const cs_x86& x86 = insn.detail->x86;
    for (size_t i = 0; i < x86.op_count; ++i)
      if (x86.operands[i].type == X86_OP_MEM)
        if (auto base = pt_regs_slot(x86.operands[i].mem.base);
            base && base->bits == 64 && before[base->reg].root == ctx_root_)
          return base->reg;
    if (ctx_root_ < UT_REG_COUNT && before[ctx_root_].root == ctx_root_)
      return static_cast<ut_reg>(ctx_root_);
    for (int reg = 0; reg < UT_REG_COUNT; ++reg)
      if (reg != UT_REG_SP && before[reg].root == ctx_root_) return static_cast<ut_reg>(reg);
    return std::nullopt;
  }

  RoutineWindow& out_;
  Registers regs_;
  std::map<std::pair<int, int64_t>, Value> memory_;  // stores to known addresses
  std::map<int, Address> load_origin_;                // root of a 64-bit load -> its address
  int next_root_ = UT_REG_COUNT;
  bool switched_ = false;
  int ctx_root_ = kNoRoot;
  int64_t ctx_offset_ = 0;  // ctx_reg's value at the switch, relative to the context root
  std::set<size_t> reaches_return_;
  const cs_insn* insn_ = nullptr;
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
  Disassembler disassembler;
  auto disassembly = disassembler.disassemble(code, vaddr);
  SwitchAnalysis analysis(out);
  bool running = true;
  for (const cs_insn& insn : disassembly.instructions()) {
    uint64_t offset = insn.address - vaddr;
    out.listing.push_back({offset, static_cast<uint8_t>(insn.size), instruction_text(insn)});
    if (running) running = analysis.step(insn, offset);
  }
  analysis.finish();
  out.window = window_after_switch(out);
  return out;
}

}  // namespace ut::analysis
