// Command-line options of the unwindtrace workload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace workload {

struct Options {
  unsigned threads = 1;
  unsigned depth = 2;
  std::size_t padding = 16384;
  std::size_t handler_stack = 0;
  double signal_rate = 20000.0;  // Hz, 0 = no storm
  int signal = 0;                // resolved signal number (SIGPROF by default)
  std::string signal_name;       // as given on the command line
  bool itimer = false;
  bool altstack = false;
  unsigned batch_us = 1000;
  unsigned senders = 1;   // tgkill sender threads, each with its share of the workers
  bool coalesce = false;  // tgkill sender: send at the rate even to threads with one pending
  double duration_s = 10.0;
  bool wait_for_go = false;
  std::uint64_t stop_after_window_hits = 0;  // 0 = never
  std::vector<std::size_t> window_offsets;
  std::string json_path;  // empty = stdout
  bool pretty = false;
  bool quiet = false;
};

// Parses argv. On --help prints usage and exits 0; on a bad option prints one line
// "<prog>: error: ..." to stderr and exits 2.
Options parse_options(int argc, char** argv);


}  // namespace workload
