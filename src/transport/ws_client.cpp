// WsClient: a Beast websocket client on one background I/O thread (see ws_client.hpp).
#include "cxg/transport/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/url/parse.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

namespace cxg::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

std::optional<std::string> websocket_base_url(const std::string& in) {
  std::string s = in;
  while (!s.empty() && s.back() == '/') s.pop_back();
  auto swap_scheme = [&](std::string_view from, std::string_view to) -> std::optional<std::string> {
    if (s.size() > from.size() && s.compare(0, from.size(), from) == 0) return std::string(to) + s.substr(from.size());
    return std::nullopt;
  };
  for (auto [from, to] : {std::pair{"http://", "ws://"}, {"https://", "wss://"}, {"ws://", "ws://"}, {"wss://", "wss://"}})
    if (auto r = swap_scheme(from, to)) return r;
  return std::nullopt;
}

// ----------------------------------------------------------------------------- shared state

// Everything receive() and the public methods share with the I/O thread, plus the virtual
// operations each stream flavour (plain, TLS) implements on the I/O thread.
struct WsClient::Impl {
  explicit Impl(const WsClientOptions& o) : opts(o) {}
  virtual ~Impl() = default;

  virtual void do_send(std::string data, bool binary) = 0;  // I/O thread
  virtual void do_close(std::uint16_t code, std::string reason) = 0;
  virtual void do_resume() = 0;
  virtual void do_abort() = 0;  // close the socket, cancel everything

  void post(std::function<void()> f) { asio::post(ioc, std::move(f)); }

  // Called on the I/O thread.
  void push_message(std::string data, bool binary) {
    std::lock_guard lk(mu);
    queued_bytes += data.size();
    events.emplace_back(WsMessage{std::move(data), binary});
    cv.notify_all();
  }
  bool over_queue_limit() {
    std::lock_guard lk(mu);
    return queued_bytes > opts.max_queued_bytes;
  }
  void push_closed(WsClosed c) {
    std::lock_guard lk(mu);
    if (!closed) closed = std::move(c);
    cv.notify_all();
  }

  std::optional<WsEvent> receive(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu);
    cv.wait_for(lk, timeout, [&] { return !events.empty() || closed.has_value(); });
    if (!events.empty()) {
      WsEvent ev = std::move(events.front());
      events.pop_front();
      queued_bytes -= std::get<WsMessage>(ev).data.size();
      if (read_paused && queued_bytes <= opts.max_queued_bytes / 2) {
        read_paused = false;
        lk.unlock();
        post([this] { do_resume(); });
      }
      return ev;
    }
    if (closed) return WsEvent(std::in_place_type<WsClosed>, *closed);
    return std::nullopt;
  }

  bool wait_closed(std::chrono::milliseconds wait) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, wait, [&] { return closed.has_value(); });
  }

  // Closes the socket and ends the I/O thread. Handlers still queued (aborted operations, and
  // Beast's own timers, which can stay armed after a refused upgrade) are not run; they are
  // destroyed with the io_context, after the streams.
  void stop_thread() {
    post([this] {
      do_abort();
      ioc.stop();
    });
    work.reset();
    if (io_thread.joinable()) io_thread.join();
  }

  const WsClientOptions opts;
  asio::io_context ioc{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{asio::make_work_guard(ioc)};
  std::thread io_thread;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<WsEvent> events;  // WsMessage only; the close is kept in `closed`
  std::size_t queued_bytes = 0;
  bool read_paused = false;  // guarded by mu
  std::optional<WsClosed> closed;
  std::atomic<std::size_t> pending_write{0};
  std::atomic<std::uint64_t> receiving{0};
};

