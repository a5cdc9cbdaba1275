// libFuzzer target: arbitrary bytes as an ELF file on disk, through everything a host scan does
// with an object: ElfObject::open, the symbol and relocation lookups, build-id, soname, and
// analyse_object with the unwinder sweep on. AnalysisError is the expected rejection of a bad
// file; any other exception, crash, memory or file-descriptor leak, or undefined behaviour is a
// finding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "analysis/analysis_error.h"
#include "analysis/elf_object.h"
#include "analysis/object_analysis.h"

using namespace ut::analysis;

namespace {

// ElfObject::open takes a path: one memfd, rewritten for each input, named by /proc/self/fd.
struct InputFile {
  int fd = -1;
  std::string path;

  InputFile() {
    fd = memfd_create("fuzz_elf_object", MFD_CLOEXEC);
    if (fd < 0) std::abort();
    path = "/proc/self/fd/" + std::to_string(fd);
  }

  void write(const uint8_t* data, size_t size) {
    if (ftruncate(fd, 0) != 0) std::abort();
    for (size_t done = 0; done < size;) {
      ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
  }
};

// Each step on its own: a rejection by one lookup still lets the others run.
template <typename Step>
void attempt(Step step) {
  try {
    step();
  } catch (const AnalysisError&) {
  }
}

// Names the analysis looks up, and one that a PLT stub in the fixtures jumps to.
const char* const kNames[] = {"_Unwind_RaiseException", "_Unwind_GetIP", "_Ux86_64_setcontext",
                              "__libc_start_main",      "setcontext",    "longjmp",
                              "__longjmp",              "_Unwind_Resume"};

// The lowest free descriptor number: higher after an input than before it if the analysis kept
// a descriptor open (ElfObject holds one per object while it lives).
int lowest_free_fd(int any_open_fd) {
  int fd = dup(any_open_fd);
  if (fd < 0) std::abort();
  close(fd);
  return fd;
}

void analyse(const std::string& path) {
  std::vector<ElfObject> opened;
  attempt([&] { opened.push_back(ElfObject::open(path)); });
  if (opened.empty()) return;
  const ElfObject& elf = opened.front();

  attempt([&] {
    (void)elf.build_id();
    (void)elf.soname();
    (void)elf.needed();
    (void)elf.is_shared_or_pie();
  });
  for (const char* name : kNames) {
    attempt([&] { (void)elf.find_symbol(name); });
    attempt([&] { (void)elf.defines_dynamic(name, ""); });
    attempt([&] { (void)elf.defines_dynamic(name, "GCC_3.0"); });
    attempt([&] { (void)elf.relocations_for(name); });
    attempt([&] { (void)elf.plt_stub_for(name); });
  }

  // Address lookups at the edges of each loadable segment.
  std::vector<std::string> user_symbols;
  for (const Segment& segment : elf.segments()) {
    for (uint64_t vaddr : {segment.vaddr, segment.vaddr + segment.file_size / 2,
                           segment.vaddr + segment.file_size}) {
      attempt([&] {
        (void)elf.symbol_containing(vaddr);
        (void)elf.next_function_after(vaddr);
        (void)elf.file_offset_of(vaddr);
        if (auto before = elf.function_at_or_before(vaddr))
          if (user_symbols.size() < 2) user_symbols.push_back(before->name);
      });
    }
    attempt([&] { (void)elf.read(segment.vaddr, std::min<uint64_t>(segment.file_size, 64)); });
  }

  // The whole analysis, as `scan` runs it; the functions found above stand for --routine.
  attempt([&] {
    AnalysisOptions options;
    options.sweep_unwinders = true;
    options.extra_symbols = user_symbols;
    ObjectAnalysis analysis = analyse_object(elf, options);
    for (const HazardousRoutine& routine : analysis.routines) (void)verdict(routine);
    (void)analysis.exposed();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static InputFile file;
  file.write(data, size);
  int free_before = lowest_free_fd(file.fd);
  analyse(file.path);
  if (lowest_free_fd(file.fd) != free_before) std::abort();  // a file descriptor leaked
  return 0;
}
