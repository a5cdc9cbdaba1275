#include "proc/symbol_binding.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include <fmt/format.h>

#include "analysis/analysis_error.h"
#include "proc/link_map.h"
#include "proc/lookup_scope.h"
#include "proc/process_maps.h"
#include "proc/process_memory.h"
#include "proc/read_file.h"

namespace ut::proc {

namespace {

// An object of the link map, opened; no ELF for the vDSO and files that cannot be read as one.
struct Loaded {
  LoadedObject object;
  std::optional<analysis::ElfObject> elf;
};

std::vector<Loaded> open_objects(pid_t pid, const LinkMap& link_map) {
  std::vector<Loaded> out;
  for (const auto& object : link_map.objects) {
    Loaded loaded{object, std::nullopt};
    if (!object.path.empty()) {
      try {
        loaded.elf = analysis::ElfObject::open(fmt::format("/proc/{}/root{}", pid, object.path));
      } catch (const analysis::AnalysisError&) {
        // Defines and refers to nothing we can see; the scan reports the object's own error.
      }
    }
    out.push_back(std::move(loaded));
  }
  return out;
}

void split_into(std::string_view text, std::string_view separators, std::vector<std::string>& out) {
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find_first_of(separators, at);
    if (end == std::string_view::npos) end = text.size();
    if (end > at) out.emplace_back(text.substr(at, end - at));
    at = end + 1;
  }
}

// What glibc preloads, in its order: LD_PRELOAD (split at spaces and colons) as the process
// was started, then /etc/ld.so.preload of the process's root.
std::vector<std::string> preload_entries(pid_t pid) {
  std::vector<std::string> entries;
  std::string environment = read_proc_file(pid, "environ");
  constexpr std::string_view kPreload = "LD_PRELOAD=";
  std::string_view rest = environment;
  while (!rest.empty()) {
    std::string_view variable = rest.substr(0, rest.find('\0'));
    if (variable.starts_with(kPreload)) split_into(variable.substr(kPreload.size()), " :", entries);
    rest.remove_prefix(std::min(rest.size(), variable.size() + 1));
  }
  if (auto file = read_file_if_exists(fmt::format("/proc/{}/root/etc/ld.so.preload", pid)))
    split_into(*file, " \t\n:", entries);
  return entries;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : "; ") + part;
  return out;
}

class BindingResolver {
 public:
  explicit BindingResolver(pid_t pid)
      : link_map_(read_link_map(pid)),
        maps_(read_maps(pid)),
        memory_(pid),
        objects_(open_objects(pid, link_map_)),
        scopes_(scope_objects(), preload_entries(pid)) {}

  std::vector<SymbolBinding> resolve(const std::string& symbol) const {
    std::vector<SymbolBinding> out;
    for (size_t i = 0; i < objects_.size(); ++i) {
      if (!objects_[i].elf) continue;
      auto relocations = objects_[i].elf->relocations_for(symbol);
      if (!relocations.empty()) out.push_back(bind(symbol, i, std::move(relocations)));
    }
    if (out.empty())
      if (auto linked_in = linked_into_executable(symbol)) out.push_back(*linked_in);
    return out;
  }

 private:
  std::vector<ScopeObject> scope_objects() const {
    std::vector<ScopeObject> out;
    for (const auto& loaded : objects_)
      out.push_back({loaded.object.name, loaded.elf ? loaded.elf->soname() : "",
                     loaded.elf ? loaded.elf->needed() : std::vector<std::string>{}});
    return out;
  }

  // Run-time address of the definition object `index` offers, if it defines the symbol.
  std::optional<uint64_t> definition_in(size_t index, const std::string& symbol,
                                        const std::string& version) const {
    const auto& loaded = objects_[index];
    if (!loaded.elf) return std::nullopt;
    auto definition = loaded.elf->defines_dynamic(symbol, version);
    if (!definition) return std::nullopt;
    return definition->vaddr + loaded.object.load_bias;
  }

