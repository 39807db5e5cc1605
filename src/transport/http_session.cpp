#include "http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>

#include "cxg/common/log.hpp"
#include "relay_sessions.hpp"

namespace cxg::transport {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

bool is_loopback(const asio::ip::address& a) {
  if (a.is_loopback()) return true;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  return false;
}

std::string address_text(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

// Splits the request-target into decoded path segments and query parameters.
bool parse_target(std::string_view target, api::Request& out) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return false;
  for (auto seg : url->segments()) out.segments.emplace_back(seg);
  for (auto p : url->params()) out.query.emplace_back(p.key, p.has_value ? p.value : std::string());
  return true;
}

}  // namespace

template <class Stream>
HttpSession<Stream>::HttpSession(Stream&& stream, ServerState& state)
    : stream_(std::move(stream)), state_(state) {
  boost::system::error_code ec;
  const auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
  if (!ec) {
    peer_ip_ = address_text(ep.address());
    peer_loopback_ = is_loopback(ep.address());
  }
}

template <class Stream>
HttpSession<Stream>::~HttpSession() {
  std::lock_guard lk(state_.sessions_mu);
  state_.sessions.erase(this);
}

template <class Stream>
void HttpSession<Stream>::run() {
  {
    std::lock_guard lk(state_.sessions_mu);
    state_.sessions.emplace(this, std::weak_ptr<HttpSessionBase>(this->shared_from_this()));
  }
  asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
    if constexpr (kIsTls<Stream>) {
      beast::get_lowest_layer(self->stream_).expires_after(self->state_.opts.header_timeout);
      self->stream_.async_handshake(asio::ssl::stream_base::server,
                                    [self](beast::error_code ec) { self->on_handshake(ec); });
    } else {
      self->read_request();
    }
  });
}

template <class Stream>
void HttpSession<Stream>::on_handshake(beast::error_code ec) {
  if (ec) {
    log::debug("TLS handshake failed", {{"peer", peer_ip_}, {"error", ec.message()}});
    return close();
  }
  read_request();
}

template <class Stream>
void HttpSession<Stream>::close_if_idle() {
  asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
    if (self->idle_) self->close();
  });
}

template <class Stream>
void HttpSession<Stream>::read_request() {
  if (state_.draining) return close();
  if (first_request_ || buffer_.size() > 0) return read_message();
  // A kept-alive connection may stay silent for keepalive_idle. Only its next request's
  // first bytes end that allowance; from then on the header timeout applies, so a client
  // trickling header bytes cannot hold the connection for 120 s (slowloris; found by
  // tests/integration/test_faults_connections.py).
  idle_ = true;
  beast::get_lowest_layer(stream_).expires_after(state_.opts.keepalive_idle);
  stream_.async_read_some(buffer_.prepare(kFirstBytesChunk),
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                            self->buffer_.commit(n);
                            if (ec) return self->close();  // EOF, idle timeout, drain, reset
                            self->read_message();
                          });
}

