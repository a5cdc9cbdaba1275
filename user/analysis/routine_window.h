// The hazard window of a context-switch routine, derived from its machine code (Capstone):
// the instruction that moves %rsp somewhere not derived from %rsp itself (anywhere in the
// routine), then every later read through a pointer into what now lies below the new stack
// pointer, where a signal frame may land. docs/analysis.md explains the model.
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

const char* to_string(ReadClass cls);  // "return-address", for people
const char* to_key(ReadClass cls);     // "return_address", in JSON
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

// Where the new %rsp comes from, which decides what the switch abandons.
enum class StackSource {
  Context,   // loaded through a pointer (a ucontext, a jmp_buf): reads through it are stale
  OldStack,  // the old %rsp plus a variable amount (__builtin_eh_return): reads through old
             // stack pointers are stale
  Register,  // a value the routine did not load (coroutine `mov rsp, rdi`): nothing is known
             // to lie below it, so nothing is judged stale
};

const char* to_string(StackSource source);

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

  std::optional<uint64_t> switch_offset;  // the first instruction that switches %rsp
  StackSource stack_source = StackSource::Register;  // meaningful with a switch
  // The new %rsp was loaded through a register that still names the context at the switch.
  // When false (e.g. a coroutine switch `mov rsp, rdi`) ctx_reg, sp_disp and ip_disp mean
  // nothing and nothing can be read stale.
  bool ctx_known = false;
  ut_reg ctx_reg = UT_REG_DI;             // register holding the context pointer
  bool ctx_reg_from_entry = false;        // ctx_reg is not written before the switch
  int32_t sp_disp = 0;                    // ctx_reg + sp_disp holds the target SP
  std::optional<int32_t> ip_disp;         // ctx_reg + ip_disp holds the target IP, if read
  bool sp_decoded = false;  // the loaded SP went through ror/xor first (glibc's pointer
                            // mangling): ctx_reg + sp_disp holds it encoded
  // Instructions Capstone 4 cannot decode (CET's rdsspq, incsspq): stepped over by length,
  // taken to write the register their ModRM r/m field names and to read nothing stale.
  std::vector<uint64_t> undecoded;

  std::vector<StaleRead> stale_reads;
  std::vector<WindowInsn> window;

  bool exposed() const { return !window.empty(); }
};

// Pure function of the bytes: no I/O. `vaddr` only labels the result.
RoutineWindow analyse_routine(std::span<const uint8_t> code, uint64_t vaddr, std::string name);

// A stretch of code that runs as one routine: it ends at padding after an unconditional
// transfer that no earlier forward branch jumps past. For code no symbol describes.
struct CodePiece {
  uint64_t vaddr = 0;
  uint64_t size = 0;
  bool writes_rsp = false;  // holds an explicit write of %rsp other than a constant adjustment
};

// Splits [vaddr, vaddr + code.size()) into pieces, skipping the padding between them.
std::vector<CodePiece> split_into_pieces(std::span<const uint8_t> code, uint64_t vaddr);

// Whether the bytes may encode a 64-bit instruction whose destination is %rsp: a scan cheap
// enough for a whole object's code, so that only the stretches it flags are decoded. Misses
// only the one-byte `pop rsp`.
bool may_switch_rsp(std::span<const uint8_t> code);

}  // namespace ut::analysis