namespace {

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

struct Target {
  bool tls = false;
  std::string host;       // for DNS (no brackets)
  std::string port;
  std::string host_port;  // Host header / SNI base
  std::string target;     // path + query
};

std::optional<Target> parse_target(const std::string& url) {
  auto r = boost::urls::parse_uri(url);
  if (!r) return std::nullopt;
  Target t;
  const std::string scheme(r->scheme());
  if (scheme == "wss") t.tls = true;
  else if (scheme != "ws") return std::nullopt;
  t.host = std::string(r->encoded_host_address());
  if (!t.host.empty() && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  if (t.host.empty()) return std::nullopt;
  t.port = r->has_port() ? std::string(r->port()) : (t.tls ? "443" : "80");
  t.host_port = std::string(r->encoded_host_and_port());
  t.target = std::string(r->encoded_path());
  if (t.target.empty()) t.target = "/";
  if (r->has_query()) t.target += "?" + std::string(r->encoded_query());
  return t;
}

template <class Ws>
class Session final : public WsClient::Impl {
 public:
  Session(const WsClientOptions& o, Target t) : Impl(o), target_(std::move(t)), resolver_(ioc), timer_(ioc) {
    if constexpr (std::is_same_v<Ws, TlsWs>) {
      ssl_ctx_ = std::make_unique<ssl::context>(ssl::context::tls_client);
      ssl_ctx_->set_default_verify_paths();
      if (!opts.tls_ca_file.empty()) ssl_ctx_->load_verify_file(opts.tls_ca_file);
      ssl_ctx_->set_verify_mode(opts.tls_verify ? ssl::verify_peer : ssl::verify_none);
      ws_ = std::make_unique<Ws>(ioc, *ssl_ctx_);
    } else {
      ws_ = std::make_unique<Ws>(ioc);
    }
  }

  ~Session() override { stop_thread(); }

  // Runs the whole connect sequence on the I/O thread; completes `done` exactly once.
  void start_connect(std::promise<std::optional<WsConnectError>>* done) {
    done_ = done;
    timer_.expires_after(opts.connect_timeout);
    timer_.async_wait([this](error_code ec) {
      if (ec || connected_ || finished_connect_) return;
      timed_out_ = true;
      resolver_.cancel();
      error_code ignored;
      beast::get_lowest_layer(*ws_).socket().close(ignored);
    });
    resolver_.async_resolve(target_.host, target_.port, [this](error_code ec, tcp::resolver::results_type results) {
      if (ec) return fail_connect(WsConnectError::Kind::unreachable, "cannot resolve " + target_.host + ": " + ec.message());
      beast::get_lowest_layer(*ws_).async_connect(results, [this](error_code ec, const tcp::endpoint&) {
        if (ec) return fail_connect(WsConnectError::Kind::unreachable, "cannot connect to " + target_.host_port + ": " + ec.message());
        error_code ignored;
        beast::get_lowest_layer(*ws_).socket().set_option(tcp::no_delay(true), ignored);
        if constexpr (std::is_same_v<Ws, TlsWs>) {
          auto& tls = ws_->next_layer();
          if (!SSL_set_tlsext_host_name(tls.native_handle(), target_.host.c_str()))
            return fail_connect(WsConnectError::Kind::unreachable, "TLS: cannot set SNI");
          if (opts.tls_verify) tls.set_verify_callback(ssl::host_name_verification(target_.host));
          tls.async_handshake(ssl::stream_base::client, [this](error_code ec) {
            if (ec) return fail_connect(WsConnectError::Kind::unreachable, "TLS handshake with " + target_.host_port + " failed: " + ec.message());
            upgrade();
          });
        } else {
          upgrade();
        }
      });
    });
  }

  void do_send(std::string data, bool binary) override {
    if (close_requested_ || dead_) {
      pending_write -= data.size();
      return;
    }
    out_.push_back({std::move(data), binary});
    if (!writing_) write_next();
  }

  void do_close(std::uint16_t code, std::string reason) override {
    if (close_requested_ || dead_) return;
    close_requested_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
    if (!writing_) send_close();
  }

  void do_resume() override {
    if (!dead_ && !reading_) read_next();
  }

  void do_abort() override {
    dead_ = true;
    timer_.cancel();
    resolver_.cancel();
    error_code ignored;
    beast::get_lowest_layer(*ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(*ws_).socket().close(ignored);
    push_closed(WsClosed{0, {}, "connection aborted"});
  }

 private:
  void upgrade() {
    auto& ws = *ws_;
    beast::get_lowest_layer(ws).expires_never();
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::client);
    t.handshake_timeout = opts.connect_timeout;
    if (opts.idle_timeout.count() > 0) {
      t.idle_timeout = opts.idle_timeout;
      t.keep_alive_pings = true;
    } else {
      t.idle_timeout = websocket::stream_base::none();
      t.keep_alive_pings = false;
    }
    ws.set_option(t);
    ws.read_message_max(opts.max_message_bytes);
    ws.auto_fragment(true);
    ws.write_buffer_bytes(1 << 16);
    auto headers = opts.headers;
    ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      req.set(http::field::user_agent, "cxg");
      for (const auto& [k, v] : headers) req.set(k, v);
    }));
    ws.async_handshake(response_, target_.host_port, target_.target, [this](error_code ec) {
      if (ec) {
        const int status = static_cast<int>(response_.result_int());
        if (status != 0 && status != 101)
          return fail_connect(WsConnectError::Kind::refused, "HTTP " + std::to_string(status), status, response_.body());
        if (ec == beast::error::timeout)
          return fail_connect(WsConnectError::Kind::timeout, "websocket upgrade timed out");
        return fail_connect(status == 101 ? WsConnectError::Kind::protocol : WsConnectError::Kind::unreachable,
                            "websocket upgrade failed: " + ec.message());
      }
      connected_ = true;
      finished_connect_ = true;
      timer_.cancel();
      done_->set_value(std::nullopt);
      read_next();
    });
  }

  void fail_connect(WsConnectError::Kind kind, std::string message, int status = 0, std::string body = {}) {
    if (finished_connect_) return;
    finished_connect_ = true;
    dead_ = true;
    timer_.cancel();
    if (timed_out_) {
      kind = WsConnectError::Kind::timeout;
      message = "no answer within " + std::to_string(opts.connect_timeout.count()) + " ms";
      status = 0;
      body.clear();
    }
    error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
    done_->set_value(WsConnectError{kind, std::move(message), status, std::move(body)});
  }

  // Reads frame by frame (≤ 1 MiB at a time) so that receiving_bytes() can report the progress
  // of a large message.
  void read_next() {
    reading_ = true;
    ws_->async_read_some(rbuf_, 1u << 20, [this](error_code ec, std::size_t n) {
      reading_ = false;
      if (ec) return on_read_end(ec);
      receiving += n;
      if (!ws_->is_message_done()) {
        if (!dead_) read_next();
        return;
      }
      push_message(beast::buffers_to_string(rbuf_.data()), ws_->got_binary());
      receiving = 0;
      rbuf_.clear();
      if (dead_) return;
      {
        std::lock_guard lk(mu);
        if (queued_bytes > opts.max_queued_bytes) {
          read_paused = true;
          return;
        }
      }
      read_next();
    });
  }

  void on_read_end(error_code ec) {
    WsClosed c;
    if (ec == websocket::error::closed) {
      c.code = ws_->reason().code;
      c.reason = std::string(ws_->reason().reason.c_str());
    } else {
      c.error = ec.message();
    }
    dead_ = true;
    push_closed(std::move(c));
    error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
  }

  void write_next() {
    if (out_.empty() || dead_) {
      writing_ = false;
      if (close_requested_ && !dead_) send_close();
      return;
    }
    writing_ = true;
    ws_->binary(out_.front().second);
    ws_->async_write(asio::buffer(out_.front().first), [this](error_code ec, std::size_t) {
      pending_write -= out_.front().first.size();
      out_.pop_front();
      if (ec) {
        writing_ = false;
        for (auto& m : out_) pending_write -= m.first.size();
        out_.clear();
        return;  // the read side reports the end of the connection
      }
      write_next();
    });
  }

  void send_close() {
    if (close_sent_ || dead_) return;
    close_sent_ = true;
    websocket::close_reason cr(close_code_);
    cr.reason = close_reason_;
    ws_->async_close(cr, [](error_code) {});
  }

  Target target_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::unique_ptr<ssl::context> ssl_ctx_;
  std::unique_ptr<Ws> ws_;
  websocket::response_type response_;
  std::promise<std::optional<WsConnectError>>* done_ = nullptr;
  bool connected_ = false, finished_connect_ = false, timed_out_ = false;
  bool dead_ = false, reading_ = false, writing_ = false;
  bool close_requested_ = false, close_sent_ = false;
  std::uint16_t close_code_ = 1000;
  std::string close_reason_;
  beast::flat_buffer rbuf_;
  std::deque<std::pair<std::string, bool>> out_;
};

}  // namespace

