// Read-only view of one ELF object on disk (libelf): symbols, code bytes, build-id, PLT stubs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ut::analysis {

struct Symbol {
  std::string name;
  uint64_t vaddr = 0;  // st_value: link-time virtual address
  uint64_t size = 0;
};

// A dynamic relocation that makes the dynamic linker look a symbol up and store the address it
// finds in a GOT slot: what the object's calls to (or uses of) that symbol go through.
struct Relocation {
  uint64_t slot = 0;    // r_offset: link-time address of the GOT slot
  bool lazy = false;    // R_X86_64_JUMP_SLOT (may be bound at first call); else R_X86_64_GLOB_DAT
  std::string version;  // the symbol version the reference requires, "" if none
};

// One PT_LOAD segment, for mapping between link-time addresses and file offsets.
struct Segment {
  uint64_t vaddr = 0;
  uint64_t file_offset = 0;
  uint64_t file_size = 0;
  uint64_t mem_size = 0;
  bool executable = false;
};

class ElfObject {
 public:
  // Throws AnalysisError naming the path and what is wrong (not ELF, truncated, not x86-64, ...).
  static ElfObject open(const std::string& path);
  ElfObject(ElfObject&&) noexcept;
  ElfObject& operator=(ElfObject&&) noexcept;
  ~ElfObject();

  const std::string& path() const;
  std::string build_id() const;  // lower-case hex of NT_GNU_BUILD_ID, "" if absent
  std::string soname() const;    // DT_SONAME, "" if absent
  bool is_shared_or_pie() const; // ET_DYN
  const std::vector<std::string>& needed() const;  // DT_NEEDED, in order

  // Defined symbol by exact name: .symtab first, then .dynsym (stripped objects).
  std::optional<Symbol> find_symbol(std::string_view name) const;
  // Defined function symbol whose [vaddr, vaddr+size) contains the address.
  std::optional<Symbol> symbol_containing(uint64_t vaddr) const;
  // The function symbol starting at or before the address, nearest first: a known instruction
  // boundary to disassemble from when the address lies in code no symbol covers (static
  // functions of a stripped object).
  std::optional<Symbol> function_at_or_before(uint64_t vaddr) const;
  // Start of the first function symbol after the address: where a size-0 symbol's code ends.
  std::optional<uint64_t> next_function_after(uint64_t vaddr) const;
  // The definition the dynamic linker would take from this object (.dynsym only) for a reference
  // to `name` requiring `version` ("" = none): global or weak, with a matching version.
  std::optional<Symbol> defines_dynamic(std::string_view name, std::string_view version) const;
  // GOT relocations (JUMP_SLOT, GLOB_DAT) against `name`: where this object refers to it.
  std::vector<Relocation> relocations_for(std::string_view name) const;
  // Link-time address of the PLT stub that jumps through the GOT slot of `name`, if any.
  std::optional<uint64_t> plt_stub_for(std::string_view name) const;

  const std::vector<Segment>& segments() const;
  // Bytes of the file image at link-time address [vaddr, vaddr+len); throws if out of range.
  std::vector<uint8_t> read(uint64_t vaddr, uint64_t len) const;
  std::optional<uint64_t> file_offset_of(uint64_t vaddr) const;

 private:
  struct Impl;
  explicit ElfObject(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ut::analysis
