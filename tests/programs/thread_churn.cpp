// Says "ready", then for each line "churn N K" on stdin starts N threads one after another, each
// throwing and catching K exceptions and raising SIGUSR1 K times (a handler counts nothing)
// before it ends, and answers "churned N". With GNU libunwind first in DT_NEEDED every catch
// resumes through its setcontext: the tracer sees threads that come, resume, take signals and go
// while it is attached, and must prune their map entries without losing their counts.
#include <csignal>
#include <cstdio>
#include <thread>

__attribute__((noinline)) static void throw_one() { throw 42; }

int main() {
  std::signal(SIGUSR1, [](int) {});
  std::puts("ready");
  std::fflush(stdout);
  unsigned threads = 0, throws = 0;
  while (std::scanf(" churn %u %u", &threads, &throws) == 2) {
    for (unsigned t = 0; t < threads; ++t)
      std::thread([throws] {
        for (unsigned i = 0; i < throws; ++i) {
          try {
            throw_one();
          } catch (...) {
          }
          std::raise(SIGUSR1);
        }
      }).join();
    std::printf("churned %u\n", threads);
    std::fflush(stdout);
  }
  return 0;
}
