// Says "ready", then throws and catches one exception for each "throw" line on stdin, answering
// "thrown". A test reads the process's bindings before the first throw (lazy: still unbound)
// and after it (bound in the GOT). "exec" replaces the program with `sleep 30` (a tracer must
// notice that it exec'd); "reexec" with itself (the same path: only the exec itself tells).
#include <unistd.h>

#include <cstdio>
#include <cstring>

// catch (...) and no destructors: this file's own code refers to no _Unwind_* symbol (a typed
// catch or a cleanup would call _Unwind_Resume), so the link decides whether libgcc_s is a
// direct DT_NEEDED of the program; see CMakeLists.txt.
__attribute__((noinline)) static void throw_one() { throw 42; }

int main(int, char** argv) {
  std::puts("ready");
  std::fflush(stdout);
  char line[64];
  while (std::fgets(line, sizeof line, stdin)) {
    if (std::strcmp(line, "exec\n") == 0) execlp("sleep", "sleep", "30", static_cast<char*>(nullptr));
    if (std::strcmp(line, "reexec\n") == 0) execv("/proc/self/exe", argv);
    if (std::strcmp(line, "throw\n") != 0) continue;
    try {
      throw_one();
    } catch (...) {
    }
    std::puts("thrown");
    std::fflush(stdout);
  }
  return 0;
}
