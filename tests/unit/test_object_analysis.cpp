// analyse_object on Debian 12's unwinders and glibc, and on fixtures: which routines are found
// (by symbol, through a call, by sweeping stripped code, or because a user named them), what
// their windows are, and which objects that makes exposed.
#include "analysis/object_analysis.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "analysis/register_names.h"

namespace ut::analysis {
namespace {

const std::string kFixtureDir = UT_FIXTURE_DIR;
const std::string kGnuLibunwind = "/usr/lib/x86_64-linux-gnu/libunwind.so.8";
const std::string kLlvmLibunwind14 = "/usr/lib/llvm-14/lib/libunwind.so.1";
const std::string kLibgcc = "/lib/x86_64-linux-gnu/libgcc_s.so.1";
const std::string kLibc = "/lib/x86_64-linux-gnu/libc.so.6";
constexpr const char* kNoWindow = "no window: nothing reads the abandoned stack after the switch";

// LLVM libunwind 16 conflicts with libunwind-14 (both ship libunwind.so.1), which the bundled
// workload needs; where both are wanted, scripts/setup.sh unpacks 16 under /opt/unwindtrace.
std::optional<std::string> llvm_libunwind16() {
  for (const char* path : {"/usr/lib/llvm-16/lib/libunwind.so.1",
                           "/opt/unwindtrace/libunwind-16/usr/lib/llvm-16/lib/libunwind.so.1"})
    if (std::filesystem::exists(path)) return path;
  return std::nullopt;
}

bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string_view(ci) == "true";
}

std::vector<uint64_t> window_offsets(const RoutineWindow& window) {
  std::vector<uint64_t> offsets;
  for (const auto& insn : window.window) offsets.push_back(insn.offset);
  return offsets;
}

std::string switch_text(const RoutineWindow& window) {
  for (const auto& insn : window.listing)
    if (window.switch_offset && insn.offset == *window.switch_offset) return insn.text;
  return "";
}

const HazardousRoutine* routine_named(const ObjectAnalysis& analysis, std::string_view name) {
  auto it = std::find_if(analysis.routines.begin(), analysis.routines.end(),
                         [&](const HazardousRoutine& r) { return r.symbol.name == name; });
  return it == analysis.routines.end() ? nullptr : &*it;
}

const HazardousRoutine* routine_found_by(const ObjectAnalysis& analysis, std::string_view how) {
  auto it = std::find_if(analysis.routines.begin(), analysis.routines.end(),
                         [&](const HazardousRoutine& r) { return r.found_by == how; });
  return it == analysis.routines.end() ? nullptr : &*it;
}

bool has_note_containing(const ObjectAnalysis& analysis, std::string_view text) {
  return std::any_of(analysis.notes.begin(), analysis.notes.end(),
                     [&](const std::string& note) { return note.find(text) != note.npos; });
}

TEST(ObjectAnalysis, GnuLibunwindIsExposed) {
  auto analysis = analyse_object(kGnuLibunwind);
  EXPECT_EQ(analysis.unwinder, Family::GnuLibunwind);
  ASSERT_EQ(analysis.routines.size(), 1u);
  const auto& routine = analysis.routines[0];
  EXPECT_EQ(routine.symbol.name, "_Ux86_64_setcontext");
  EXPECT_EQ(routine.family, Family::GnuLibunwind);
  EXPECT_EQ(routine.family, Family::GnuLibunwind);
  EXPECT_EQ(routine.found_by, "symbol");
  EXPECT_EQ(window_offsets(routine.window), (std::vector<uint64_t>{0x52, 0x59, 0x5a, 0x61}));
  EXPECT_EQ(verdict(routine), "window: +0x52 return-address, +0x59..+0x61 register");
  EXPECT_TRUE(routine.exposes());
  EXPECT_TRUE(analysis.exposed());
}

// Debian's LLVM libunwind.so.1 is stripped and its jumpto is hidden: only the sweep finds it.
// It moves %rsp to the context's SP and then pops %rdi and the resume address from the new
// stack: nothing read through the context after the switch.
void expect_llvm_jumpto_found_by_sweep(const std::string& path) {
  SCOPED_TRACE(path);
  auto analysis = analyse_object(path);
  EXPECT_EQ(analysis.unwinder, Family::LlvmLibunwind);
  ASSERT_EQ(analysis.routines.size(), 1u);
  const auto& routine = analysis.routines[0];
  EXPECT_EQ(routine.found_by, "sweep");
  EXPECT_EQ(routine.symbol.name.rfind("<unnamed at 0x", 0), 0u) << routine.symbol.name;
  EXPECT_EQ(routine.family, Family::LlvmLibunwind);
  const RoutineWindow& window = routine.window;
  EXPECT_EQ(switch_text(window), "mov rsp, qword ptr [rdi + 0x38]");
  EXPECT_EQ(window.stack_source, StackSource::Context);
  EXPECT_EQ(window.ctx_reg, UT_REG_DI);
  EXPECT_TRUE(window.ctx_reg_from_entry);
  EXPECT_TRUE(window.stale_reads.empty());
  EXPECT_EQ(verdict(routine), kNoWindow);
  EXPECT_FALSE(analysis.exposed());

  auto unswept = analyse_object(path, {.extra_symbols = {}, .sweep_unwinders = false});
  EXPECT_TRUE(unswept.routines.empty());
  EXPECT_TRUE(has_note_containing(unswept, "not swept"));
}

TEST(ObjectAnalysis, LlvmLibunwind14JumptoFoundBySweep) {
  expect_llvm_jumpto_found_by_sweep(kLlvmLibunwind14);
  EXPECT_EQ(analyse_object(kLlvmLibunwind14).routines.at(0).symbol.vaddr, 0x5d74u);
}

TEST(ObjectAnalysis, LlvmLibunwind16JumptoFoundBySweep) {
  auto path = llvm_libunwind16();
  if (!path) {
    if (under_ci()) FAIL() << "LLVM libunwind 16 is not installed: run scripts/setup.sh";
    GTEST_SKIP() << "LLVM libunwind 16 is not installed: run scripts/setup.sh";
  }
  expect_llvm_jumpto_found_by_sweep(*path);
}

// libgcc resumes with the epilogue of __builtin_eh_return in each of the four entry points:
// %rsp becomes its own frame plus the handler's offset, and only pops follow.
TEST(ObjectAnalysis, LibgccEhReturnEpiloguesHaveNoWindow) {
  auto analysis = analyse_object(kLibgcc);
  EXPECT_EQ(analysis.unwinder, Family::Libgcc);
  ASSERT_EQ(analysis.routines.size(), 4u);
  for (const char* name : {"_Unwind_RaiseException", "_Unwind_Resume", "_Unwind_ForcedUnwind",
                           "_Unwind_Resume_or_Rethrow"}) {
    SCOPED_TRACE(name);
    const HazardousRoutine* routine = routine_named(analysis, name);
    ASSERT_TRUE(routine);
    EXPECT_EQ(routine->family, Family::Libgcc);
    EXPECT_EQ(routine->found_by, "symbol");
    const RoutineWindow& window = routine->window;
    EXPECT_EQ(switch_text(window), "mov rsp, rcx");
    EXPECT_EQ(window.stack_source, StackSource::OldStack);
    // The switch lies past the shadow-stack unwinding (rdsspq/incsspq) Capstone 4 cannot decode.
    ASSERT_FALSE(window.undecoded.empty());
    EXPECT_LT(window.undecoded.back(), *window.switch_offset);
    EXPECT_TRUE(window.stale_reads.empty());
    EXPECT_EQ(verdict(*routine), kNoWindow);
  }
  EXPECT_FALSE(analysis.exposed());
}

// glibc's setcontext loads %rsp from the ucontext (through %rdx, a copy of its argument), then
// restores the callee-saved registers and pushes the resume address, all through the ucontext.
// A window in the code's sense; whether it is a hazard depends on where callers keep the
// ucontext (docs/analysis.md), so glibc's routines do not make an object exposed.
TEST(ObjectAnalysis, GlibcContextSwitchesReadTheContextAfterTheSwitch) {
  auto analysis = analyse_object(kLibc);
  EXPECT_FALSE(analysis.unwinder);
  for (const char* name : {"setcontext", "swapcontext"}) {
    SCOPED_TRACE(name);
    const HazardousRoutine* routine = routine_named(analysis, name);
    ASSERT_TRUE(routine);
    EXPECT_EQ(routine->family, Family::Glibc);
    const RoutineWindow& window = routine->window;
    EXPECT_EQ(switch_text(window), "mov rsp, qword ptr [rdx + 0xa0]");
    EXPECT_EQ(window.stack_source, StackSource::Context);
    EXPECT_EQ(window.ctx_reg, UT_REG_DX);
    EXPECT_FALSE(window.ctx_reg_from_entry);
    EXPECT_EQ(window.sp_disp, 0xa0);  // uc_mcontext.gregs[REG_RSP]
    EXPECT_EQ(window.ip_disp, 0xa8);  // uc_mcontext.gregs[REG_RIP]
    ASSERT_FALSE(window.stale_reads.empty());
    size_t return_reads = std::count_if(
        window.stale_reads.begin(), window.stale_reads.end(),
        [](const StaleRead& read) { return read.cls == ReadClass::ReturnAddress; });
    EXPECT_EQ(return_reads, 1u);
    EXPECT_EQ(window.window.front().offset, window.stale_reads.front().offset);
    EXPECT_TRUE(window.exposed());
    EXPECT_FALSE(routine->exposes());
  }
  EXPECT_FALSE(analysis.exposed());
}

// longjmp's own code calls the internal __longjmp, which a stripped libc does not name: it is
// found through the call. The saved %rsp is pointer-mangled; the analysis follows the load
// through ror/xor, and nothing is read from the jmp_buf after the switch.
TEST(ObjectAnalysis, GlibcLongjmpSwitchesInItsCalleeWithAMangledStackPointer) {
  auto analysis = analyse_object(kLibc);
  for (const char* caller : {"longjmp", "__longjmp_chk"}) {
    SCOPED_TRACE(caller);
    const HazardousRoutine* routine =
        routine_found_by(analysis, std::string("called by ") + caller);
    ASSERT_TRUE(routine);
    EXPECT_EQ(routine->family, Family::Glibc);
    const RoutineWindow& window = routine->window;
    EXPECT_EQ(switch_text(window), "mov rsp, r8");
    EXPECT_EQ(window.stack_source, StackSource::Context);
    EXPECT_TRUE(window.ctx_known);
    EXPECT_EQ(window.ctx_reg, UT_REG_DI);
    EXPECT_TRUE(window.sp_decoded);
    EXPECT_EQ(window.sp_disp, 0x30);  // JB_RSP
    EXPECT_TRUE(window.stale_reads.empty());
    EXPECT_EQ(verdict(*routine), kNoWindow);
  }
}

TEST(ObjectAnalysis, SanitizerInterceptorIsNotAnUnwinder) {
  const std::string libasan = "/usr/lib/x86_64-linux-gnu/libasan.so.8";
  if (!std::filesystem::exists(libasan)) GTEST_SKIP() << libasan << " is not installed";
  auto analysis = analyse_object(libasan);  // it defines _Unwind_RaiseException, only that
  EXPECT_FALSE(analysis.unwinder);
  EXPECT_TRUE(analysis.routines.empty());
}

TEST(ObjectAnalysis, ObjectWithoutMarkersHasNothingToSay) {
  auto analysis = analyse_object("/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
  EXPECT_FALSE(analysis.unwinder);
  EXPECT_TRUE(analysis.routines.empty());
  EXPECT_TRUE(analysis.notes.empty());
}

TEST(ObjectAnalysis, StrippedFixtureIsAnalysedFromDynsym) {
  auto full = ElfObject::open(kFixtureDir + "/libut_vulnerable.so");
  auto stripped = ElfObject::open(kFixtureDir + "/libut_vulnerable_stripped.so");
  EXPECT_TRUE(full.find_symbol("local_setcontext"));
  EXPECT_FALSE(stripped.find_symbol("local_setcontext"));  // .symtab is gone
  auto analysis = analyse_object(stripped);
  ASSERT_EQ(analysis.routines.size(), 1u);
  EXPECT_EQ(window_offsets(analysis.routines[0].window),
            (std::vector<uint64_t>{0x52, 0x59, 0x5a, 0x61}));
  EXPECT_TRUE(analysis.exposed());
}

// An unwinder whose resume routine is hidden and reached through a pointer: named in .symtab
// before stripping, unnamed after; the sweep finds it either way, window included.
TEST(ObjectAnalysis, SweepFindsAHiddenResumeRoutineAndItsWindow) {
  auto named = analyse_object(kFixtureDir + "/libut_hidden_resume.so");
  auto stripped = analyse_object(kFixtureDir + "/libut_hidden_resume_stripped.so");
  for (const ObjectAnalysis* analysis : {&named, &stripped}) {
    SCOPED_TRACE(analysis->path);
    EXPECT_EQ(analysis->unwinder, Family::LlvmLibunwind);
    ASSERT_EQ(analysis->routines.size(), 1u);
    const auto& routine = analysis->routines[0];
    EXPECT_EQ(routine.found_by, "sweep");
    EXPECT_EQ(routine.window.ip_disp, 0x80);
    EXPECT_FALSE(routine.window.window.empty());
    EXPECT_EQ(routine.window.window.front().cls, ReadClass::ReturnAddress);
    EXPECT_TRUE(analysis->exposed());
  }
  EXPECT_EQ(named.routines[0].symbol.name, "resume_hidden");
  EXPECT_EQ(stripped.routines[0].symbol.name,
            fmt::format("<unnamed at {:#x}>", named.routines[0].symbol.vaddr));
  EXPECT_EQ(window_offsets(stripped.routines[0].window),
            window_offsets(named.routines[0].window));
}

// libunwind.a linked into a program: the routine is named in the executable's .symtab only,
// and its window is the shared library's.
TEST(ObjectAnalysis, StaticallyLinkedGnuLibunwindHasTheLibrarysWindow) {
  const std::string program = kFixtureDir + "/ut_static_libunwind";
  if (!std::filesystem::exists(program))
    FAIL() << program << " was not built: install libunwind-dev (scripts/setup.sh)";
  auto analysis = analyse_object(program);
  EXPECT_EQ(analysis.unwinder, Family::GnuLibunwind);
  const HazardousRoutine* setcontext = routine_named(analysis, "_Ux86_64_setcontext");
  ASSERT_TRUE(setcontext);
  auto shared_library = analyse_object(kGnuLibunwind);
  const RoutineWindow& library = shared_library.routines.at(0).window;
  EXPECT_EQ(window_offsets(setcontext->window), window_offsets(library));
  ASSERT_EQ(setcontext->window.stale_reads.size(), library.stale_reads.size());
  for (size_t i = 0; i < library.stale_reads.size(); ++i)
    EXPECT_EQ(setcontext->window.stale_reads[i].cls, library.stale_reads[i].cls);
  EXPECT_TRUE(analysis.exposed());

  // The sigreturn path, hidden in libunwind.so.8, is named here: it switches to the signal
  // frame and enters the kernel without reading anything.
  const HazardousRoutine* sigreturn = routine_named(analysis, "_ULx86_64_sigreturn");
  ASSERT_TRUE(sigreturn);
  EXPECT_EQ(switch_text(sigreturn->window), "mov rsp, rsi");
  EXPECT_EQ(verdict(*sigreturn), kNoWindow);
}

TEST(ObjectAnalysis, UserNamedRoutine) {
  const std::string library = kFixtureDir + "/libut_user_resume.so";
  auto unnamed = analyse_object(library);
  EXPECT_TRUE(unnamed.routines.empty());
  EXPECT_FALSE(unnamed.exposed());

  auto named = analyse_object(library, {.extra_symbols = {"fiber_resume", "fiber_yield"}});
  ASSERT_EQ(named.routines.size(), 1u);
  const auto& routine = named.routines[0];
  EXPECT_EQ(routine.family, Family::User);
  EXPECT_EQ(routine.family, Family::User);
  EXPECT_EQ(routine.found_by, "named by the user");
  EXPECT_EQ(routine.window.ip_disp, 0);
  EXPECT_EQ(routine.window.window.size(), 1u);
  EXPECT_TRUE(named.exposed());
  EXPECT_TRUE(has_note_containing(named, "fiber_yield: not defined"));
}

TEST(ObjectAnalysis, UserNamedRoutineWithoutASwitchIsANote) {
  auto analysis = analyse_object(kFixtureDir + "/libut_vulnerable.so",
                                 {.extra_symbols = {"resume_via_plt"}});
  ASSERT_EQ(analysis.routines.size(), 1u);  // the known routine only
  EXPECT_TRUE(has_note_containing(analysis, "resume_via_plt: no stack switch"));
}

TEST(ObjectAnalysis, UserNamedCoroutineSwitchHasNoWindow) {
  auto analysis = analyse_object(kFixtureDir + "/libut_coroutine.so",
                                 {.extra_symbols = {"coroutine_switch"}});
  ASSERT_EQ(analysis.routines.size(), 1u);
  EXPECT_EQ(verdict(analysis.routines[0]), kNoWindow);
  EXPECT_FALSE(analysis.exposed());
}

TEST(ObjectAnalysis, KnownRoutineTableNamesEachFamily) {
  std::vector<Family> families;
  for (const KnownRoutine& routine : known_routines())
    if (routine.family) families.push_back(*routine.family);
  for (Family family : {Family::GnuLibunwind, Family::LlvmLibunwind, Family::Glibc})
    EXPECT_NE(std::find(families.begin(), families.end(), family), families.end())
        << to_string(family);
  EXPECT_STREQ(to_string(Family::Libgcc), "libgcc");
  EXPECT_TRUE(is_unwinder(Family::Libgcc));
  EXPECT_FALSE(is_unwinder(Family::Glibc));
  EXPECT_FALSE(is_unwinder(Family::User));
}

}  // namespace
}  // namespace ut::analysis
