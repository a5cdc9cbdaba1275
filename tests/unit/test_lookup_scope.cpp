// LookupScopes on the link maps of real processes (tests/programs), each expected order being
// what glibc printed for that process with LD_DEBUG=scopes.
#include "proc/lookup_scope.h"

#include <gtest/gtest.h>

namespace ut::proc {
namespace {

const ScopeObject kVdso{"linux-vdso.so.1", "linux-vdso.so.1", {}};
const ScopeObject kLibstdcxx{"/lib/x86_64-linux-gnu/libstdc++.so.6", "libstdc++.so.6",
                             {"libm.so.6", "libc.so.6", "ld-linux-x86-64.so.2", "libgcc_s.so.1"}};
const ScopeObject kLibm{"/lib/x86_64-linux-gnu/libm.so.6", "libm.so.6",
                        {"libc.so.6", "ld-linux-x86-64.so.2"}};
const ScopeObject kLibgcc{"/lib/x86_64-linux-gnu/libgcc_s.so.1", "libgcc_s.so.1", {"libc.so.6"}};
const ScopeObject kLibc{"/lib/x86_64-linux-gnu/libc.so.6", "libc.so.6", {"ld-linux-x86-64.so.2"}};
const ScopeObject kLdso{"/lib64/ld-linux-x86-64.so.2", "ld-linux-x86-64.so.2", {}};
const ScopeObject kLibunwind{"/lib/x86_64-linux-gnu/libunwind.so.8", "libunwind.so.8",
                             {"libc.so.6", "ld-linux-x86-64.so.2", "liblzma.so.5"}};
const ScopeObject kLiblzma{"/lib/x86_64-linux-gnu/liblzma.so.5", "liblzma.so.5", {"libc.so.6"}};

std::vector<std::string> names(const std::vector<ScopeObject>& objects,
                               const std::vector<size_t>& indices) {
  std::vector<std::string> out;
  for (size_t i : indices) out.push_back(objects[i].soname.empty() ? "exe" : objects[i].soname);
  return out;
}

// LD_PRELOAD=./libpre.so ./plain (plain needs libstdc++, libgcc_s, libc directly).
TEST(LookupScope, PreloadFollowsTheExecutableAndItsDependenciesFollowTheExecutables) {
  std::vector<ScopeObject> objects{
      {"", "", {"libstdc++.so.6", "libgcc_s.so.1", "libc.so.6"}},
      kVdso,
      {"./libpre.so", "", {"libunwind.so.8", "libc.so.6"}},
      kLibstdcxx, kLibgcc, kLibc, kLibunwind, kLibm, kLdso, kLiblzma};
  objects[2].soname = "libpre.so";
  LookupScopes scopes(objects, {"./libpre.so"});
  EXPECT_EQ(names(objects, scopes.global()),
            (std::vector<std::string>{"exe", "libpre.so", "libstdc++.so.6", "libgcc_s.so.1",
                                      "libc.so.6", "libunwind.so.8", "libm.so.6",
                                      "ld-linux-x86-64.so.2", "liblzma.so.5"}));
  EXPECT_EQ(scopes.scope_of(3), scopes.global());
  EXPECT_FALSE(scopes.loaded_by_dlopen(3));
  EXPECT_TRUE(scopes.loaded_by_dlopen(1)) << "the vDSO is in no DT_NEEDED";
}

// LD_PRELOAD names a library by file name only; it matches the loaded object's SONAME.
TEST(LookupScope, PreloadMatchedBySoname) {
  std::vector<ScopeObject> objects{{"", "", {"libc.so.6"}},
                                   {"/opt/x/libhook.so.1", "libhook.so.1", {"libunwind.so.8"}},
                                   kLibc, kLibunwind, kLdso, kLiblzma};
  LookupScopes scopes(objects, {"libhook.so.1", "libmissing.so"});
  EXPECT_EQ(names(objects, scopes.global()),
            (std::vector<std::string>{"exe", "libhook.so.1", "libc.so.6", "libunwind.so.8",
                                      "ld-linux-x86-64.so.2", "liblzma.so.5"}));
}

// A C host dlopen()s a C++ library (RTLD_LOCAL): global scope first, then the library's list.
TEST(LookupScope, DlopenedObjectsSearchGlobalThenTheirOwnList) {
  std::vector<ScopeObject> objects{
      {"", "", {"libc.so.6"}},
      kVdso, kLibc, kLdso,
      {"/tmp/libcxx.so", "", {"libunwind.so.8", "libstdc++.so.6", "libm.so.6", "libgcc_s.so.1",
                              "libc.so.6"}},
      kLibunwind, kLibstdcxx, kLibm, kLibgcc, kLiblzma};
  LookupScopes scopes(objects, {});
  EXPECT_EQ(names(objects, scopes.global()),
            (std::vector<std::string>{"exe", "libc.so.6", "ld-linux-x86-64.so.2"}));
  EXPECT_TRUE(scopes.loaded_by_dlopen(6));
  objects[4].soname = "libcxx.so";  // for names() only
  EXPECT_EQ(names(objects, scopes.scope_of(6)),
            (std::vector<std::string>{"exe", "libc.so.6", "ld-linux-x86-64.so.2", "libcxx.so",
                                      "libunwind.so.8", "libstdc++.so.6", "libm.so.6",
                                      "libgcc_s.so.1", "liblzma.so.5"}));
  // libc is in the dlopen's list too, but was loaded at start-up: glibc leaves its scope alone.
  EXPECT_EQ(scopes.scope_of(2), scopes.global());
}

// Two dlopens, the second needing the first's library: each object searches the lists of all
// dlopens that include it, in load order.
TEST(LookupScope, LaterDlopenExtendsTheScopeOfObjectsItShares) {
  std::vector<ScopeObject> objects{{"", "", {"libc.so.6"}},
                                   kLibc,
                                   kLdso,
                                   {"/p/liba.so", "liba.so", {"libshared.so"}},
                                   {"/p/libshared.so", "libshared.so", {}},
                                   {"/p/libb.so", "libb.so", {"libshared.so", "libextra.so"}},
                                   {"/p/libextra.so", "libextra.so", {}}};
  LookupScopes scopes(objects, {});
  EXPECT_EQ(names(objects, scopes.scope_of(3)),
            (std::vector<std::string>{"exe", "libc.so.6", "ld-linux-x86-64.so.2", "liba.so",
                                      "libshared.so"}));
  EXPECT_EQ(names(objects, scopes.scope_of(4)),
            (std::vector<std::string>{"exe", "libc.so.6", "ld-linux-x86-64.so.2", "liba.so",
                                      "libshared.so", "libb.so", "libextra.so"}));
  EXPECT_EQ(names(objects, scopes.scope_of(6)),
            (std::vector<std::string>{"exe", "libc.so.6", "ld-linux-x86-64.so.2", "libb.so",
                                      "libshared.so", "libextra.so"}));
}

TEST(LookupScope, EmptyLinkMap) {
  LookupScopes scopes({}, {"libx.so"});
  EXPECT_TRUE(scopes.global().empty());
}

}  // namespace
}  // namespace ut::proc
