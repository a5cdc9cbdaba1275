// ElfObject on Debian's libunwind.so.8, on the assembled fixtures, and on files it must refuse.
#include "analysis/elf_object.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "analysis/analysis_error.h"

namespace ut::analysis {
namespace {

const std::string kGnuLibunwind = "/usr/lib/x86_64-linux-gnu/libunwind.so.8";
const std::string kFixtureDir = UT_FIXTURE_DIR;

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A file in the test's temporary directory, removed afterwards.
class TempFile {
 public:
  TempFile(const std::string& name, const std::vector<char>& bytes)
      : path_(std::filesystem::path(::testing::TempDir()) / name) {
    std::ofstream(path_, std::ios::binary).write(bytes.data(), std::ssize(bytes));
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// The message names the object and says what is wrong with it.
void expect_rejected(const std::string& path, const std::string& why) {
  try {
    ElfObject::open(path);
    FAIL() << path << " was accepted";
  } catch (const AnalysisError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(why), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

// Where a rel32 call/jmp at `vaddr` goes.
uint64_t rel32_target(const ElfObject& elf, uint64_t vaddr) {
  auto bytes = elf.read(vaddr, 5);
  int32_t rel;
  std::memcpy(&rel, &bytes[1], sizeof rel);
  return vaddr + 5 + static_cast<int64_t>(rel);
}

TEST(ElfObject, ReadsDebianLibunwind) {
  auto elf = ElfObject::open(kGnuLibunwind);
  EXPECT_EQ(elf.soname(), "libunwind.so.8");
  EXPECT_EQ(elf.build_id().size(), 40u);
  EXPECT_TRUE(elf.is_shared_or_pie());

  auto setcontext = elf.find_symbol("_Ux86_64_setcontext");
  ASSERT_TRUE(setcontext);
  EXPECT_EQ(setcontext->vaddr, 0x5382u);
  EXPECT_EQ(setcontext->size, 102u);
  EXPECT_FALSE(elf.find_symbol("no_such_symbol"));

  auto inside = elf.symbol_containing(0x5382 + 0x4b);
  ASSERT_TRUE(inside);
  EXPECT_EQ(inside->name, "_Ux86_64_setcontext");

  // The call to setcontext sits in a static function the stripped object has no symbol for.
  EXPECT_FALSE(elf.symbol_containing(0x6155));
  auto before = elf.function_at_or_before(0x6155);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->name, "_ULx86_64_get_proc_info");
  EXPECT_EQ(elf.next_function_after(0x6155), 0x6180u);  // _ULx86_64_resume

  EXPECT_EQ(elf.plt_stub_for("_Ux86_64_setcontext"), 0x3280u);
  EXPECT_EQ(rel32_target(elf, 0x6155), 0x3280u);
  EXPECT_TRUE(elf.plt_stub_for("malloc"));                  // an import (malloc@GLIBC_2.2.5)
  EXPECT_FALSE(elf.plt_stub_for("_ULx86_64_init_local2"));  // never called through the PLT

  EXPECT_EQ(elf.read(0x5382 + 0x4b, 7),
            (std::vector<uint8_t>{0x48, 0x8b, 0xa7, 0xa0, 0x00, 0x00, 0x00}));
  EXPECT_EQ(elf.file_offset_of(0x6155), 0x6155u);
  EXPECT_EQ(elf.file_offset_of(0x10d80), 0xfd80u);  // the data segment is shifted
  EXPECT_FALSE(elf.file_offset_of(0x10d80 + 0xae40));  // .bss: not in the file
  EXPECT_THROW(elf.read(0x10d80 + 0x500, 0x10), AnalysisError);

  auto executable = std::count_if(elf.segments().begin(), elf.segments().end(),
                                  [](const Segment& s) { return s.executable; });
  EXPECT_EQ(executable, 1);
}

TEST(ElfObject, FindsClassicLazyPltStub) {
  auto elf = ElfObject::open(kFixtureDir + "/libut_vulnerable.so");
  EXPECT_EQ(elf.soname(), "libut_vulnerable.so");
  EXPECT_FALSE(elf.build_id().empty());
  auto caller = elf.find_symbol("resume_via_plt");
  ASSERT_TRUE(caller);
  auto stub = elf.plt_stub_for("_Ux86_64_setcontext");
  ASSERT_TRUE(stub);
  EXPECT_EQ(rel32_target(elf, caller->vaddr + 4), *stub);  // after `sub $8, %rsp`
  EXPECT_EQ(elf.read(*stub, 2), (std::vector<uint8_t>{0xff, 0x25}));  // jmp *slot(%rip)
}

TEST(ElfObject, FindsIbtPltSecStub) {
  auto elf = ElfObject::open(kFixtureDir + "/libut_vulnerable_ibt.so");
  auto caller = elf.find_symbol("resume_via_plt");
  ASSERT_TRUE(caller);
  auto stub = elf.plt_stub_for("_Ux86_64_setcontext");
  ASSERT_TRUE(stub);
  EXPECT_EQ(rel32_target(elf, caller->vaddr + 4), *stub);
  EXPECT_EQ(elf.read(*stub, 4), (std::vector<uint8_t>{0xf3, 0x0f, 0x1e, 0xfa}));  // endbr64
}

TEST(ElfObject, NoPltStubWithoutPlt) {
  auto elf = ElfObject::open(kFixtureDir + "/libut_fixed.so");
  EXPECT_FALSE(elf.plt_stub_for("_Ux86_64_setcontext"));
}

TEST(ElfObject, RejectsMissingFile) {
  expect_rejected(kFixtureDir + "/no_such_file.so", "cannot open");
}

TEST(ElfObject, RejectsNonElf) {
  TempFile text("not_elf.txt", {'h', 'e', 'l', 'l', 'o', '\n'});
  expect_rejected(text.path(), "not an ELF file");
}

TEST(ElfObject, RejectsTruncatedElf) {
  auto bytes = file_bytes(kGnuLibunwind);
  for (size_t keep : {bytes.size() / 2, size_t{40}}) {  // mid-file, and mid-header
    TempFile cut("truncated.so", {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(keep)});
    expect_rejected(cut.path(), "truncated");
  }
}

TEST(ElfObject, Rejects32BitElf) {
  expect_rejected(kFixtureDir + "/ut_i386.o", "32-bit");
}

TEST(ElfObject, RejectsOtherMachine) {
  auto bytes = file_bytes(kFixtureDir + "/libut_fixed.so");
  ASSERT_GT(bytes.size(), 20u);
  constexpr uint16_t kAarch64 = 183;  // e_machine sits at byte 18 of the header, little-endian
  std::memcpy(&bytes[18], &kAarch64, sizeof kAarch64);
  TempFile arm("aarch64.so", bytes);
  expect_rejected(arm.path(), "not x86-64");
}

}  // namespace
}  // namespace ut::analysis
