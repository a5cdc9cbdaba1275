#include "analysis/object_analysis.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "analysis/disassembler.h"
#include "events.h"

namespace ut::analysis {

namespace {

// A sweep scans every byte of the object's code and decodes what may write %rsp: bounded so
// that a large program linking an unwinder statically does not stall a host-wide scan.
constexpr uint64_t kMaxSweepBytes = 4 << 20;

constexpr std::string_view kSweepRole = "switches stacks; no table entry names it";
constexpr std::string_view kUserRole = "named by the user";

std::string unnamed(uint64_t vaddr) { return fmt::format("<unnamed at {:#x}>", vaddr); }

const Segment* executable_segment_holding(const ElfObject& elf, uint64_t vaddr) {
  for (const Segment& segment : elf.segments())
    if (segment.executable && vaddr >= segment.vaddr &&
        vaddr - segment.vaddr < segment.file_size)
      return &segment;
  return nullptr;
}

// A symbol of size 0 (hand-written assembly without .size), or code no symbol names, runs to
// the next function, within what the kernel side can watch.
uint64_t routine_length(const ElfObject& elf, const Symbol& symbol) {
  if (symbol.size != 0) return symbol.size;
  uint64_t end = symbol.vaddr + UT_MAX_ROUTINE_BYTES;
  if (auto next = elf.next_function_after(symbol.vaddr)) end = std::min(end, *next);
  for (const Segment& segment : elf.segments())
    if (symbol.vaddr >= segment.vaddr && symbol.vaddr < segment.vaddr + segment.file_size)
      end = std::min(end, segment.vaddr + segment.file_size);
  return end - symbol.vaddr;
}

// Targets of the direct calls and jumps in [vaddr, vaddr + size) that lie in executable code
// outside it.
std::vector<uint64_t> direct_callees(const ElfObject& elf, const Symbol& routine) {
  Disassembler disassembler;
  auto code = elf.read(routine.vaddr, routine.size);
  std::vector<uint64_t> targets;
  // Named: a temporary Disassembly in the range expression would be freed before the loop.
  auto disassembly = disassembler.disassemble(code, routine.vaddr);
  for (const cs_insn& insn : disassembly.instructions()) {
    const cs_x86& x86 = insn.detail->x86;
    if ((insn.id != X86_INS_CALL && insn.id != X86_INS_JMP) || x86.op_count != 1 ||
        x86.operands[0].type != X86_OP_IMM)
      continue;
    auto target = static_cast<uint64_t>(x86.operands[0].imm);
    bool inside = target >= routine.vaddr && target - routine.vaddr < routine.size;
    if (!inside && executable_segment_holding(elf, target) &&
        std::find(targets.begin(), targets.end(), target) == targets.end())
      targets.push_back(target);
  }
  return targets;
}

class ObjectAnalyser {
 public:
  ObjectAnalyser(const ElfObject& elf, ObjectAnalysis& out) : elf_(elf), out_(out) {}

  void known_routines_by_symbol(const Markers& markers) {
    for (const KnownRoutine& known : known_routines()) {
      if (!markers.may_hold(known)) continue;
      auto symbol = elf_.find_symbol(known.symbol);
      if (!symbol) continue;
      Family family = known.family.value_or(unwinder());
      symbol->size = routine_length(elf_, *symbol);
      if (add(*symbol, family, known.role, "symbol")) continue;
      if (known.switch_in_callee && callees_switch(*symbol, family, known.role)) continue;
      // The unwinding API switches stacks only in libgcc; elsewhere it calls a resume routine.
      if (known.family || family == Family::Libgcc)
        out_.notes.push_back(fmt::format("{} ({}): no stack switch in its code{}", known.symbol,
                                         to_string(family),
                                         known.switch_in_callee ? " or its direct callees" : ""));
    }
  }

