// Serves the metrics over HTTP (cpp-httplib) on its own thread: GET /metrics. Binds to loopback
// unless an address is given explicitly: the endpoint says which processes run where.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace ut::output {

struct ListenAddress {
  std::string host = "127.0.0.1";
  int port = 0;
};

// "PORT" (loopback), "127.0.0.1:PORT", "[::1]:PORT", "0.0.0.0:PORT" (every interface, only when
// written out). Throws UserError(Usage) for anything else.
ListenAddress parse_listen_address(const std::string& text);

class MetricsServer {
 public:
  // Throws UserError(Usage) when the address cannot be bound (in use, not local).
  MetricsServer(const ListenAddress& address, std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  int port() const { return port_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace ut::output
