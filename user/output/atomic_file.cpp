#include "output/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "errors.h"

namespace ut::output {

void write_file_atomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush())
      throw UserError(ExitCode::Usage, fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw UserError(ExitCode::Usage, fmt::format("cannot write {}: {}", path, std::strerror(errno)));
}

}  // namespace ut::output
