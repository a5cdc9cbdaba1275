#include "proc/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

extern char** environ;

namespace ut::proc {

namespace {

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::runtime_error("ChildProcess: empty command line");
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
    throw std::runtime_error(fmt::format("pipe: {}", strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  stdin_fd_ = in[1];
  out_.fd = out[0];
  err_.fd = err[0];
  if (rc != 0) {
    close_fd(stdin_fd_);
    close_fd(out_.fd);
    close_fd(err_.fd);
    throw std::runtime_error(fmt::format("cannot start {}: {}", argv[0], strerror(rc)));
  }
}

ChildProcess::~ChildProcess() {
  if (!status_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    wait(5.0);
  }
  close_fd(stdin_fd_);
  close_fd(out_.fd);
  close_fd(err_.fd);
}

void ChildProcess::write_stdin(const std::string& text) {
  if (stdin_fd_ < 0 || ::write(stdin_fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    throw std::runtime_error(fmt::format("cannot write to process {}: {}", pid_, strerror(errno)));
}

void ChildProcess::close_stdin() { close_fd(stdin_fd_); }

std::optional<std::string> ChildProcess::read_line(Stream& stream, double timeout_s) {
  double deadline = now_s() + timeout_s;
  for (;;) {
    auto newline = stream.buffer.find('\n');
    if (newline != std::string::npos) {
      std::string line = stream.buffer.substr(0, newline);
      stream.buffer.erase(0, newline + 1);
      return line;
    }
    double left = deadline - now_s();
    if (stream.fd < 0 || left <= 0) return std::nullopt;
    pollfd pfd{stream.fd, POLLIN, 0};
    int ready = poll(&pfd, 1, static_cast<int>(left * 1000) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char chunk[4096];
    ssize_t n = ::read(stream.fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close_fd(stream.fd);
      if (stream.buffer.empty()) return std::nullopt;
      std::string last;
      last.swap(stream.buffer);
      return last;
    }
    stream.buffer.append(chunk, static_cast<size_t>(n));
  }
}

std::string ChildProcess::read_rest(Stream& stream) {
  std::string out;
  out.swap(stream.buffer);
  char chunk[4096];
  while (stream.fd >= 0) {
    ssize_t n = ::read(stream.fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(chunk, static_cast<size_t>(n));
  }
  close_fd(stream.fd);
  return out;
}

std::optional<std::string> ChildProcess::read_stdout_line(double timeout_s) { return read_line(out_, timeout_s); }
std::optional<std::string> ChildProcess::read_stderr_line(double timeout_s) { return read_line(err_, timeout_s); }
std::string ChildProcess::read_stdout_rest() { return read_rest(out_); }
std::string ChildProcess::read_stderr_rest() { return read_rest(err_); }

void ChildProcess::send_signal(int sig) {
  if (!status_ && pid_ > 0) kill(pid_, sig);
}

std::optional<int> ChildProcess::wait(double timeout_s) {
  if (status_) return status_;
  double deadline = now_s() + timeout_s;
  for (;;) {
    int raw = 0;
    pid_t r = waitpid(pid_, &raw, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
      return status_;
    }
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (now_s() >= deadline) return std::nullopt;
    usleep(10000);
  }
}

}  // namespace ut::proc
