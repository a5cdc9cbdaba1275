#include "analysis/elf_object.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "analysis/analysis_error.h"
#include "analysis/disassembler.h"

namespace ut::analysis {

namespace {

[[noreturn]] void fail(const std::string& path, std::string_view what) {
  throw AnalysisError(fmt::format("{}: {}", path, what));
}

std::string libelf_error() { return elf_errmsg(-1); }

// .gnu.version entries: the version index, and a bit for versions only an exact reference binds.
constexpr GElf_Versym kVersionHidden = 0x8000;
constexpr GElf_Versym kVersionIndex = 0x7fff;

// Sections whose bytes the file must hold in full; anything past the end means a cut copy.
void check_within_file(const std::string& path, std::string_view what, uint64_t offset,
                       uint64_t size, size_t file_size) {
  if (offset > file_size || size > file_size - offset)
    fail(path, fmt::format("truncated: {} ends at byte {:#x} but the file has only {:#x} bytes; "
                           "re-copy or reinstall it",
                           what, offset + size, file_size));
}

}  // namespace

struct ElfObject::Impl {
  std::string path;
  int fd = -1;
  Elf* elf = nullptr;
  const uint8_t* image = nullptr;  // the whole file, as libelf mapped it
  size_t image_size = 0;
  size_t shstrndx = 0;
  bool shared_or_pie = false;
  std::vector<Segment> segments;
  Elf_Scn* symtab = nullptr;
  Elf_Scn* dynsym = nullptr;
  Elf_Scn* versym = nullptr;   // .gnu.version: the version index of each .dynsym entry
  Elf_Scn* verdef = nullptr;   // .gnu.version_d: versions this object defines
  Elf_Scn* verneed = nullptr;  // .gnu.version_r: versions it requires of other objects
  std::string build_id;
  std::string soname;
  std::vector<std::string> needed;

  // Function symbols sorted by address, built on first use: most objects a process maps are
  // only asked whether they define a few names.
  mutable std::once_flag functions_built;
  mutable std::vector<Symbol> functions;

  ~Impl() {
    if (elf) elf_end(elf);
    if (fd >= 0) close(fd);
  }

  [[noreturn]] void fail_libelf(std::string_view doing) const {
    fail(path, fmt::format("cannot {}: {}; the ELF file looks corrupt", doing, libelf_error()));
  }

