#include <signal.h>

#include "commands/commands.h"

namespace ut::commands {

namespace {

std::atomic<bool> stop_flag{false};

void request_stop(int) { stop_flag.store(true); }

}  // namespace

const std::atomic<bool>& stop_requested() { return stop_flag; }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a waiting poll() returns at once
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace ut::commands
