// The metrics endpoint, scraped by a real Prometheus (Debian's package) on loopback: the value
// Prometheus returns through its HTTP API must be the count unwindtrace wrote in its records.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "record_support.h"
#include "runtime_support.h"

namespace ut::runtime_test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

int free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Prometheus on loopback with its own config and data directory, scraping `target` every second.
class Prometheus {
 public:
  explicit Prometheus(const std::string& target) : port_(free_loopback_port()) {
    dir_ = fs::temp_directory_path() / fmt::format("ut-prometheus-{}", getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    std::ofstream(dir_ / "prometheus.yml") << fmt::format(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: unwindtrace\n    static_configs:\n      - targets: ['{}']\n",
        target);
    child_ = std::make_unique<proc::ChildProcess>(std::vector<std::string>{
        "prometheus", "--config.file=" + (dir_ / "prometheus.yml").string(),
        "--storage.tsdb.path=" + (dir_ / "data").string(), fmt::format("--web.listen-address=127.0.0.1:{}", port_),
        "--log.level=warn"});
  }
  ~Prometheus() {
    child_->send_signal(SIGTERM);
    child_->wait(20);
    child_.reset();
    fs::remove_all(dir_);
  }
  // The instant value of `query`, if Prometheus has one.
  std::optional<double> query(const std::string& promql) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(1);
    auto response = client.Get("/api/v1/query", httplib::Params{{"query", promql}}, httplib::Headers{});
    if (!response || response->status != 200) return std::nullopt;
    auto body = json::parse(response->body, nullptr, false);
    if (body.is_discarded() || body["status"] != "success" || body["data"]["result"].empty()) return std::nullopt;
    return std::stod(body["data"]["result"][0]["value"][1].get<std::string>());
  }
  std::string log() { return child_->read_stderr_rest(); }

 private:
  int port_;
  fs::path dir_;
  std::unique_ptr<proc::ChildProcess> child_;
};

TEST(MetricsPrometheus, PrometheusScrapesWhatUnwindtraceCounted) {
  UT_REQUIRE_ROOT();
  if (std::system("command -v prometheus >/dev/null 2>&1") != 0) {
    if (skipping_forbidden()) FAIL() << "prometheus missing: scripts/setup.sh installs it";
    GTEST_SKIP() << "SKIPPING: prometheus missing (scripts/setup.sh installs it)";
  }
  Workload workload("gnu", {"--threads", "1", "--signal-rate", "2000", "--duration", "3"});
  RecordRun run({"-p", std::to_string(workload.pid()), "--metrics", "127.0.0.1:0", "--duration", "60",
                 "--segment-s", "0.5", "--rescan-s", "0.5"});
  // Not -q for this line: it says which port the kernel gave the endpoint.
  std::optional<std::string> line;
  std::smatch port;
  while ((line = run.process().read_stderr_line(20)) && !std::regex_search(*line, port, std::regex("metrics on port (\\d+)"))) {
  }
  ASSERT_TRUE(line) << "no metrics line: " << run.process().read_stderr_rest();
  std::string target = "127.0.0.1:" + port[1].str();

  Prometheus prometheus(target);
  workload.go();
  workload.finish(30);

  // The workload has exited: unwindtrace writes its final record and its counters stop moving.
  json final_record;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < until) {
    final_record = run.last_process_record(workload.pid());
    if (!final_record.is_null() && final_record["target_exited"].get<bool>()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_FALSE(final_record.is_null());
  ASSERT_TRUE(final_record["target_exited"].get<bool>());
  // Each record covers one segment; the counter covers them all.
  double counted = 0;
  for (const auto& r : run.records())
    if (r["kind"] == "process" && r["pid"] == workload.pid()) counted += r["counts"]["signals"].get<double>();
  ASSERT_GT(counted, 0);

  std::string promql = fmt::format("unwindtrace_signals_total{{pid=\"{}\"}}", workload.pid());
  std::optional<double> scraped;
  until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until) {
    scraped = prometheus.query(promql);
    if (scraped && *scraped == counted) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(scraped) << "Prometheus has no " << promql;
  EXPECT_EQ(*scraped, counted) << promql;
  auto records_written = prometheus.query("unwindtrace_records_written_total");
  ASSERT_TRUE(records_written);
  EXPECT_GE(*records_written, 2);  // the host record and at least the final process record

  run.process().send_signal(SIGTERM);
  EXPECT_EQ(run.process().wait(30), 0);
}

// Loopback unless told otherwise: the endpoint says which processes run where.
TEST(MetricsPrometheus, EndpointBindsToLoopbackByDefault) {
  UT_REQUIRE_ROOT();
  RecordRun run({"--metrics", "0", "--duration", "5", "-p", "1"});
  std::optional<std::string> line;
  std::smatch port;
  while ((line = run.process().read_stderr_line(20)) && !std::regex_search(*line, port, std::regex("metrics on port (\\d+)"))) {
  }
  ASSERT_TRUE(line);
  std::ifstream tcp("/proc/net/tcp");
  std::string text((std::istreambuf_iterator<char>(tcp)), std::istreambuf_iterator<char>());
  // Listening sockets (state 0A) on the port: local address 0100007F (127.0.0.1) only.
  std::regex listen(fmt::format("([0-9A-F]{{8}}):{:04X} 00000000:0000 0A", std::stoi(port[1].str())));
  size_t listeners = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), listen), end; it != end; ++it) {
    ++listeners;
    EXPECT_EQ((*it)[1].str(), "0100007F");
  }
  EXPECT_EQ(listeners, 1u);
  run.process().send_signal(SIGTERM);
  run.process().wait(30);
}

}  // namespace
}  // namespace ut::runtime_test
