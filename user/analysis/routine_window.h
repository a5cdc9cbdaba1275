// The hazard window of a context-switch routine, derived from its machine code (Capstone):
// the instruction that loads %rsp from the context, then every later read through the context
// pointer, which by then lies below the new stack pointer where a signal frame may land.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "events.h"

namespace ut::analysis {

enum class ReadClass {
  ReturnAddress,  // the value read becomes the resume target: a hit means a wild return
  Register,       // the value read is a restored register: a hit means silent corruption
};

const char* to_string(ReadClass cls);
uint8_t to_wire(ReadClass cls);  // enum ut_window_class

struct Instruction {
  uint64_t offset = 0;  // from the routine's start
  uint8_t length = 0;
  std::string text;     // "mov rcx, qword ptr [rdi + 0xa8]"
};

// A memory read after the stack switch through a register that still points at the old stack.
struct StaleRead {
  uint64_t offset = 0;
  int32_t disp = 0;  // displacement from the context register
  ReadClass cls = ReadClass::Register;
  std::string text;
};

// An instruction at which an interrupted signal is a hit: at least one stale read is pending.
struct WindowInsn {
  uint64_t offset = 0;
  uint8_t length = 0;
  ReadClass cls = ReadClass::Register;  // worst class among the reads still pending here
  int32_t slot_disp = 0;                // displacement of the first pending read of that class
  std::string text;
};

struct RoutineWindow {
  std::string routine;
  uint64_t vaddr = 0;  // link-time address of the routine
  uint64_t size = 0;
  std::vector<Instruction> listing;

  std::optional<uint64_t> switch_offset;  // instruction that loads %rsp from the context
  // The new %rsp was loaded through a register that still names the context at the switch.
  // When false (e.g. a coroutine switch `mov rsp, rdi`) ctx_reg, sp_disp and ip_disp mean
  // nothing and nothing can be read stale.
  bool ctx_known = false;
  ut_reg ctx_reg = UT_REG_DI;             // register holding the context pointer
  bool ctx_reg_from_entry = false;        // ctx_reg is not written before the switch
  int32_t sp_disp = 0;                    // ctx_reg + sp_disp holds the target SP
  std::optional<int32_t> ip_disp;         // ctx_reg + ip_disp holds the target IP, if read

  std::vector<StaleRead> stale_reads;
  std::vector<WindowInsn> window;

  bool exposed() const { return !window.empty(); }
};

// Pure function of the bytes: no I/O. `vaddr` only labels the result.
RoutineWindow analyse_routine(std::span<const uint8_t> code, uint64_t vaddr, std::string name);

}  // namespace ut::analysis
