#include "output/metrics_server.h"

#include <charconv>

#include <fmt/format.h>
#include <httplib.h>

#include "errors.h"

namespace ut::output {

ListenAddress parse_listen_address(const std::string& text) {
  ListenAddress address;
  std::string port = text;
  auto colon = text.rfind(':');
  if (colon != std::string::npos) {
    address.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']')
      address.host = address.host.substr(1, address.host.size() - 2);
  }
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (address.host.empty() || ec != std::errc() || end != port.data() + port.size() || address.port < 0 ||
      address.port > 65535)
    throw UserError(ExitCode::Usage,
                    fmt::format("--metrics {}: expected PORT or ADDRESS:PORT, e.g. 127.0.0.1:9464", text));
  return address;
}

MetricsServer::MetricsServer(const ListenAddress& address, std::function<std::string()> render)
    : server_(std::make_unique<httplib::Server>()) {
  server_->Get("/metrics", [render](const httplib::Request&, httplib::Response& response) {
    response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  port_ = address.port ? (server_->bind_to_port(address.host, address.port) ? address.port : -1)
                       : server_->bind_to_any_port(address.host);
  if (port_ <= 0)
    throw UserError(ExitCode::Usage, fmt::format("--metrics: cannot listen on {}:{} (in use, or not an address "
                                                 "of this host?)", address.host, address.port));
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

MetricsServer::~MetricsServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ut::output
