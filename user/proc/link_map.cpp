#include "proc/link_map.h"

#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "analysis/analysis_error.h"
#include "analysis/elf_object.h"
#include "errors.h"
#include "proc/process_maps.h"
#include "proc/process_memory.h"
#include "proc/read_file.h"

namespace ut::proc {

namespace {

constexpr size_t kMaxObjects = 65536;          // more means a cyclic (corrupt) chain
constexpr size_t kMaxDynamicEntries = 65536;   // more means no DT_NULL: a corrupt section

[[noreturn]] void fail(pid_t pid, std::string_view what) {
  throw analysis::AnalysisError(fmt::format("PID {}: {}", pid, what));
}

// Load bias of a file mapped at `m`, from one of its segments that the mapping covers.
uint64_t bias_of(const Mapping& m, uint64_t segment_vaddr, uint64_t segment_offset) {
  return m.start - m.file_offset - (segment_vaddr - segment_offset);
}

// Run-time address of the executable's dynamic section, from the kernel's auxiliary vector
// (AT_PHDR: where its program headers are mapped; PT_PHDR: where they were linked); nullopt for
// a static executable.
std::optional<uint64_t> executable_dynamic(pid_t pid, const ProcessMemory& memory,
                                           const std::vector<Mapping>& maps) {
  std::string auxv = read_proc_file(pid, "auxv");
  uint64_t phdr = 0, phnum = 0, phent = 0;
  for (size_t at = 0; at + sizeof(Elf64_auxv_t) <= auxv.size(); at += sizeof(Elf64_auxv_t)) {
    Elf64_auxv_t entry;
    std::memcpy(&entry, auxv.data() + at, sizeof entry);
    if (entry.a_type == AT_PHDR) phdr = entry.a_un.a_val;
    if (entry.a_type == AT_PHNUM) phnum = entry.a_un.a_val;
    if (entry.a_type == AT_PHENT) phent = entry.a_un.a_val;
  }
  if (phdr == 0 || phent != sizeof(Elf64_Phdr))
    fail(pid, "no 64-bit program headers in its auxiliary vector (a 32-bit process?); "
              "unwindtrace inspects x86-64 processes only");
  std::vector<Elf64_Phdr> headers(phnum);
  memory.read(phdr, headers.data(), phnum * sizeof(Elf64_Phdr));
  std::optional<uint64_t> bias, dynamic;
  for (const auto& header : headers) {
    if (header.p_type == PT_PHDR) bias = phdr - header.p_vaddr;
    if (header.p_type == PT_DYNAMIC) dynamic = header.p_vaddr;
  }
  if (!dynamic) return std::nullopt;
  // No PT_PHDR (ld.so run as a program): the headers' file offset, from the mapping holding
  // them, names the segment they were loaded with.
  const Mapping* holder = mapping_containing(maps, phdr);
  if (!bias && holder) {
    uint64_t offset = holder->file_offset + (phdr - holder->start);
    for (const auto& header : headers)
      if (header.p_type == PT_LOAD && offset >= header.p_offset &&
          offset < header.p_offset + header.p_filesz)
        bias = bias_of(*holder, header.p_vaddr, header.p_offset);
  }
  return *dynamic + bias.value_or(0);
}

// r_debug's address from the DT_DEBUG entry, which the dynamic linker fills in at start-up;
// nullopt without DT_DEBUG, 0 before the dynamic linker has run.
std::optional<uint64_t> debug_address(pid_t pid, const ProcessMemory& memory, uint64_t dynamic) {
  for (size_t i = 0; i < kMaxDynamicEntries; ++i) {
    auto entry = memory.read<Elf64_Dyn>(dynamic + i * sizeof(Elf64_Dyn));
    if (entry.d_tag == DT_NULL) return std::nullopt;
    if (entry.d_tag == DT_DEBUG) return entry.d_un.d_ptr;
  }
  fail(pid, "the executable's dynamic section in memory has no end; its memory looks corrupt");
}

// r_debug, once the list is consistent: RT_ADD/RT_DELETE mean a dlopen or dlclose is
// changing it right now. After a short wait the list is read as it is.
r_debug read_r_debug(const ProcessMemory& memory, uint64_t address) {
  auto debug = memory.read<r_debug>(address);
  for (int tries = 0; debug.r_state != r_debug::RT_CONSISTENT && tries < 20; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    debug = memory.read<r_debug>(address);
  }
  return debug;
}

std::string executable_path(pid_t pid) {
  std::string link = fmt::format("/proc/{}/exe", pid);
  char target[4096];
  ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
  if (n < 0)
    throw UserError(ExitCode::Target, fmt::format("cannot read {}: {}: is PID {} a kernel "
                                                  "thread, or gone?",
                                                  link, std::strerror(errno), pid));
  std::string path(target, static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.ends_with(kDeleted)) path.resize(path.size() - kDeleted.size());
  return path;
}

// Each ELF file mapped executable, the executable first, its load bias from where its first
// PT_LOAD segment is mapped.
std::vector<LoadedObject> mapped_objects(pid_t pid, const std::vector<Mapping>& maps) {
  std::vector<LoadedObject> out;
  std::map<std::string, const Mapping*> lowest;  // maps are in address order
  for (const auto& m : maps)
    if (!m.path.empty()) lowest.try_emplace(m.path, &m);
  std::vector<const Mapping*> firsts;  // the lowest mapping of each file with code
  std::set<std::string> seen;
  for (const auto& m : maps)
    if (m.executable() && !m.path.empty() && seen.insert(m.path).second)
      firsts.push_back(lowest.at(m.path));
  std::string exe = executable_path(pid);
  std::stable_partition(firsts.begin(), firsts.end(),
                        [&](const Mapping* m) { return m->path == exe; });
  for (const Mapping* m : firsts) {
    try {
      auto elf = analysis::ElfObject::open(fmt::format("/proc/{}/root{}", pid, m->path));
      if (elf.segments().empty()) continue;
      const auto& first = elf.segments().front();
      out.push_back({m->path, m->path == exe ? "" : m->path,
                     bias_of(*m, first.vaddr, first.file_offset)});
    } catch (const analysis::AnalysisError&) {
      // Not an ELF object (something else mapped executable): not part of the link map.
    }
  }
  return out;
}

// Without the dynamic linker's list, from /proc/PID/maps.
LinkMap unordered(pid_t pid, const std::vector<Mapping>& maps, std::string why) {
  return {mapped_objects(pid, maps), false, std::move(why)};
}

// When the kernel started the dynamic linker itself (`ld.so ./prog`), the executable's dynamic
// section has no DT_DEBUG, but the dynamic linker exports its r_debug as `_r_debug`.
std::optional<uint64_t> dynamic_linker_r_debug(pid_t pid, const std::vector<Mapping>& maps) {
  auto mapped = mapped_objects(pid, maps);
  if (mapped.empty() || !mapped.front().name.empty()) return std::nullopt;
  const auto& exe = mapped.front();
  auto elf = analysis::ElfObject::open(fmt::format("/proc/{}/root{}", pid, exe.path));
  auto r_debug_symbol = elf.defines_dynamic("_r_debug", "");
  if (!r_debug_symbol) return std::nullopt;
  return r_debug_symbol->vaddr + exe.load_bias;
}

}  // namespace

LinkMap read_link_map(pid_t pid) {
  ProcessMemory memory(pid);  // first: its error says what permission is missing
  auto maps = read_maps(pid);
  auto dynamic = executable_dynamic(pid, memory, maps);
  if (!dynamic) return unordered(pid, maps, "a static executable: no dynamic linker");
  auto debug_at = debug_address(pid, memory, *dynamic);
  if (!debug_at) debug_at = dynamic_linker_r_debug(pid, maps);
  if (!debug_at) return unordered(pid, maps, "the executable has no DT_DEBUG entry");
  r_debug debug{};
  if (*debug_at != 0) debug = read_r_debug(memory, *debug_at);
  if (debug.r_version == 0 || !debug.r_map) {
    LinkMap pending = unordered(pid, maps, "the dynamic linker has not started yet");
    pending.linker_pending = true;
    return pending;
  }

  LinkMap out;
  std::set<uint64_t> visited;
  for (auto at = reinterpret_cast<uint64_t>(debug.r_map); at != 0;) {
    if (!visited.insert(at).second || visited.size() > kMaxObjects)
      fail(pid, "the dynamic linker's object list loops; its memory looks corrupt");
    auto entry = memory.read<link_map>(at);
    std::string name = entry.l_name ? memory.read_string(reinterpret_cast<uint64_t>(entry.l_name))
                                    : "";
    const Mapping* dynamic_mapping = mapping_containing(maps, reinterpret_cast<uint64_t>(entry.l_ld));
    out.objects.push_back({dynamic_mapping ? dynamic_mapping->path : "", std::move(name),
                           entry.l_addr});
    at = reinterpret_cast<uint64_t>(entry.l_next);
  }
  return out;
}

bool dynamic_linker_pending(pid_t pid) {
  try {
    return read_link_map(pid).linker_pending;
  } catch (const analysis::AnalysisError&) {
    return false;
  }
}

}  // namespace ut::proc
