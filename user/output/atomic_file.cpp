#include "output/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "errors.h"

namespace ut::output {

void write_file_atomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) {
      int err = errno;
      std::remove(tmp.c_str());
      throw UserError(ExitCode::Usage, fmt::format("cannot write {}: {}", path, std::strerror(err)));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    throw UserError(ExitCode::Usage, fmt::format("cannot write {}: {}", path, std::strerror(err)));
  }
}

void check_output_path(const std::string& path) {
  namespace fs = std::filesystem;
  if (path == "-") return;
  std::error_code error;
  if (fs::is_directory(path, error))
    throw UserError(ExitCode::Usage,
                    fmt::format("cannot write {}: it is a directory; name a file, e.g. {}/report.json",
                                path, fs::path(path).lexically_normal().string()));
  fs::path directory = fs::path(path).parent_path();
  if (directory.empty()) directory = ".";
  if (!fs::is_directory(directory, error))
    throw UserError(ExitCode::Usage, fmt::format("cannot write {}: no directory {}", path, directory.string()));
  if (access(directory.c_str(), W_OK) != 0)
    throw UserError(ExitCode::Usage, fmt::format("cannot write {}: cannot create files in {}: {}", path,
                                                 directory.string(), std::strerror(errno)));
}

}  // namespace ut::output