  GElf_Shdr header_of(Elf_Scn* scn) const {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr)) fail_libelf("read a section header");
    return shdr;
  }

  std::string_view section_name(const GElf_Shdr& shdr) const {
    const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
    if (!name) fail_libelf("read a section name");
    return name;
  }

  Elf_Data* data_of(Elf_Scn* scn) const {
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data) fail_libelf("read section data");
    return data;
  }

  Elf_Scn* section_named(std::string_view name) const {
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn))
      if (section_name(header_of(scn)) == name) return scn;
    return nullptr;
  }

  size_t symbol_count(Elf_Scn* scn) const {
    GElf_Shdr shdr = header_of(scn);
    return shdr.sh_entsize ? shdr.sh_size / shdr.sh_entsize : 0;
  }

  // Symbol `index` of table `scn` with its name.
  std::pair<GElf_Sym, std::string_view> symbol_at(Elf_Scn* scn, Elf_Data* data,
                                                  size_t index) const {
    GElf_Sym sym;
    if (!gelf_getsym(data, static_cast<int>(index), &sym)) fail_libelf("read a symbol");
    const char* name = elf_strptr(elf, header_of(scn).sh_link, sym.st_name);
    if (!name) fail_libelf("read a symbol name");
    return {sym, name};
  }

  // Calls visit(sym, name) for each defined, non-zero-address symbol of .symtab, then .dynsym;
  // stops when visit returns true.
  template <typename Visit>
  void for_each_defined_symbol(Visit visit) const {
    for (Elf_Scn* scn : {symtab, dynsym}) {
      if (!scn) continue;
      Elf_Data* data = data_of(scn);
      for (size_t i = 1, n = symbol_count(scn); i < n; ++i) {
        auto [sym, name] = symbol_at(scn, data, i);
        if (sym.st_shndx == SHN_UNDEF || sym.st_value == 0 || name.empty()) continue;
        if (visit(sym, name)) return;
      }
    }
  }

  const std::vector<Symbol>& sorted_functions() const {
    std::call_once(functions_built, [this] {
      for_each_defined_symbol([this](const GElf_Sym& sym, std::string_view name) {
        if (GELF_ST_TYPE(sym.st_info) == STT_FUNC)
          functions.push_back({std::string(name), sym.st_value, sym.st_size});
        return false;
      });
      // .symtab entries come first, so after a stable sort the first of equal addresses is the
      // most complete table's name; duplicates from .dynsym are dropped.
      std::stable_sort(functions.begin(), functions.end(),
                       [](const Symbol& a, const Symbol& b) { return a.vaddr < b.vaddr; });
      auto duplicate = std::unique(functions.begin(), functions.end(),
                                   [](const Symbol& a, const Symbol& b) {
                                     return a.vaddr == b.vaddr && a.name == b.name;
                                   });
      functions.erase(duplicate, functions.end());
    });
    return functions;
  }

  std::vector<Symbol>::const_iterator first_function_after(uint64_t vaddr) const {
    const auto& sorted = sorted_functions();
    return std::upper_bound(sorted.begin(), sorted.end(), vaddr,
                            [](uint64_t v, const Symbol& s) { return v < s.vaddr; });
  }

  const Segment* segment_holding(uint64_t vaddr, uint64_t len) const {
    for (const auto& seg : segments)
      if (vaddr >= seg.vaddr && vaddr - seg.vaddr <= seg.file_size &&
          len <= seg.file_size - (vaddr - seg.vaddr))
        return &seg;
    return nullptr;
  }

  void check_header(const GElf_Ehdr& ehdr) const {
    switch (gelf_getclass(elf)) {
      case ELFCLASS64: break;
      case ELFCLASS32: fail(path, "32-bit ELF; unwindtrace analyses x86-64 objects only");
      default: fail(path, "ELF of unknown class; the file looks corrupt");
    }
    if (ehdr.e_machine != EM_X86_64)
      fail(path, fmt::format("ELF for machine {}, not x86-64; unwindtrace analyses x86-64 "
                             "objects only",
                             ehdr.e_machine));
    check_within_file(path, "the program header table", ehdr.e_phoff,
                      uint64_t{ehdr.e_phnum} * ehdr.e_phentsize, image_size);
    check_within_file(path, "the section header table", ehdr.e_shoff,
                      uint64_t{ehdr.e_shnum} * ehdr.e_shentsize, image_size);
  }

  void load_segments() {
    size_t count = 0;
    if (elf_getphdrnum(elf, &count) != 0) fail_libelf("count program headers");
    for (size_t i = 0; i < count; ++i) {
      GElf_Phdr phdr;
      if (!gelf_getphdr(elf, static_cast<int>(i), &phdr)) fail_libelf("read a program header");
      if (phdr.p_type != PT_LOAD) continue;
      check_within_file(path, fmt::format("loadable segment {}", i), phdr.p_offset,
                        phdr.p_filesz, image_size);
      segments.push_back({phdr.p_vaddr, phdr.p_offset, phdr.p_filesz, phdr.p_memsz,
                          (phdr.p_flags & PF_X) != 0});
    }
  }

  void read_build_id(Elf_Scn* scn) {
    Elf_Data* data = data_of(scn);
    GElf_Nhdr note;
    size_t name_at = 0, desc_at = 0;
    for (size_t at = 0; (at = gelf_getnote(data, at, &note, &name_at, &desc_at)) != 0;) {
      const auto* bytes = static_cast<const uint8_t*>(data->d_buf);
      if (note.n_type != NT_GNU_BUILD_ID || note.n_namesz != sizeof ELF_NOTE_GNU ||
          std::memcmp(bytes + name_at, ELF_NOTE_GNU, sizeof ELF_NOTE_GNU) != 0)
        continue;
      for (size_t i = 0; i < note.n_descsz; ++i)
        build_id += fmt::format("{:02x}", bytes[desc_at + i]);
      return;
    }
  }

  void read_dynamic(Elf_Scn* scn, const GElf_Shdr& shdr) {
    Elf_Data* data = data_of(scn);
    for (size_t i = 0, n = shdr.sh_entsize ? shdr.sh_size / shdr.sh_entsize : 0; i < n; ++i) {
      GElf_Dyn dyn;
      if (!gelf_getdyn(data, static_cast<int>(i), &dyn)) fail_libelf("read a dynamic entry");
      if (dyn.d_tag == DT_NULL) return;
      if (dyn.d_tag != DT_SONAME && dyn.d_tag != DT_NEEDED) continue;
      const char* name = elf_strptr(elf, shdr.sh_link, dyn.d_un.d_val);
      if (!name) fail_libelf("read DT_SONAME or DT_NEEDED");
      if (dyn.d_tag == DT_SONAME) soname = name;
      else needed.emplace_back(name);
    }
  }

  void load_sections() {
    if (elf_getshdrstrndx(elf, &shstrndx) != 0) fail_libelf("find the section name table");
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
      GElf_Shdr shdr = header_of(scn);
      if (shdr.sh_type != SHT_NOBITS)
        check_within_file(path, fmt::format("section {}", section_name(shdr)), shdr.sh_offset,
                          shdr.sh_size, image_size);
      switch (shdr.sh_type) {
        case SHT_SYMTAB: symtab = scn; break;
        case SHT_DYNSYM: dynsym = scn; break;
        case SHT_NOTE: if (build_id.empty()) read_build_id(scn); break;
        case SHT_DYNAMIC: read_dynamic(scn, shdr); break;
        case SHT_GNU_versym: versym = scn; break;
        case SHT_GNU_verdef: verdef = scn; break;
        case SHT_GNU_verneed: verneed = scn; break;
        default: break;
      }
    }
  }

  // Version index of .dynsym entry `index`, with kVersionHidden; VER_NDX_GLOBAL when the object
  // has no version table.
  GElf_Versym version_index(size_t index) const {
    if (!versym) return VER_NDX_GLOBAL;
    GElf_Versym version;
    if (!gelf_getversym(data_of(versym), static_cast<int>(index), &version))
      fail_libelf("read a symbol version");
    return version;
  }

  // Name of version index `index` (kVersionHidden cleared), defined here or required of another
  // object; "" for the unversioned indices.
  std::string version_name(GElf_Versym index) const {
    if (index <= VER_NDX_GLOBAL) return "";
    if (verdef) {
      GElf_Shdr shdr = header_of(verdef);
      Elf_Data* data = data_of(verdef);
      size_t at = 0;
      for (size_t i = 0; i < shdr.sh_info; ++i) {
        GElf_Verdef def;
        GElf_Verdaux aux;
        if (!gelf_getverdef(data, static_cast<int>(at), &def) ||
            !gelf_getverdaux(data, static_cast<int>(at + def.vd_aux), &aux))
          fail_libelf("read a version definition");
        if (def.vd_ndx == index) return string_at(shdr.sh_link, aux.vda_name);
        if (def.vd_next == 0) break;
        at += def.vd_next;
      }
    }
    if (verneed) {
      GElf_Shdr shdr = header_of(verneed);
      Elf_Data* data = data_of(verneed);
      size_t at = 0;
      for (size_t i = 0; i < shdr.sh_info; ++i) {
        GElf_Verneed need;
        if (!gelf_getverneed(data, static_cast<int>(at), &need)) fail_libelf("read a version need");
        size_t aux_at = at + need.vn_aux;
        for (size_t j = 0; j < need.vn_cnt; ++j) {
          GElf_Vernaux aux;
          if (!gelf_getvernaux(data, static_cast<int>(aux_at), &aux))
            fail_libelf("read a version need");
          if (aux.vna_other == index) return string_at(shdr.sh_link, aux.vna_name);
          if (aux.vna_next == 0) break;
          aux_at += aux.vna_next;
        }
        if (need.vn_next == 0) break;
        at += need.vn_next;
      }
    }
    return "";
  }

  std::string string_at(size_t strtab, size_t offset) const {
    const char* text = elf_strptr(elf, strtab, offset);
    if (!text) fail_libelf("read a version name");
    return text;
  }

  // GOT relocations against `name` in every relocation section of .dynsym (.rela.dyn, .rela.plt).
  std::vector<Relocation> relocations(std::string_view name) const {
    std::vector<Relocation> found;
    if (!dynsym) return found;
    Elf_Data* symbol_data = data_of(dynsym);
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
      GElf_Shdr shdr = header_of(scn);
      if (shdr.sh_type != SHT_RELA || shdr.sh_link != elf_ndxscn(dynsym)) continue;
      Elf_Data* relocs = data_of(scn);
      for (size_t i = 0, n = shdr.sh_entsize ? shdr.sh_size / shdr.sh_entsize : 0; i < n; ++i) {
        GElf_Rela rela;
        if (!gelf_getrela(relocs, static_cast<int>(i), &rela)) fail_libelf("read a relocation");
        auto type = GELF_R_TYPE(rela.r_info);
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
        size_t symbol = GELF_R_SYM(rela.r_info);
        if (symbol_at(dynsym, symbol_data, symbol).second != name) continue;
        found.push_back({rela.r_offset, type == R_X86_64_JUMP_SLOT,
                         version_name(version_index(symbol) & kVersionIndex)});
      }
    }
    return found;
  }
};

