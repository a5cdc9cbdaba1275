// Seed extractor for fuzz_analyse_routine: writes the machine code of real routines, found by
// the project's own analysis, as one file each.
// Usage: fuzz_seed_routines OUTDIR OBJECT...
// Per object: every routine analyse_object reports (known, called, swept), then the first
// function symbols of up to kMaxSize bytes, for ordinary code. Unreadable objects are skipped.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <fmt/format.h>

#include "analysis/analysis_error.h"
#include "analysis/elf_object.h"
#include "analysis/object_analysis.h"

using namespace ut::analysis;

namespace {

constexpr uint64_t kMaxSize = 4096;      // what the kernel side can watch of one routine
constexpr int kFunctionsPerObject = 24;  // ordinary functions besides the hazardous ones

void write_seed(const std::filesystem::path& dir, const ElfObject& elf, const Symbol& symbol,
                int& written) {
  uint64_t size = std::min(symbol.size, kMaxSize);
  if (size == 0) return;
  auto bytes = elf.read(symbol.vaddr, size);
  auto name = fmt::format("{}_{:x}.bin", std::filesystem::path(elf.path()).filename().string(),
                          symbol.vaddr);
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(size));
  ++written;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUTDIR OBJECT...\n", argv[0]);
    return 2;
  }
  std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  for (int i = 2; i < argc; ++i) {
    int written = 0;
    try {
      ElfObject elf = ElfObject::open(argv[i]);
      std::set<uint64_t> done;
      ObjectAnalysis analysis = analyse_object(elf);
      for (const HazardousRoutine& routine : analysis.routines)
        if (done.insert(routine.symbol.vaddr).second)
          write_seed(dir, elf, routine.symbol, written);
      int functions = 0;
      for (auto at = elf.next_function_after(0); at && functions < kFunctionsPerObject;
           at = elf.next_function_after(*at)) {
        auto symbol = elf.symbol_containing(*at);
        if (!symbol || symbol->vaddr != *at || symbol->size > kMaxSize) continue;
        if (!done.insert(*at).second) continue;
        try {
          write_seed(dir, elf, *symbol, written);
          ++functions;
        } catch (const AnalysisError&) {
        }
      }
      std::printf("%s: %d routines\n", argv[i], written);
    } catch (const AnalysisError& e) {
      std::printf("skipped: %s\n", e.what());
    }
  }
  return 0;
}