Result<std::unique_ptr<WsClient>, WsConnectError> WsClient::connect(const std::string& url, const WsClientOptions& options) {
  auto target = parse_target(url);
  if (!target) return unexpected(WsConnectError{WsConnectError::Kind::bad_url, "not a ws:// or wss:// URL: " + url});
  std::shared_ptr<Impl> impl;
  std::function<void(std::promise<std::optional<WsConnectError>>*)> start;
  try {
    if (target->tls) {
      auto s = std::make_shared<Session<TlsWs>>(options, *target);
      start = [p = s.get()](auto* done) { p->start_connect(done); };
      impl = s;
    } else {
      auto s = std::make_shared<Session<PlainWs>>(options, *target);
      start = [p = s.get()](auto* done) { p->start_connect(done); };
      impl = s;
    }
  } catch (const std::exception& e) {
    return unexpected(WsConnectError{WsConnectError::Kind::unreachable, std::string("TLS setup: ") + e.what()});
  }
  impl->io_thread = std::thread([raw = impl.get()] { raw->ioc.run(); });
  std::promise<std::optional<WsConnectError>> done;
  auto result = done.get_future();
  impl->post([&] { start(&done); });
  auto err = result.get();  // the connect timer bounds this wait
  if (err) return unexpected(std::move(*err));
  return std::unique_ptr<WsClient>(new WsClient(std::move(impl)));
}

WsClient::WsClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

WsClient::~WsClient() = default;  // Session's destructor aborts the socket and joins the thread

void WsClient::send_text(std::string data) {
  impl_->pending_write += data.size();
  impl_->post([impl = impl_.get(), d = std::move(data)]() mutable { impl->do_send(std::move(d), false); });
}

void WsClient::send_binary(std::string data) {
  impl_->pending_write += data.size();
  impl_->post([impl = impl_.get(), d = std::move(data)]() mutable { impl->do_send(std::move(d), true); });
}

std::size_t WsClient::pending_write_bytes() const { return impl_->pending_write.load(); }

std::uint64_t WsClient::receiving_bytes() const { return impl_->receiving.load(); }

std::optional<WsEvent> WsClient::receive(std::chrono::milliseconds timeout) { return impl_->receive(timeout); }

void WsClient::close(std::uint16_t code, std::string reason, std::chrono::milliseconds wait) {
  impl_->post([impl = impl_.get(), code, r = std::move(reason)]() mutable { impl->do_close(code, std::move(r)); });
  if (!impl_->wait_closed(wait)) impl_->post([impl = impl_.get()] { impl->do_abort(); });
}

}  // namespace cxg::transport
