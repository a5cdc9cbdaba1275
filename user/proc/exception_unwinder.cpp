#include "proc/exception_unwinder.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "analysis/elf_object.h"
#include "proc/symbol_binding.h"

namespace ut::proc {

namespace {

// libstdc++'s reference is the one `throw` goes through; the program's own comes next (a
// static libstdc++); an unwinder calling itself through its PLT only says who interposes it.
int referrer_rank(const SymbolBinding& binding) {
  auto name = std::filesystem::path(binding.referrer).filename().string();
  if (name.starts_with("libstdc++")) return 0;
  if (binding.method == "static") return 1;
  return 2;
}

const char* method_words(const std::string& method) {
  if (method == "got") return "read from the GOT";
  if (method == "lookup-order") return "predicted from the lookup order: not called yet";
  if (method == "static") return "linked into the executable";
  return "unknown method";
}

}  // namespace

std::optional<ExceptionUnwinder> exception_unwinder(pid_t pid, host::PackageIndex& packages) {
  auto bindings = resolve_bindings(pid, {"_Unwind_RaiseException"});
  std::stable_sort(bindings.begin(), bindings.end(), [](const auto& a, const auto& b) {
    return referrer_rank(a) < referrer_rank(b);
  });
  for (const auto& binding : bindings) {
    if (!binding.bound_path) continue;
    ExceptionUnwinder out{*binding.bound_path, "", binding.method, binding.note};
    auto elf = analysis::ElfObject::open(fmt::format("/proc/{}/root{}", pid, *binding.bound_path));
    out.name = describe_unwinder(elf, packages);
    return out;
  }
  return std::nullopt;
}

std::string describe(const ExceptionUnwinder& unwinder) {
  return fmt::format("{} ({}, {})", unwinder.path, unwinder.name, method_words(unwinder.method));
}

}  // namespace ut::proc
