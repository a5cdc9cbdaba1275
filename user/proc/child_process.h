// A child process with pipes to its stdin and from its stdout/stderr: how `demo` drives the
// bundled workload and how runtime tests drive both the workload and the tool itself.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace ut::proc {

class ChildProcess {
 public:
  // Starts argv[0] (searched in PATH) with the given arguments; throws std::runtime_error.
  explicit ChildProcess(const std::vector<std::string>& argv);
  ~ChildProcess();  // kills and reaps a child still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void write_stdin(const std::string& text);
  void close_stdin();
  // Next line of stdout / stderr (without the newline), or nullopt on EOF or timeout.
  std::optional<std::string> read_stdout_line(double timeout_s);
  std::optional<std::string> read_stderr_line(double timeout_s);
  // Everything left on stdout / stderr until EOF.
  std::string read_stdout_rest();
  std::string read_stderr_rest();
  void send_signal(int sig);
  // Exit status as a shell reports it (128+signal when killed); nullopt on timeout.
  std::optional<int> wait(double timeout_s);

 private:
  struct Stream {
    int fd = -1;
    std::string buffer;
  };
  std::optional<std::string> read_line(Stream& stream, double timeout_s);
  std::string read_rest(Stream& stream);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  Stream out_, err_;
  std::optional<int> status_;
};

}  // namespace ut::proc
