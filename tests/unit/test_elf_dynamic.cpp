// ElfObject's view of dynamic linking (DT_NEEDED, GOT relocations, versioned definitions) on
// Debian's own C++ runtime and unwinders.
#include <gtest/gtest.h>

#include "analysis/elf_object.h"

namespace ut::analysis {
namespace {

const std::string kLibstdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
const std::string kLibgcc = "/lib/x86_64-linux-gnu/libgcc_s.so.1";
const std::string kGnuLibunwind = "/usr/lib/x86_64-linux-gnu/libunwind.so.8";

TEST(ElfDynamic, NeededInOrder) {
  EXPECT_EQ(ElfObject::open(kLibstdcxx).needed(),
            (std::vector<std::string>{"libm.so.6", "libc.so.6", "ld-linux-x86-64.so.2",
                                      "libgcc_s.so.1"}));
  EXPECT_EQ(ElfObject::open(kGnuLibunwind).needed(),
            (std::vector<std::string>{"libc.so.6", "ld-linux-x86-64.so.2", "liblzma.so.5"}));
}

TEST(ElfDynamic, LibstdcxxCallsTheUnwinderThroughAVersionedJumpSlot) {
  auto elf = ElfObject::open(kLibstdcxx);
  auto references = elf.relocations_for("_Unwind_RaiseException");
  ASSERT_EQ(references.size(), 1u);
  EXPECT_TRUE(references[0].lazy);
  EXPECT_EQ(references[0].version, "GCC_3.0");
  EXPECT_NE(references[0].slot, 0u);
  EXPECT_FALSE(elf.defines_dynamic("_Unwind_RaiseException", "GCC_3.0"));
  EXPECT_TRUE(elf.relocations_for("no_such_symbol").empty());
}

TEST(ElfDynamic, VersionedDefinitionMatchesOnlyItsVersion) {
  auto elf = ElfObject::open(kLibgcc);
  auto definition = elf.defines_dynamic("_Unwind_RaiseException", "GCC_3.0");
  ASSERT_TRUE(definition);
  EXPECT_EQ(definition->vaddr, elf.find_symbol("_Unwind_RaiseException")->vaddr);
  EXPECT_TRUE(elf.defines_dynamic("_Unwind_RaiseException", ""));
  EXPECT_FALSE(elf.defines_dynamic("_Unwind_RaiseException", "GCC_99.0"));
}

// GNU libunwind exports _Unwind_RaiseException without a version: glibc binds a GCC_3.0
// reference to it (the reason -lunwind takes over C++ exceptions).
TEST(ElfDynamic, UnversionedDefinitionMatchesAnyVersion) {
  auto elf = ElfObject::open(kGnuLibunwind);
  EXPECT_TRUE(elf.defines_dynamic("_Unwind_RaiseException", "GCC_3.0"));
  EXPECT_TRUE(elf.defines_dynamic("_Unwind_RaiseException", ""));
  EXPECT_FALSE(elf.defines_dynamic("_Unwind_Backtrace_nonexistent", ""));
}

}  // namespace
}  // namespace ut::analysis
