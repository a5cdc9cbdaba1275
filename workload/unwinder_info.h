// What the dynamic linker bound this process's C++ exceptions to, found at start-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace workload {

struct RoutineInfo {
  std::uintptr_t address = 0;  // runtime address; 0 = not present in the process
  std::size_t size = 0;        // st_size from the dynamic symbol table
  std::uintptr_t symbol_value = 0;  // st_value (address in the object's ELF file)
  std::string object;          // path of the shared object defining it
};

// GNU libunwind's _Ux86_64_setcontext, via dlsym(RTLD_DEFAULT) + dladdr1(RTLD_DL_SYMENT).
RoutineInfo find_routine(const char* symbol);

// Path of the object whose _Unwind_RaiseException the global scope resolves to (the definition
// libstdc++'s __cxa_throw binds to), or "" if none.
std::string raise_exception_object();

}  // namespace workload
