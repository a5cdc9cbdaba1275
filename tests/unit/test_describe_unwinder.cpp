// unwinder_family and describe_unwinder on Debian's unwinder libraries.
#include <gtest/gtest.h>

#include "proc/symbol_binding.h"

namespace ut::proc {
namespace {

using analysis::ElfObject;

TEST(DescribeUnwinder, VersionFromTheOwningPackage) {
  host::PackageIndex packages;
  EXPECT_EQ(describe_unwinder(ElfObject::open("/usr/lib/x86_64-linux-gnu/libunwind.so.8"), packages),
            "GNU libunwind 1.6.2");
  EXPECT_EQ(describe_unwinder(ElfObject::open("/usr/lib/llvm-14/lib/libunwind.so.1"), packages),
            "LLVM libunwind 14.0.6");
  EXPECT_EQ(describe_unwinder(ElfObject::open("/lib/x86_64-linux-gnu/libgcc_s.so.1"), packages),
            "libgcc_s 12.2.0");
}

TEST(DescribeUnwinder, SonameWhenDpkgDoesNotKnowTheFile) {
  host::PackageIndex no_packages("/nonexistent/dpkg");
  EXPECT_EQ(describe_unwinder(ElfObject::open("/usr/lib/x86_64-linux-gnu/libunwind.so.8"),
                              no_packages),
            "GNU libunwind (libunwind.so.8)");
}

TEST(DescribeUnwinder, NotAnUnwinder) {
  auto libstdcxx = ElfObject::open("/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
  EXPECT_FALSE(unwinder_family(libstdcxx));
  host::PackageIndex packages;
  EXPECT_EQ(describe_unwinder(libstdcxx, packages), "unknown unwinder (libstdc++.so.6)");
}

}  // namespace
}  // namespace ut::proc
