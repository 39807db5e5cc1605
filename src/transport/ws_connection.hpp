#pragma once
// One accepted websocket as a relay::Peer: a bounded outgoing queue with a single writer,
// a read loop that enforces the message cap without tearing the socket down, flow-control
// pauses, keepalive pings, idle and write deadlines, and an orderly close. Subclasses say
// what the messages mean (executor_session.hpp, bridge_session.hpp).
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <deque>
#include <optional>

#include "cxg/relay/hub.hpp"
#include "cxg/relay/peer.hpp"
#include "stream_types.hpp"

namespace cxg::transport {

struct WsLimits {
  std::uint64_t max_message_bytes = 64ull << 20;
  std::chrono::milliseconds ping_interval{30'000};
  std::chrono::milliseconds idle_timeout{90'000};
  std::chrono::milliseconds write_timeout{30'000};
  relay::CloseStatus write_timeout_status = relay::close::kWriteTimeout;
  std::atomic<std::size_t>* live_counter = nullptr;  // sessions alive, for the drain
};

template <class Stream>
class WsConnection : public relay::Peer, public std::enable_shared_from_this<WsConnection<Stream>> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  WsConnection(Stream&& stream, WsLimits limits);
  ~WsConnection() override;

  // Completes the upgrade handshake on `req`, then starts reading.
  void start(Request req);

  // relay::Peer (thread-safe: everything is posted to this connection's strand)
  void send(relay::OutMessage m) override;
  void close_with(std::uint16_t code, std::string reason, bool flush) override;
  std::uint64_t queued_bytes() const override { return queued_bytes_.load(std::memory_order_relaxed); }
  void resume_reading() override;

 protected:
  virtual void on_open() = 0;
  virtual relay::ReadGate on_message(std::string message, bool binary) = 0;
  virtual void on_message_too_big(std::string_view prefix) = 0;
  // Exactly once: when the socket is finished, or earlier when cxg gives up on the peer
  // (keepalive or write timeout) and will only tear the socket down.
  virtual void on_closed() = 0;
  // Why this side ended, for the Reset a departing bridge causes.
  bool ended_by_write_timeout() const { return write_timed_out_; }
  std::shared_ptr<WsConnection> self() { return this->shared_from_this(); }
  boost::asio::steady_timer& aux_timer() { return aux_timer_; }
  bool is_closing() const { return closing_; }

 private:
  void read_next();
  void on_read(boost::beast::error_code ec, std::size_t n);
  void deliver_message();
  void write_next();
  void on_write(boost::beast::error_code ec, std::size_t n);
  void begin_close(std::uint16_t code, std::string reason);
  void arm_ping_timer();
  void on_ping_timer();
  void arm_write_timer();
  void hard_close();
  void finish();
  // Tells the subclass (and so the relay) that this connection is over; at most once.
  void notify_closed();
  void discard_queue();

  boost::beast::websocket::stream<Stream> ws_;
  const WsLimits limits_;
  boost::beast::flat_buffer read_buffer_;
  std::size_t last_message_bytes_ = 0;  // sizes the next read (see read_next)
  bool discarding_ = false;   // skipping the rest of an oversized message
  bool reading_paused_ = false;
  bool read_pending_ = false;

  std::deque<relay::OutMessage> queue_;
  std::atomic<std::uint64_t> queued_bytes_{0};
  bool writing_ = false;
  std::size_t write_offset_ = 0;  // progress through a fragmented (> 1 MiB) message
  std::chrono::steady_clock::time_point write_started_{};
  bool write_timer_armed_ = false;
  bool write_timed_out_ = false;

  bool closing_ = false;
  std::optional<std::pair<std::uint16_t, std::string>> close_after_flush_;
  bool finished_ = false;
  bool relay_notified_ = false;
  bool ping_pending_ = false;
  std::chrono::steady_clock::time_point last_activity_{};

  boost::asio::steady_timer ping_timer_;
  boost::asio::steady_timer write_timer_;
  boost::asio::steady_timer close_timer_;
  boost::asio::steady_timer aux_timer_;  // for subclasses (first-frame deadline)
};

}  // namespace cxg::transport
