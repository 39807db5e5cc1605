#include "ws_connection.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "cxg/common/log.hpp"

namespace cxg::transport {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
constexpr std::size_t kMaxFrameBytes = 1 << 20;      // no frame cxg sends exceeds 1 MiB (L7)
// What an idle connection's pending read holds: with 10 000 idle executors every byte here is
// ~10 MB of RSS (bench/: idle scenario). Busy connections read in chunks the size of their
// previous message, so a stream of 64 KiB frames still takes one read per frame.
constexpr std::size_t kMinReadChunk = 512;
constexpr std::size_t kShrinkAbove = 1 << 20;         // give back big read buffers after use
constexpr std::size_t kOversizePrefix = 512;          // enough for fields 1-2 of a relay frame
constexpr auto kCloseHandshakeBudget = std::chrono::seconds(5);
}  // namespace

template <class Stream>
WsConnection<Stream>::WsConnection(Stream&& stream, WsLimits limits)
    : ws_(std::move(stream)), limits_(limits), ping_timer_(ws_.get_executor()), write_timer_(ws_.get_executor()),
      close_timer_(ws_.get_executor()), aux_timer_(ws_.get_executor()) {
  if (limits_.live_counter) limits_.live_counter->fetch_add(1);
}

template <class Stream>
WsConnection<Stream>::~WsConnection() {
  if (limits_.live_counter) limits_.live_counter->fetch_sub(1);
}

template <class Stream>
void WsConnection<Stream>::start(Request req) {
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout t{};
  t.handshake_timeout = std::chrono::seconds(10);
  t.idle_timeout = websocket::stream_base::none();  // keepalive is ours: close code 4000
  t.keep_alive_pings = false;
  ws_.set_option(t);
  ws_.read_message_max(0);  // the cap is enforced in on_read without tearing the socket down
  ws_.auto_fragment(false);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "cxg"); }));
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
    last_activity_ = Clock::now();
    // The peer's close frame ends the conversation; the TCP teardown that follows may take a
    // while (a peer that keeps its socket open), and the relay need not wait for it.
    if (kind == websocket::frame_type::close) notify_closed();
  });
  auto keep = std::make_shared<Request>(std::move(req));
  ws_.async_accept(*keep, [self = self(), keep](beast::error_code ec) {
    if (ec) {
      log::info("websocket handshake failed", {{"error", ec.message()}});
      return;  // never opened: nothing to report to the relay
    }
    self->last_activity_ = Clock::now();
    self->on_open();
    if (self->finished_) return;
    self->arm_ping_timer();
    self->read_next();
  });
}

// ------------------------------------------------------------------ reading

template <class Stream>
void WsConnection<Stream>::read_next() {
  if (finished_ || read_pending_ || reading_paused_) return;
  read_pending_ = true;
  const auto chunk =
      std::clamp<std::size_t>(std::max(read_buffer_.size(), last_message_bytes_), kMinReadChunk, kMaxFrameBytes);
  ws_.async_read_some(read_buffer_.prepare(chunk), [self = self()](beast::error_code ec, std::size_t n) {
    self->on_read(ec, n);
  });
}

template <class Stream>
void WsConnection<Stream>::on_read(beast::error_code ec, std::size_t n) {
  read_pending_ = false;
  if (ec) return finish();
  last_activity_ = Clock::now();
  read_buffer_.commit(n);
  if (discarding_) {
    read_buffer_.consume(read_buffer_.size());
    discarding_ = !ws_.is_message_done();
  } else if (read_buffer_.size() > limits_.max_message_bytes) {
    const auto data = read_buffer_.cdata();
    on_message_too_big({static_cast<const char*>(data.data()), std::min(data.size(), kOversizePrefix)});
    read_buffer_.consume(read_buffer_.size());
    discarding_ = !ws_.is_message_done();
  } else if (ws_.is_message_done()) {
    deliver_message();
  }
  read_next();
}

