#include "cxg/transport/http_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "cxg/common/log.hpp"
#include "http_session.hpp"

namespace cxg::transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  Impl(ServerOptions o, const api::Router& r, metrics::Registry& m, relay::Hub& h)
      : state(std::move(o), r, m, h), acceptor(asio::make_strand(state.ioc)) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(state.ioc), [this](boost::system::error_code ec, tcp::socket sock) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        tune(sock);
        if (state.tls)
          std::make_shared<HttpSession<TlsStream>>(TlsStream(std::move(sock), *state.tls), state)->run();
        else
          std::make_shared<HttpSession<PlainStream>>(PlainStream(std::move(sock)), state)->run();
      } else if (out_of_resources(ec)) {
        return pause_accepting(ec);
      } else {
        log::warn("accept failed", {{"error", ec.message()}});
      }
      if (accept_paused) {
        accept_paused = false;
        log::info("accepting connections again");
      }
      accept();
    });
  }

  static bool out_of_resources(const boost::system::error_code& ec) {
    if (ec.category() != boost::system::system_category()) return false;
    const int e = ec.value();
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
  }

  // Out of descriptors or memory, accept() fails again at once: retrying immediately spun a
  // core and logged ~25 MB/s (found by tests/integration/test_faults_connections.py). Retry
  // after a pause instead, logging once per episode; new connections wait in the backlog.
  void pause_accepting(const boost::system::error_code& ec) {
    // strerror, not ec.message(): no virtual call while out of descriptors (UBSan's vptr
    // check needs a pipe to inspect memory and fails there, see test_faults_connections.py).
    if (!accept_paused) log::warn("accept failed, pausing accepts", {{"error", std::strerror(ec.value())}});
    accept_paused = true;
    accept_retry.expires_after(kAcceptRetryDelay);
    accept_retry.async_wait([this](boost::system::error_code wait_ec) {
      if (wait_ec || !acceptor.is_open()) return;
      accept();
    });
  }

  // TCP_NODELAY everywhere (small JSON-RPC frames); keepalive finds dead peers.
  void tune(tcp::socket& sock) {
    boost::system::error_code ec;
    sock.set_option(tcp::no_delay(true), ec);
    sock.set_option(asio::socket_base::keep_alive(true), ec);
    const int idle = static_cast<int>(state.opts.tcp_keepalive.count());
    ::setsockopt(sock.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    ::setsockopt(sock.native_handle(), IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle);
  }

  static constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

  ServerState state;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry{acceptor.get_executor()};  // same strand as the acceptor
  bool accept_paused = false;                                 // touched on that strand only
  std::vector<std::thread> threads;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
};

HttpServer::HttpServer(ServerOptions opts, const api::Router& router, metrics::Registry& metrics, relay::Hub& hub)
    : impl_(std::make_unique<Impl>(std::move(opts), router, metrics, hub)) {}

HttpServer::~HttpServer() { stop(); }

namespace {

// TLS 1.2+ with the operator's certificate chain and key (PEM).
void load_tls(std::optional<asio::ssl::context>& tls, const ServerOptions& o) {
  if (o.tls_cert_file.empty()) return;
  namespace ssl = asio::ssl;
  tls.emplace(ssl::context::tls_server);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  boost::system::error_code ec;
  tls->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) throw std::runtime_error("CXG_TLS_CERT_FILE: cannot load " + o.tls_cert_file + ": " + ec.message());
  tls->use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
  if (ec) throw std::runtime_error("CXG_TLS_KEY_FILE: cannot load " + o.tls_key_file + ": " + ec.message());
}

}  // namespace

void HttpServer::start() {
  load_tls(impl_->state.tls, impl_->state.opts);
  auto& a = impl_->acceptor;
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(impl_->state.opts.host, ec);
  if (ec) throw std::runtime_error("CXG_LISTEN: invalid address " + impl_->state.opts.host);
  const tcp::endpoint ep(addr, impl_->state.opts.port);
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  a.bind(ep, ec);
  if (ec) throw std::runtime_error("cannot listen on " + impl_->state.opts.host + ":" +
                                   std::to_string(impl_->state.opts.port) + ": " + ec.message());
  a.listen(asio::socket_base::max_listen_connections);
  impl_->work.emplace(impl_->state.ioc.get_executor());
  impl_->accept();
  for (unsigned i = 0; i < impl_->state.opts.io_threads; ++i)
    impl_->threads.emplace_back([this] { impl_->state.ioc.run(); });
}

std::uint16_t HttpServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void HttpServer::stop_accepting() {
  impl_->state.draining = true;
  asio::post(impl_->acceptor.get_executor(), [this] {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
  });
  std::vector<std::shared_ptr<HttpSessionBase>> live;
  {
    std::lock_guard lk(impl_->state.sessions_mu);
    for (auto& [_, w] : impl_->state.sessions)
      if (auto s = w.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) s->close_if_idle();
}

bool HttpServer::wait_idle(std::chrono::steady_clock::time_point deadline) {
  while (impl_->state.session_count() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->work.reset();
  impl_->state.ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
  impl_->state.workers.stop();
  impl_->state.registration_workers.stop();
  impl_->state.workers.join();
  impl_->state.registration_workers.join();
}

}  // namespace cxg::transport
