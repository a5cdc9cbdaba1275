#include "unwinder_info.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

namespace workload {

RoutineInfo find_routine(const char* symbol) {
  RoutineInfo info;
  void* addr = dlsym(RTLD_DEFAULT, symbol);
  if (addr == nullptr) return info;
  Dl_info dl{};
  void* sym_entry = nullptr;
  if (dladdr1(addr, &dl, &sym_entry, RTLD_DL_SYMENT) == 0 ||
      sym_entry == nullptr) {
    return info;
  }
  const auto* sym = static_cast<const ElfW(Sym)*>(sym_entry);
  info.address = reinterpret_cast<std::uintptr_t>(addr);
  info.size = sym->st_size;
  info.symbol_value = sym->st_value;
  info.object = dl.dli_fname ? dl.dli_fname : "";
  return info;
}

std::string raise_exception_object() {
  void* addr = dlsym(RTLD_DEFAULT, "_Unwind_RaiseException");
  Dl_info dl{};
  if (addr == nullptr || dladdr(addr, &dl) == 0 || dl.dli_fname == nullptr) return "";
  return dl.dli_fname;
}

}  // namespace workload