template <class Stream>
void WsConnection<Stream>::deliver_message() {
  const auto data = read_buffer_.cdata();
  std::string message(static_cast<const char*>(data.data()), data.size());
  last_message_bytes_ = message.size();
  read_buffer_.consume(read_buffer_.size());
  if (read_buffer_.capacity() > kShrinkAbove) read_buffer_.shrink_to_fit();
  if (closing_) return;  // late input after we decided to close is not forwarded
  if (on_message(std::move(message), ws_.got_binary()) == relay::ReadGate::pause) reading_paused_ = true;
}

template <class Stream>
void WsConnection<Stream>::resume_reading() {
  asio::post(ws_.get_executor(), [self = self()] {
    if (!self->reading_paused_) return;
    self->reading_paused_ = false;
    self->read_next();
  });
}

// ------------------------------------------------------------------ writing

template <class Stream>
void WsConnection<Stream>::send(relay::OutMessage m) {
  queued_bytes_.fetch_add(m.data->size(), std::memory_order_relaxed);
  asio::post(ws_.get_executor(), [self = self(), m = std::move(m)]() mutable {
    if (self->finished_ || (self->closing_ && !self->close_after_flush_)) {
      self->queued_bytes_.fetch_sub(m.data->size(), std::memory_order_relaxed);
      if (m.credit) m.credit->release(m.data->size());
      return;
    }
    self->queue_.push_back(std::move(m));
    self->write_next();
  });
}

template <class Stream>
void WsConnection<Stream>::write_next() {
  if (writing_ || finished_) return;
  if (queue_.empty()) {
    if (close_after_flush_) {
      auto [code, reason] = std::move(*close_after_flush_);
      close_after_flush_.reset();
      begin_close(code, std::move(reason));
    }
    return;
  }
  writing_ = true;
  if (write_offset_ == 0) write_started_ = Clock::now();
  arm_write_timer();
  const auto& m = queue_.front();
  ws_.binary(m.binary);
  const auto& bytes = *m.data;
  const auto remaining = bytes.size() - write_offset_;
  const auto n = std::min(remaining, kMaxFrameBytes);
  const bool last = n == remaining;
  ws_.async_write_some(last, asio::buffer(bytes.data() + write_offset_, n),
                       [self = self()](beast::error_code ec, std::size_t w) { self->on_write(ec, w); });
}

template <class Stream>
void WsConnection<Stream>::on_write(beast::error_code ec, std::size_t n) {
  writing_ = false;
  if (finished_) return;
  if (ec) return hard_close();
  auto& m = queue_.front();
  write_offset_ += n;
  if (write_offset_ < m.data->size()) return write_next();  // next fragment of a big message
  write_offset_ = 0;
  const auto size = m.data->size();
  auto credit = std::move(m.credit);
  queue_.pop_front();
  queued_bytes_.fetch_sub(size, std::memory_order_relaxed);
  if (credit) credit->release(size);
  write_next();
}

template <class Stream>
void WsConnection<Stream>::discard_queue() {
  // The message being written stays (a frame cannot be cut); the rest is dropped.
  const std::size_t keep = writing_ || write_offset_ > 0 ? 1 : 0;
  while (queue_.size() > keep) {
    auto& m = queue_.back();
    queued_bytes_.fetch_sub(m.data->size(), std::memory_order_relaxed);
    if (m.credit) m.credit->release(m.data->size());
    queue_.pop_back();
  }
}

template <class Stream>
void WsConnection<Stream>::arm_write_timer() {
  if (write_timer_armed_) return;
  write_timer_armed_ = true;
  write_timer_.expires_at(write_started_ + limits_.write_timeout);
  write_timer_.async_wait([self = self()](beast::error_code ec) {
    self->write_timer_armed_ = false;
    if (ec || self->finished_) return;
    if (!self->writing_ && self->write_offset_ == 0) return;
    if (Clock::now() - self->write_started_ >= self->limits_.write_timeout) {
      // The peer stopped taking bytes: a close frame would not get through either.
      self->write_timed_out_ = true;
      log::info("websocket write timed out", {{"code", self->limits_.write_timeout_status.code}});
      self->notify_closed();
      return self->hard_close();
    }
    self->arm_write_timer();
  });
}

