// resolve_bindings and read_link_map on real processes (tests/programs), before their first
// throw (lazy binding: predicted from the lookup order) and after it (read from the GOT). Each
// expected answer is what glibc itself reports with LD_DEBUG=bindings (docs/binding.md).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "errors.h"
#include "proc/child_process.h"
#include "proc/link_map.h"
#include "proc/symbol_binding.h"
#include "runtime_support.h"

namespace ut::proc {
namespace {

const std::string kProgramDir = UT_PROGRAM_DIR;
// The files the process maps: the real names behind the SONAME symlinks.
const std::string kLibunwind = std::filesystem::canonical(UT_GNU_LIBUNWIND).string();
const std::string kLibgcc = std::filesystem::canonical("/lib/x86_64-linux-gnu/libgcc_s.so.1").string();

std::string built(const std::string& name) { return kProgramDir + "/" + name; }

// A test program that has said "ready". Started through env(1) so neither an inherited
// LD_BIND_NOW (which would bind everything at start-up) nor LD_PRELOAD changes its answer.
class Program {
 public:
  explicit Program(const std::vector<std::string>& command, const std::string& preload = "")
      : child_(command_line(command, preload)) {
    expect_reply("ready");
  }
  pid_t pid() const { return child_.pid(); }
  void command(const std::string& line, const std::string& reply) {
    child_.write_stdin(line + "\n");
    expect_reply(reply);
  }

