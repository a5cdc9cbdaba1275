#include "commands/bundled_workload.h"

#include <limits.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "errors.h"

namespace ut::commands {

std::string bundled_workload_path(const std::string& unwinder) {
  std::string name = "unwindtrace-workload-" + unwinder;
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    auto beside =
        std::filesystem::path(std::string(self, static_cast<size_t>(n))).parent_path() / "workload" / name;
    if (std::filesystem::exists(beside)) return beside;
  }
  auto built = std::filesystem::path(UT_WORKLOAD_DIR) / name;
  if (std::filesystem::exists(built)) return built;
  throw UserError(ExitCode::Usage, fmt::format("cannot find {}: build it first (scripts/setup.sh)", name));
}

void add_sender_option(CLI::App& cmd, std::string& sender) {
  cmd.add_option("--sender", sender,
                 "storm: 'wait' (a thread's next signal waits until its last is handled) or 'coalesce' "
                 "(signals go out on the sender's clock, whatever the thread does; the model's assumption)")
      ->check(CLI::IsMember({"wait", "coalesce"}))
      ->capture_default_str();
}

std::vector<std::string> sender_args(const std::string& sender) {
  if (sender == "coalesce") return {"--coalesce"};
  return {};
}

}  // namespace ut::commands