// ------------------------------------------------------------------ keepalive

template <class Stream>
void WsConnection<Stream>::arm_ping_timer() {
  ping_timer_.expires_after(limits_.ping_interval);
  ping_timer_.async_wait([self = self()](beast::error_code ec) {
    if (!ec) self->on_ping_timer();
  });
}

template <class Stream>
void WsConnection<Stream>::on_ping_timer() {
  if (finished_ || closing_) return;
  if (Clock::now() - last_activity_ >= limits_.idle_timeout) {
    // The peer is gone as far as the relay is concerned: end its streams now rather than
    // after a close handshake it will probably never answer.
    notify_closed();
    close_with(relay::close::kKeepaliveTimeout.code, std::string(relay::close::kKeepaliveTimeout.reason), false);
    return;
  }
  if (!ping_pending_) {
    ping_pending_ = true;
    ws_.async_ping({}, [self = self()](beast::error_code) { self->ping_pending_ = false; });
  }
  arm_ping_timer();
}

// ------------------------------------------------------------------ closing

template <class Stream>
void WsConnection<Stream>::close_with(std::uint16_t code, std::string reason, bool flush) {
  asio::post(ws_.get_executor(), [self = self(), code, reason = std::move(reason), flush]() mutable {
    if (self->closing_ || self->finished_) return;
    self->closing_ = true;
    if (!flush) self->discard_queue();
    if (self->writing_ || !self->queue_.empty()) {
      self->close_after_flush_.emplace(code, std::move(reason));
      // A flush that never completes is bounded by the write deadline.
      return;
    }
    self->begin_close(code, std::move(reason));
  });
}

template <class Stream>
void WsConnection<Stream>::begin_close(std::uint16_t code, std::string reason) {
  // cxg decided to end this connection and everything queued has been sent: for the relay it
  // is over now, not when the peer finishes the close handshake and the TCP teardown.
  notify_closed();
  close_timer_.expires_after(kCloseHandshakeBudget);
  close_timer_.async_wait([self = self()](beast::error_code ec) {
    if (!ec) self->hard_close();
  });
  websocket::close_reason cr;
  cr.code = code;
  const auto text = relay::truncate_close_reason(reason);
  cr.reason.assign(text.data(), text.size());
  // Once the close handshake is done (or failed) the connection is over, whether or not a
  // read is still pending: finish() closes the socket, which completes that read.
  ws_.async_close(cr, [self = self()](beast::error_code) { self->finish(); });
}

template <class Stream>
void WsConnection<Stream>::hard_close() {
  beast::error_code ec;
  beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  beast::get_lowest_layer(ws_).socket().close(ec);
  if (!read_pending_) finish();
}

template <class Stream>
void WsConnection<Stream>::finish() {
  if (finished_) return;
  finished_ = true;
  closing_ = true;
  ping_timer_.cancel();
  write_timer_.cancel();
  close_timer_.cancel();
  aux_timer_.cancel();
  close_after_flush_.reset();
  for (auto& m : queue_)
    if (m.credit) m.credit->release(m.data->size());
  queue_.clear();
  queued_bytes_.store(0);
  notify_closed();
  beast::error_code ec;
  beast::get_lowest_layer(ws_).socket().close(ec);
}

}  // namespace cxg::transport

namespace cxg::transport {

template <class Stream>
void WsConnection<Stream>::notify_closed() {
  if (relay_notified_) return;
  relay_notified_ = true;
  on_closed();
}

}  // namespace cxg::transport

namespace cxg::transport {
template class WsConnection<PlainStream>;
template class WsConnection<TlsStream>;
}  // namespace cxg::transport
