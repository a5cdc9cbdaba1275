// libFuzzer target: arbitrary bytes as the machine code of one routine, through the pure
// analyses over a span that a scan runs on code it reads from objects: analyse_routine (the
// hazard window), split_into_pieces and may_switch_rsp (the sweep of stripped unwinders).
// AnalysisError is the expected rejection; results must stay within the bytes given.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "analysis/analysis_error.h"
#include "analysis/routine_window.h"

using namespace ut::analysis;

namespace {

constexpr uint64_t kVaddr = 0x401000;

void check(bool holds) {
  if (!holds) std::abort();  // an invariant broken: libFuzzer saves the input as a crash
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> code(data, size);
  try {
    RoutineWindow window = analyse_routine(code, kVaddr, "fuzz");
    for (const Instruction& insn : window.listing)
      check(insn.length > 0 && insn.offset + insn.length <= size);
    if (window.switch_offset) check(*window.switch_offset < size);
    for (const WindowInsn& insn : window.window)
      check(insn.offset + insn.length <= size && window.switch_offset &&
            insn.offset > *window.switch_offset);
    for (const StaleRead& read : window.stale_reads) check(read.offset < size);
  } catch (const AnalysisError&) {
  }
  try {
    uint64_t last_end = kVaddr;
    for (const CodePiece& piece : split_into_pieces(code, kVaddr)) {
      check(piece.vaddr >= last_end && piece.size > 0 && piece.vaddr + piece.size <= kVaddr + size);
      last_end = piece.vaddr + piece.size;
    }
  } catch (const AnalysisError&) {
  }
  (void)may_switch_rsp(code);
  return 0;
}
