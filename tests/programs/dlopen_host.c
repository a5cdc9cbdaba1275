// A host that dlopen()s a library (argv[1]) with RTLD_LAZY | RTLD_LOCAL on "open", calls its
// ut_throw_and_catch() on "call" and dlclose()s it on "close"; says "ready", "opened", "called",
// "closed". Built as C (no libstdc++
// until the library brings it) and as C++ (libstdc++ and libgcc_s already in the global scope).
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LIBRARY\n", argv[0]);
    return 2;
  }
  void* library = NULL;
  puts("ready");
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (strcmp(line, "open\n") == 0) {
      library = dlopen(argv[1], RTLD_LAZY | RTLD_LOCAL);
      if (!library) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
      }
      puts("opened");
    } else if (strcmp(line, "call\n") == 0 && library) {
      int (*call)(void) = (int (*)(void))dlsym(library, "ut_throw_and_catch");
      if (!call) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
      }
      printf("called %d\n", call());
    } else if (strcmp(line, "close\n") == 0 && library) {
      dlclose(library);
      library = NULL;
      puts("closed");
    }
    fflush(stdout);
  }
  return 0;
}