ElfObject::ElfObject(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ElfObject::ElfObject(ElfObject&&) noexcept = default;
ElfObject& ElfObject::operator=(ElfObject&&) noexcept = default;
ElfObject::~ElfObject() = default;

ElfObject ElfObject::open(const std::string& path) {
  if (elf_version(EV_CURRENT) == EV_NONE)
    throw AnalysisError(fmt::format("libelf is unusable: {}", libelf_error()));
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (impl->fd < 0) fail(path, fmt::format("cannot open: {}", std::strerror(errno)));
  struct stat st {};
  if (fstat(impl->fd, &st) == 0 && !S_ISREG(st.st_mode))
    fail(path, S_ISDIR(st.st_mode) ? "is a directory; give an executable or shared library"
                                   : "not a regular file; give an executable or shared library");
  impl->elf = elf_begin(impl->fd, ELF_C_READ_MMAP, nullptr);
  if (!impl->elf) impl->fail_libelf("read as ELF");
  if (elf_kind(impl->elf) != ELF_K_ELF)
    fail(path, "not an ELF file; give an executable or shared library");
  char* image = elf_rawfile(impl->elf, &impl->image_size);
  if (!image) impl->fail_libelf("map the file");
  impl->image = reinterpret_cast<const uint8_t*>(image);
  GElf_Ehdr ehdr;
  if (!gelf_getehdr(impl->elf, &ehdr))
    fail(path, fmt::format("truncated or corrupt ELF header ({}); re-copy or reinstall it",
                           libelf_error()));
  impl->check_header(ehdr);
  impl->shared_or_pie = ehdr.e_type == ET_DYN;
  impl->load_segments();
  impl->load_sections();
  return ElfObject(std::move(impl));
}

const std::string& ElfObject::path() const { return impl_->path; }
std::string ElfObject::build_id() const { return impl_->build_id; }
std::string ElfObject::soname() const { return impl_->soname; }
bool ElfObject::is_shared_or_pie() const { return impl_->shared_or_pie; }
const std::vector<std::string>& ElfObject::needed() const { return impl_->needed; }
const std::vector<Segment>& ElfObject::segments() const { return impl_->segments; }

std::optional<Symbol> ElfObject::find_symbol(std::string_view name) const {
  std::optional<Symbol> found;
  impl_->for_each_defined_symbol([&](const GElf_Sym& sym, std::string_view sym_name) {
    if (sym_name != name) return false;
    found = Symbol{std::string(sym_name), sym.st_value, sym.st_size};
    return true;
  });
  return found;
}

std::optional<Symbol> ElfObject::defines_dynamic(std::string_view name,
                                                 std::string_view version) const {
  if (!impl_->dynsym) return std::nullopt;
  Elf_Data* data = impl_->data_of(impl_->dynsym);
  for (size_t i = 1, n = impl_->symbol_count(impl_->dynsym); i < n; ++i) {
    auto [sym, sym_name] = impl_->symbol_at(impl_->dynsym, data, i);
    int bind = GELF_ST_BIND(sym.st_info);
    if (sym_name != name || sym.st_shndx == SHN_UNDEF || sym.st_value == 0 ||
        (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE))
      continue;
    // glibc's rule (check_match in dl-lookup.c), simplified: a versioned reference takes that
    // version or an unversioned definition; an unversioned one takes the default (non-hidden).
    GElf_Versym index = impl_->version_index(i);
    bool hidden = (index & kVersionHidden) != 0;
    index &= kVersionIndex;
    bool matches = (version.empty() || index <= VER_NDX_GLOBAL)
                       ? !hidden
                       : impl_->version_name(index) == version;
    if (matches) return Symbol{std::string(sym_name), sym.st_value, sym.st_size};
  }
  return std::nullopt;
}

std::vector<Relocation> ElfObject::relocations_for(std::string_view name) const {
  return impl_->relocations(name);
}

std::optional<Symbol> ElfObject::function_at_or_before(uint64_t vaddr) const {
  const auto& functions = impl_->sorted_functions();
  auto after = impl_->first_function_after(vaddr);
  if (after == functions.begin()) return std::nullopt;
  return *std::prev(after);
}

std::optional<Symbol> ElfObject::symbol_containing(uint64_t vaddr) const {
  // Symbols may nest or alias (same start, different sizes): look back over all that start
  // at or before the address, nearest first.
  const auto& functions = impl_->sorted_functions();
  auto after = impl_->first_function_after(vaddr);
  for (auto it = after; it != functions.begin();) {
    --it;
    if (vaddr - it->vaddr < it->size) return *it;
  }
  return std::nullopt;
}

std::optional<uint64_t> ElfObject::next_function_after(uint64_t vaddr) const {
  const auto& functions = impl_->sorted_functions();
  auto after = impl_->first_function_after(vaddr);
  if (after == functions.end()) return std::nullopt;
  return after->vaddr;
}

std::optional<uint64_t> ElfObject::plt_stub_for(std::string_view name) const {
  auto relocations = impl_->relocations(name);
  auto jump_slot = std::find_if(relocations.begin(), relocations.end(),
                                [](const Relocation& r) { return r.lazy; });
  if (jump_slot == relocations.end()) return std::nullopt;
  uint64_t slot = jump_slot->slot;
  Disassembler disassembler;
  // Classic lazy PLTs jump through the slot from .plt; IBT PLTs from .plt.sec, each stub
  // starting with the endbr64 that indirect-branch tracking requires at a call target.
  for (std::string_view section : {".plt", ".plt.sec"}) {
    Elf_Scn* scn = impl_->section_named(section);
    if (!scn) continue;
    GElf_Shdr shdr = impl_->header_of(scn);
    Elf_Data* data = impl_->data_of(scn);
    auto code = std::span(static_cast<const uint8_t*>(data->d_buf), data->d_size);
    auto listing = disassembler.disassemble(code, shdr.sh_addr);
    const cs_insn* previous = nullptr;
    for (const cs_insn& insn : listing.instructions()) {
      const cs_x86& x86 = insn.detail->x86;
      if (insn.id == X86_INS_JMP && x86.op_count == 1 && x86.operands[0].type == X86_OP_MEM &&
          x86.operands[0].mem.base == X86_REG_RIP &&
          x86.operands[0].mem.index == X86_REG_INVALID &&
          insn.address + insn.size + x86.operands[0].mem.disp == slot)
        return previous && previous->id == X86_INS_ENDBR64 ? previous->address : insn.address;
      previous = &insn;
    }
  }
  return std::nullopt;
}

std::vector<uint8_t> ElfObject::read(uint64_t vaddr, uint64_t len) const {
  const Segment* seg = impl_->segment_holding(vaddr, len);
  if (!seg)
    fail(impl_->path, fmt::format("cannot read {} bytes at {:#x}: not in the file image of a "
                                  "loadable segment",
                                  len, vaddr));
  const uint8_t* begin = impl_->image + seg->file_offset + (vaddr - seg->vaddr);
  return {begin, begin + len};
}

std::optional<uint64_t> ElfObject::file_offset_of(uint64_t vaddr) const {
  const Segment* seg = impl_->segment_holding(vaddr, 1);
  if (!seg) return std::nullopt;
  return seg->file_offset + (vaddr - seg->vaddr);
}

}  // namespace ut::analysis
