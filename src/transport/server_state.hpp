#pragma once
// State shared by the listener and its sessions (Beast chat-multi's "shared_state").
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "cxg/api/router.hpp"
#include "cxg/metrics/registry.hpp"
#include "cxg/transport/http_server.hpp"

namespace cxg::transport {

class HttpSessionBase;

struct ServerState {
  ServerState(ServerOptions o, const api::Router& r, metrics::Registry& m, relay::Hub& h)
      : opts(std::move(o)), router(r), metrics(m), hub(h), workers(opts.worker_threads),
        registration_workers(opts.registration_threads) {}

  const ServerOptions opts;
  const api::Router& router;
  metrics::Registry& metrics;
  relay::Hub& hub;
  std::atomic<std::size_t> websockets{0};
  boost::asio::io_context ioc;
  boost::asio::thread_pool workers;
  // Registrations wait on the validator; a storm of them against a hung validator filled the
  // shared pool and held bridge admissions ~10 s (tests/integration/test_faults_validator.py).
  boost::asio::thread_pool registration_workers;
  std::atomic<bool> draining{false};
  std::optional<boost::asio::ssl::context> tls;  // set when the listener speaks TLS

  // Live sessions, so a drain can close the idle keep-alive ones.
  std::mutex sessions_mu;
  std::unordered_map<HttpSessionBase*, std::weak_ptr<HttpSessionBase>> sessions;
  std::size_t session_count() {
    std::lock_guard lk(sessions_mu);
    return sessions.size() + websockets.load();
  }
};

}  // namespace cxg::transport