  SymbolBinding bind(const std::string& symbol, size_t referrer,
                     std::vector<analysis::Relocation> relocations) const {
    const auto& object = objects_[referrer].object;
    const std::string& version = relocations.front().version;
    SymbolBinding b{symbol, object.path, std::nullopt, 0, "", {}, ""};
    std::optional<uint64_t> first_definition;
    for (size_t index : scopes_.scope_of(referrer))
      if (auto address = definition_in(index, symbol, version)) {
        if (!first_definition) first_definition = address;
        b.definers.push_back(objects_[index].object.path);
      }
    std::vector<std::string> notes;
    if (!link_map_.order_known) notes.push_back("load order unknown: " + link_map_.why_order_unknown);

    // GLOB_DAT slots first: they are filled at load time, never lazily.
    std::stable_partition(relocations.begin(), relocations.end(),
                          [](const analysis::Relocation& r) { return !r.lazy; });
    auto own_definition = definition_in(referrer, symbol, version);
    for (const auto& relocation : relocations) {
      auto value = memory_.read<uint64_t>(object.load_bias + relocation.slot);
      const Mapping* mapping = mapping_containing(maps_, value);
      // Still pointing into the referrer itself, not at its own definition: a lazy slot
      // holding the address of its PLT's resolver stub.
      if (mapping && mapping->path == object.path && value != own_definition) continue;
      b.method = "got";
      b.bound_address = value;
      if (mapping && !mapping->path.empty()) b.bound_path = mapping->path;
      else if (value == 0) notes.push_back("the GOT slot is 0: nothing defines it (a weak reference)");
      else notes.push_back(fmt::format("the GOT slot holds {:#x}, outside any file: patched at run "
                                       "time (a hook or trampoline?)", value));
      if (b.bound_path && !b.definers.empty() && *b.bound_path != b.definers.front())
        notes.push_back(fmt::format("bound to {} although {} comes first in the lookup order: "
                                    "loaded with RTLD_GLOBAL or RTLD_DEEPBIND, or the GOT was "
                                    "patched", *b.bound_path, b.definers.front()));
      break;
    }
    if (b.method.empty()) {
      b.method = "lookup-order";
      if (b.definers.empty()) {
        notes.push_back("not called yet, and nothing in its lookup scope defines it: the first "
                        "call will fail");
      } else {
        b.bound_path = b.definers.front();
        b.bound_address = *first_definition;
        notes.push_back("not called yet (lazy binding): predicted from the lookup order");
      }
    }
    if (own_definition && b.bound_path && *b.bound_path != object.path)
      notes.push_back(fmt::format("its own {} is interposed", symbol));
    b.note = join(notes);
    return b;
  }

  // No object refers to the symbol dynamically, but the executable contains it: a static
  // executable, or libstdc++ and the unwinder linked in (-static-libstdc++ -static-libgcc).
  std::optional<SymbolBinding> linked_into_executable(const std::string& symbol) const {
    if (objects_.empty() || !objects_.front().elf) return std::nullopt;
    const auto& exe = objects_.front();
    auto definition = exe.elf->find_symbol(symbol);
    if (!definition) return std::nullopt;
    return SymbolBinding{symbol,
                         exe.object.path,
                         exe.object.path,
                         definition->vaddr + exe.object.load_bias,
                         "static",
                         {exe.object.path},
                         "no dynamic reference: the executable calls its own copy directly"};
  }

  LinkMap link_map_;
  std::vector<Mapping> maps_;
  ProcessMemory memory_;
  std::vector<Loaded> objects_;
  LookupScopes scopes_;
};

bool defines_any(const analysis::ElfObject& elf, std::initializer_list<std::string_view> names) {
  return std::any_of(names.begin(), names.end(),
                     [&](std::string_view name) { return elf.find_symbol(name).has_value(); });
}

}  // namespace

std::vector<SymbolBinding> resolve_bindings(pid_t pid, const std::vector<std::string>& symbols) {
  BindingResolver resolver(pid);
  std::vector<SymbolBinding> out;
  for (const auto& symbol : symbols) {
    auto bindings = resolver.resolve(symbol);
    out.insert(out.end(), std::make_move_iterator(bindings.begin()),
               std::make_move_iterator(bindings.end()));
  }
  return out;
}

std::optional<std::string> unwinder_family(const analysis::ElfObject& elf) {
  if (defines_any(elf, {"_Ux86_64_setcontext", "_ULx86_64_step", "_Ux86_64_step"}))
    return "GNU libunwind";
  // LLVM's also defines _Unwind_Find_FDE: ask before libgcc.
  if (defines_any(elf, {"__libunwind_Registers_x86_64_jumpto", "__unw_getcontext",
                        "unw_getcontext"}))
    return "LLVM libunwind";
  if (elf.soname().starts_with("libgcc_s")) return "libgcc_s";
  if (defines_any(elf, {"_Unwind_Find_FDE"})) return "libgcc";
  return std::nullopt;
}

std::string describe_unwinder(const analysis::ElfObject& elf, host::PackageIndex& packages) {
  auto family = unwinder_family(elf);
  const std::string& soname = elf.soname();
  // The package's version is the unwinder's only for the unwinder's own library, not for a
  // program or library that links one in.
  bool unwinder_library = soname.starts_with("libunwind") || soname.starts_with("libgcc_s");
  if (family && unwinder_library)
    if (auto package = packages.owner(elf.path()))
      return fmt::format("{} {}", *family, host::upstream_version(package->version));
  std::string name = family.value_or("unknown unwinder");
  if (!soname.empty()) return fmt::format("{} ({})", name, soname);
  return fmt::format("{} (linked into {})", name, elf.path());
}

}  // namespace ut::proc
