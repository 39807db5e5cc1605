#pragma once
// The listener: HTTP/1.1 on one port, handing requests to the api::Router and websocket
// upgrades to an UpgradeHandler. Beast/Asio stay behind this interface (pimpl).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cxg/api/router.hpp"
#include "cxg/metrics/registry.hpp"
#include "cxg/relay/hub.hpp"

namespace cxg::transport {

struct ServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 6060;   // 0 = any free port
  std::string tls_cert_file, tls_key_file;
  unsigned io_threads = 2;
  unsigned worker_threads = 16;        // blocking handlers (store)
  unsigned registration_threads = 16;  // registrations (validator HTTP calls), kept apart
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 64 * 1024;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds keepalive_idle{120'000};
  std::chrono::seconds tcp_keepalive{15};

  // Websockets (wire-protocol.md §9)
  std::chrono::milliseconds ping_interval{30'000};
  std::chrono::milliseconds idle_timeout{90'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds first_frame_timeout{10'000};
  std::uint64_t max_bridge_message_bytes = 32ull << 20;
  std::uint64_t max_executor_message_bytes = 64ull << 20;
};

class HttpServer {
 public:
  HttpServer(ServerOptions opts, const api::Router& router, metrics::Registry& metrics, relay::Hub& hub);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the I/O and worker threads. Throws std::runtime_error on bind failure.
  void start();
  std::uint16_t port() const;
  // Drain: stop accepting, close idle keep-alive connections, let in-flight requests finish.
  void stop_accepting();
  // Waits until no HTTP or websocket session is active or the deadline passes; true if idle.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);
  // Stops all threads; pending connections are dropped.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cxg::transport