template <class Stream>
void HttpSession<Stream>::read_message() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(state_.opts.header_limit));
  parser_->body_limit(state_.opts.body_limit);
  // The whole request (header, and the small body it may carry) within the header timeout.
  beast::get_lowest_layer(stream_).expires_after(state_.opts.header_timeout);
  idle_ = false;
  http::async_read(stream_, buffer_, *parser_,
                   [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

template <class Stream>
void HttpSession<Stream>::on_read(beast::error_code ec) {
  idle_ = false;
  first_request_ = false;
  if (ec == http::error::header_limit) return reject_unparsed(431, "request header fields too large");
  if (ec == http::error::body_limit) {
    api::Request partial;
    parse_target(parser_->get().target(), partial);
    auto res = api::Router::body_too_large(partial);
    return send(std::move(res), "body_too_large", false);
  }
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted)
    return close();
  if (ec) {
    // Any other HTTP parse error is the client's fault and gets a plain 400.
    if (ec.category() == http::make_error_code(http::error::bad_target).category())
      return reject_unparsed(400, "bad request");
    return close();
  }

  auto& msg = parser_->get();
  api::Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  if (!parse_target(msg.target(), req)) return reject_unparsed(400, "bad request");
  for (const auto& f : msg) req.headers.add(std::string(f.name_string()), std::string(f.value()));
  req.body = std::move(msg.body());
  req.peer_ip = peer_ip_;
  req.peer_is_loopback = peer_loopback_;
  req.is_tls = kIsTls<Stream>;
  req.is_websocket_upgrade = beast::websocket::is_upgrade(msg);
  handle(std::move(req));
}

template <class Stream>
void HttpSession<Stream>::handle(api::Request req) {
  const bool keep_alive = parser_->get().keep_alive();
  beast::get_lowest_layer(stream_).expires_never();
  if (api::Router::is_inline(req)) {
    auto result = state_.router.handle(req);
    return send(std::move(result.response), result.route, keep_alive);
  }
  // Blocking route: run it on a worker pool, then come back to this session's strand.
  auto& pool = state_.router.waits_on_validator(req) ? state_.registration_workers : state_.workers;
  asio::post(pool, [self = this->shared_from_this(), req = std::move(req), keep_alive]() mutable {
    auto result = self->state_.router.handle(req);
    asio::post(self->stream_.get_executor(), [self, result = std::move(result), keep_alive]() mutable {
      if (result.admission) return self->upgrade(*result.admission, result.route);
      self->send(std::move(result.response), result.route, keep_alive);
    });
  });
}

template <class Stream>
void HttpSession<Stream>::send(api::Response res, const std::string& route, bool keep_alive) {
  state_.metrics.counter("cxg_http_requests", {{"route", route}, {"code", std::to_string(res.status)}}).inc();
  keep_alive = keep_alive && !state_.draining;
  auto msg = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(res.status), 11);
  msg->set(http::field::server, "cxg");
  if (!res.content_type.empty()) msg->set(http::field::content_type, res.content_type);
  for (const auto& [k, v] : res.headers.items()) msg->set(k, v);
  msg->body() = std::move(res.body);
  msg->keep_alive(keep_alive);
  msg->prepare_payload();
  beast::get_lowest_layer(stream_).expires_after(state_.opts.keepalive_idle);
  http::async_write(stream_, *msg, [self = this->shared_from_this(), msg, keep_alive](beast::error_code ec, std::size_t) {
    self->on_write(!keep_alive, ec);
  });
}

template <class Stream>
void HttpSession<Stream>::on_write(bool close_after, beast::error_code ec) {
  if (ec || close_after) return close();
  read_request();
}

template <class Stream>
void HttpSession<Stream>::reject_unparsed(int status, const char* message) {
  send(api::plain(status, message), "rejected", false);
}

template <class Stream>
void HttpSession<Stream>::close() {
  beast::error_code ec;
  auto& socket = beast::get_lowest_layer(stream_).socket();
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

}  // namespace cxg::transport

namespace cxg::transport {

template <class Stream>
void HttpSession<Stream>::upgrade(const api::WebsocketAdmission& a, const std::string& route) {
  state_.metrics.counter("cxg_http_requests", {{"route", route}, {"code", "101"}}).inc();
  const auto& o = state_.opts;
  WsLimits limits{o.max_executor_message_bytes, o.ping_interval, o.idle_timeout, o.write_timeout,
                  relay::close::kWriteTimeout, &state_.websockets};
  std::shared_ptr<WsConnection<Stream>> ws;
  if (a.kind == api::WebsocketAdmission::Kind::executor) {
    ws = std::make_shared<ExecutorSession<Stream>>(std::move(stream_), limits, state_.hub, a.exe_id, a.legacy_json);
  } else {
    limits.max_message_bytes = o.max_bridge_message_bytes;
    limits.write_timeout_status = relay::close::kSlowConsumer;
    ws = std::make_shared<BridgeSession<Stream>>(std::move(stream_), limits, state_.hub,
                                         relay::BridgeIdentity{a.exe_id, a.workspace_id, a.turn_id, a.user_id},
                                         o.first_frame_timeout);
  }
  // Bytes the client sent after its upgrade request would be lost with our buffer; a
  // websocket client waits for the 101, so there are none.
  ws->start(parser_->release());
}

}  // namespace cxg::transport

namespace cxg::transport {
template class HttpSession<PlainStream>;
template class HttpSession<TlsStream>;
}  // namespace cxg::transport