  void user_symbols(const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      auto symbol = elf_.find_symbol(name);
      if (!symbol) {
        out_.notes.push_back(fmt::format("{}: not defined in .symtab or .dynsym", name));
        continue;
      }
      symbol->size = routine_length(elf_, *symbol);
      if (!add(*symbol, Family::User, kUserRole, "named by the user"))
        out_.notes.push_back(fmt::format("{}: no stack switch in its {} bytes", name,
                                         symbol->size));
    }
  }

  // A stripped unwinder hides its resume routine (LLVM's jumpto is a hidden symbol in
  // Debian's libunwind.so.1): every piece of its code that writes %rsp is analysed.
  void sweep() {
    uint64_t executable_bytes = 0;
    for (const Segment& segment : elf_.segments())
      if (segment.executable) executable_bytes += segment.file_size;
    if (executable_bytes > kMaxSweepBytes) {
      out_.notes.push_back(fmt::format("{} bytes of code: too large to sweep for unnamed resume "
                                       "routines (limit {})",
                                       executable_bytes, kMaxSweepBytes));
      return;
    }
    size_t found = out_.routines.size();
    for (const Segment& segment : elf_.segments())
      if (segment.executable) sweep_segment(segment);
    if (out_.routines.size() == found)
      out_.notes.push_back("swept its code: no stack switch found");
  }

 private:
  // Analyses the routine once per address; adds it if it switches stacks.
  bool add(const Symbol& symbol, Family family, std::string_view role, std::string found_by) {
    if (auto done = analysed_.find(symbol.vaddr); done != analysed_.end()) return done->second;
    auto code = elf_.read(symbol.vaddr, symbol.size);
    RoutineWindow window = analyse_routine(code, symbol.vaddr, symbol.name);
    bool switches = window.switch_offset.has_value();
    analysed_[symbol.vaddr] = switches;
    if (!switches) return false;
    auto probes = choose_resume_probes(elf_, symbol, window);
    out_.routines.push_back({symbol, std::move(window), std::move(probes),
                             family, std::string(role), std::move(found_by)});
    return true;
  }

  // Code at `vaddr` as a routine: the function symbol starting there, else the first piece of
  // code from there.
  Symbol routine_at(uint64_t vaddr) const {
    if (auto symbol = elf_.symbol_containing(vaddr); symbol && symbol->vaddr == vaddr)
      return *symbol;
    uint64_t limit = routine_length(elf_, Symbol{"", vaddr, 0});
    auto pieces = split_into_pieces(elf_.read(vaddr, limit), vaddr);
    uint64_t size = pieces.empty() || pieces[0].vaddr != vaddr ? limit : pieces[0].size;
    return Symbol{unnamed(vaddr), vaddr, size};
  }

  bool callees_switch(const Symbol& caller, Family family, std::string_view role) {
    bool any = false;
    for (uint64_t target : direct_callees(elf_, caller)) {
      Symbol callee = routine_at(target);
      if (callee.size == 0) continue;
      any |= add(callee, family, role, fmt::format("called by {}", caller.name));
    }
    return any;
  }

  // Each function symbol's extent is one routine; the code between symbols is split into
  // pieces. Past the last symbol only its own piece is surely code: segments linked without
  // -z separate-code (LLVM's libunwind) go on with .rodata. Before the first symbol lie the
  // ELF headers in such segments, and PLT stubs in all: not swept.
  void sweep_segment(const Segment& segment) {
    uint64_t end = segment.vaddr + segment.file_size;
    auto first = elf_.function_at_or_before(segment.vaddr);
    std::optional<uint64_t> at = first && first->vaddr == segment.vaddr
                                     ? std::optional(segment.vaddr)
                                     : elf_.next_function_after(segment.vaddr);
    while (at && *at < end) {
      auto next = elf_.next_function_after(*at);
      uint64_t stop = next ? std::min(*next, end) : end;
      auto symbol = elf_.symbol_containing(*at);
      bool named = symbol && symbol->vaddr == *at;
      uint64_t named_end = named ? std::min(*at + symbol->size, stop) : *at;
      if (named_end > *at && any_piece_switches(*at, named_end))
        add(Symbol{symbol->name, *at, named_end - *at}, unwinder(), kSweepRole, "sweep");
      if (next || named_end == *at) {
        auto pieces = pieces_that_may_switch(named_end, stop);
        if (!next) pieces.resize(std::min<size_t>(pieces.size(), 1));
        for (const CodePiece& piece : pieces)
          if (piece.writes_rsp)
            add(Symbol{unnamed(piece.vaddr), piece.vaddr, piece.size}, unwinder(), kSweepRole,
                "sweep");
      }
      at = next;
    }
  }