 private:
  static std::vector<std::string> command_line(const std::vector<std::string>& command,
                                               const std::string& preload) {
    std::vector<std::string> argv{"env", "-u", "LD_BIND_NOW", "-u", "LD_PRELOAD"};
    if (!preload.empty()) argv.push_back("LD_PRELOAD=" + preload);
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
  }
  void expect_reply(const std::string& want) {
    auto line = child_.read_stdout_line(10);
    if (!line || !line->starts_with(want))
      throw std::runtime_error("test program said '" + line.value_or("(nothing)") +
                               "' instead of '" + want + "': " + child_.read_stderr_rest());
  }
  ChildProcess child_;
};

// The C++ runtime's own reference: libstdc++'s call of the symbol.
SymbolBinding cxx_runtime_binding(pid_t pid, const std::string& symbol = "_Unwind_RaiseException") {
  auto bindings = resolve_bindings(pid, {symbol});
  for (const auto& b : bindings)
    if (std::filesystem::path(b.referrer).filename().string().starts_with("libstdc++.so.6")) return b;
  throw std::runtime_error("no libstdc++ reference to " + symbol + " in PID " + std::to_string(pid));
}

void expect_binding(const SymbolBinding& b, const std::string& method, const std::string& path) {
  EXPECT_EQ(b.method, method) << b.note;
  EXPECT_EQ(b.bound_path.value_or("(none)"), path) << b.note;
  ASSERT_FALSE(b.definers.empty());
  EXPECT_EQ(b.definers.front(), path) << "the first definer in lookup order";
}

// Lazy: predicted; after one throw: the same object, now read from the GOT at the address the
// prediction gave.
void expect_before_and_after_throw(Program& program, const std::string& path,
                                   const std::string& throw_command, const std::string& reply) {
  auto before = cxx_runtime_binding(program.pid());
  expect_binding(before, "lookup-order", path);
  program.command(throw_command, reply);
  auto after = cxx_runtime_binding(program.pid());
  expect_binding(after, "got", path);
  EXPECT_EQ(after.bound_address, before.bound_address);
}

TEST(SymbolBinding, LinkedWithLibunwindBindsLibunwind) {
  UT_REQUIRE_ROOT();
  Program program({built("ut_throw_gnu")});
  expect_before_and_after_throw(program, kLibunwind, "throw", "thrown");
  EXPECT_EQ(cxx_runtime_binding(program.pid(), "_Unwind_Resume").bound_path, kLibunwind);
}

TEST(SymbolBinding, PlainProgramBindsLibgcc) {
  UT_REQUIRE_ROOT();
  Program program({built("ut_throw_plain")});
  expect_before_and_after_throw(program, kLibgcc, "throw", "thrown");
}

// The preloaded library's DT_NEEDED comes after the executable's own in the breadth-first
// global scope. The program needs only libstdc++ directly, so libunwind (depth 2, via the
// preload, which precedes libstdc++) is searched before libgcc_s (depth 2, via libstdc++).
TEST(SymbolBinding, PreloadedDependencyWinsOverLibstdcxxsLibgcc) {
  UT_REQUIRE_ROOT();
  Program program({built("ut_throw_plain")}, built("libut_preload_unwind.so"));
  expect_before_and_after_throw(program, kLibunwind, "throw", "thrown");
}

// ... but when the program itself needs libgcc_s (depth 1), libgcc_s wins: LD_PRELOAD of a
// library that merely depends on libunwind does not change the unwinder.
TEST(SymbolBinding, PreloadedDependencyLosesToTheProgramsOwnLibgcc) {
  UT_REQUIRE_ROOT();
  Program program({built("ut_throw_libgcc_needed")}, built("libut_preload_unwind.so"));
  expect_before_and_after_throw(program, kLibgcc, "throw", "thrown");
}

// libstdc++ arrives with the dlopen: its scope is the global one (host, libc, ld.so: no
// unwinder) and then the library's own search list, where libunwind precedes libgcc_s.
TEST(SymbolBinding, CxxLibraryDlopenedByCHostBindsItsLibunwind) {
  UT_REQUIRE_ROOT();
  Program program({built("ut_dlopen_host"), built("libut_throw_in_library.so")});
  program.command("open", "opened");
  expect_before_and_after_throw(program, kLibunwind, "call", "called 7");
}

// The same library in a C++ host: libgcc_s is already global and searched first.
TEST(SymbolBinding, CxxLibraryDlopenedByCxxHostBindsLibgcc) {
  UT_REQUIRE_ROOT();
  Program program({built("ut_dlopen_host_cxx"), built("libut_throw_in_library.so")});
  program.command("open", "opened");
  expect_before_and_after_throw(program, kLibgcc, "call", "called 7");
}

TEST(LinkMap, ListsTheExecutableThenPreloadsThenDependencies) {
  UT_REQUIRE_ROOT();
  Program program({built("ut_throw_gnu")}, built("libut_preload_unwind.so"));
  auto link_map = read_link_map(program.pid());
  ASSERT_TRUE(link_map.order_known) << link_map.why_order_unknown;
  ASSERT_GE(link_map.objects.size(), 4u);
  EXPECT_EQ(link_map.objects[0].path, std::filesystem::canonical(built("ut_throw_gnu")).string());
  EXPECT_EQ(link_map.objects[0].name, "");
  std::vector<std::string> files;  // the vDSO (no file) left out
  for (const auto& object : link_map.objects)
    if (!object.path.empty()) files.push_back(std::filesystem::path(object.path).filename());
  EXPECT_EQ(files[1], "libut_preload_unwind.so");
  EXPECT_EQ(files[2], std::filesystem::path(kLibunwind).filename());
  auto libunwind = std::find_if(link_map.objects.begin(), link_map.objects.end(),
                                [](const LoadedObject& o) { return o.path == kLibunwind; });
  ASSERT_NE(libunwind, link_map.objects.end());
  EXPECT_NE(libunwind->load_bias, 0u) << "a shared library is never at its link-time address";
}

// `ld.so ./program`: the kernel started the dynamic linker, whose dynamic section has no
// DT_DEBUG; its exported _r_debug leads to the same link map, the program first.
TEST(SymbolBinding, ProgramStartedThroughTheDynamicLinker) {
  UT_REQUIRE_ROOT();
  Program program({"/lib64/ld-linux-x86-64.so.2", built("ut_throw_gnu")});
  auto link_map = read_link_map(program.pid());
  ASSERT_TRUE(link_map.order_known) << link_map.why_order_unknown;
  EXPECT_EQ(link_map.objects.at(0).path, std::filesystem::canonical(built("ut_throw_gnu")).string());
  expect_before_and_after_throw(program, kLibunwind, "throw", "thrown");
}

// No dynamic linker: the link map comes from /proc/PID/maps, and the executable's own copy of
// the unwinder is the answer.
TEST(SymbolBinding, StaticExecutableUsesItsOwnCopy) {
  UT_REQUIRE_ROOT();
  Program program({built("ut_throw_static")});
  std::string exe = std::filesystem::canonical(built("ut_throw_static")).string();
  auto link_map = read_link_map(program.pid());
  EXPECT_FALSE(link_map.order_known);
  EXPECT_NE(link_map.why_order_unknown.find("static executable"), std::string::npos);
  ASSERT_FALSE(link_map.objects.empty());
  EXPECT_EQ(link_map.objects[0].path, exe);
  auto bindings = resolve_bindings(program.pid());
  ASSERT_EQ(bindings.size(), 2u);
  for (const auto& b : bindings) {
    EXPECT_EQ(b.method, "static");
    EXPECT_EQ(b.referrer, exe);
    EXPECT_EQ(b.bound_path, exe);
    EXPECT_NE(b.bound_address, 0u);
  }
}

TEST(SymbolBinding, CProgramHasNoBinding) {
  UT_REQUIRE_ROOT();
  Program program({built("ut_dlopen_host"), built("libut_throw_in_library.so")});
  EXPECT_TRUE(resolve_bindings(program.pid()).empty());
}

TEST(SymbolBinding, MissingProcessIsATargetError) {
  UT_REQUIRE_ROOT();
  try {
    resolve_bindings(999999999);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_EQ(e.code(), ExitCode::Target);
    EXPECT_NE(std::string(e.what()).find("999999999"), std::string::npos) << e.what();
  }
}

// Run as nobody: another user's process cannot be read, and the error says what to do.
TEST(SymbolBinding, UnreadableMemoryIsAPrivilegesError) {
  UT_REQUIRE_ROOT();
  Program program({built("ut_throw_plain")});
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    int code = 100;  // no error
    std::string message;
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(101);
    try {
      resolve_bindings(program.pid());
    } catch (const UserError& e) {
      code = static_cast<int>(e.code());
      message = e.what();
    } catch (...) {
      code = 102;
    }
    if (write(pipe_fds[1], message.data(), message.size()) < 0) code = 103;
    _exit(code);
  }
  close(pipe_fds[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) message.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), static_cast<int>(ExitCode::Privileges)) << message;
  EXPECT_NE(message.find("/mem"), std::string::npos) << message;
  EXPECT_NE(message.find("run as root"), std::string::npos) << message;
}

// kthreadd, PID 2 where the host's PID namespace is ours; any kernel thread otherwise.
pid_t a_kernel_thread() {
  constexpr unsigned long kKernelThread = 0x00200000;  // PF_KTHREAD in /proc/PID/stat's flags
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    if (text.find(')') == std::string::npos) continue;  // gone meanwhile
    std::istringstream fields(text.substr(text.rfind(')') + 2));  // after "pid (comm) "
    std::string field;
    unsigned long flags = 0;
    for (int i = 3; i <= 9 && fields >> field; ++i)
      if (i == 9) flags = std::stoul(field);
    if (flags & kKernelThread) return std::stoi(name);
  }
  throw std::runtime_error("no kernel thread visible in /proc");
}

TEST(SymbolBinding, KernelThreadIsAClearError) {
  UT_REQUIRE_ROOT();
  try {
    resolve_bindings(a_kernel_thread());
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_EQ(e.code(), ExitCode::Target);
    EXPECT_NE(std::string(e.what()).find("kernel thread"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ut::proc