  // Decoding is the sweep's cost: only stretches whose bytes may write %rsp are decoded.
  std::vector<CodePiece> pieces_that_may_switch(uint64_t begin, uint64_t end) const {
    auto code = elf_.read(begin, end - begin);
    if (!may_switch_rsp(code)) return {};
    return split_into_pieces(code, begin);
  }

  bool any_piece_switches(uint64_t begin, uint64_t end) const {
    auto pieces = pieces_that_may_switch(begin, end);
    return std::any_of(pieces.begin(), pieces.end(),
                       [](const CodePiece& piece) { return piece.writes_rsp; });
  }

  Family unwinder() const { return out_.unwinder.value_or(Family::UnknownUnwinder); }

  const ElfObject& elf_;
  ObjectAnalysis& out_;
  std::map<uint64_t, bool> analysed_;  // routine start -> it switches stacks
};

// "+0x52 return-address, +0x59..+0x61 register": consecutive instructions of one class.
std::string window_ranges(const std::vector<WindowInsn>& window) {
  std::vector<std::string> ranges;
  for (size_t first = 0; first < window.size();) {
    size_t last = first;
    while (last + 1 < window.size() && window[last + 1].cls == window[first].cls) ++last;
    std::string span = first == last ? fmt::format("+{:#x}", window[first].offset)
                                     : fmt::format("+{:#x}..+{:#x}", window[first].offset,
                                                   window[last].offset);
    ranges.push_back(fmt::format("{} {}", span, to_string(window[first].cls)));
    first = last + 1;
  }
  return fmt::format("{}", fmt::join(ranges, ", "));
}

}  // namespace

bool HazardousRoutine::exposes() const {
  return window.exposed() && (is_unwinder(family) || family == Family::User);
}

std::string verdict(const HazardousRoutine& routine) {
  const RoutineWindow& window = routine.window;
  if (window.exposed()) return fmt::format("window: {}", window_ranges(window.window));
  if (window.stack_source == StackSource::Register)
    return "no window: the new stack was handed to the routine, nothing is read through the "
           "old one";
  return "no window: nothing reads the abandoned stack after the switch";
}

bool ObjectAnalysis::exposed() const {
  return std::any_of(routines.begin(), routines.end(),
                     [](const HazardousRoutine& routine) { return routine.exposes(); });
}

ObjectAnalysis analyse_object(const ElfObject& elf, const AnalysisOptions& options) {
  ObjectAnalysis out{elf.path(), elf.build_id(), elf.soname(), std::nullopt, {}, {}};
  ObjectAnalyser analyser(elf, out);
  Markers markers = read_markers(elf);
  out.unwinder = markers.unwinder;
  if (markers.any()) analyser.known_routines_by_symbol(markers);
  analyser.user_symbols(options.extra_symbols);
  bool unwinder_routine_found =
      std::any_of(out.routines.begin(), out.routines.end(),
                  [](const HazardousRoutine& routine) { return is_unwinder(routine.family); });
  if (out.unwinder && !unwinder_routine_found) {
    if (options.sweep_unwinders)
      analyser.sweep();
    else
      out.notes.push_back("no resume routine named in its symbols; its code was not swept");
  }
  return out;
}

ObjectAnalysis analyse_object(const std::string& path, const AnalysisOptions& options) {
  return analyse_object(ElfObject::open(path), options);
}

}  // namespace ut::analysis
