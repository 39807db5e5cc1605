#pragma once
// A websocket *client* (RFC 6455 over TCP, or TLS for wss://), for `cxg exec` and `cxg fs`.
// Beast/Asio stay inside src/transport (pimpl). One background thread runs the I/O; the public
// methods are thread-safe.
//
//   auto r = WsClient::connect("ws://127.0.0.1:6060/bridge/laptop", {.headers = {{"Authorization", "Bearer …"}}});
//   if (!r) { r.error().kind / .status / .body … }
//   auto& ws = **r;
//   ws.send_text("{…}");
//   auto ev = ws.receive(std::chrono::seconds(1));   // message, closed, or nullopt on timeout
//
// Incoming messages are queued without bound only up to `max_queued_bytes`; above it the client
// stops reading the socket until receive() drains the queue (TCP backpressure to the gateway).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cxg/common/result.hpp"

namespace cxg::transport {

struct WsClientOptions {
  std::vector<std::pair<std::string, std::string>> headers;  // added to the upgrade request
  std::chrono::milliseconds connect_timeout{10'000};        // DNS + TCP + TLS + upgrade
  std::uint64_t max_message_bytes = 1ull << 30;             // a larger incoming message fails the socket
  std::size_t max_queued_bytes = 16u << 20;                 // receive queue before reading pauses
  // Keepalive: Beast pings after half of this much silence and drops the socket after the
  // whole of it. 0 disables (the gateway pings every 30 s on its own).
  std::chrono::milliseconds idle_timeout{120'000};
  bool tls_verify = true;   // wss: verify the certificate chain and host name
  std::string tls_ca_file;  // wss: extra CA bundle (PEM); the system store is always used
};

// Why connect() failed.
struct WsConnectError {
  enum class Kind {
    bad_url,      // not ws:// or wss://, or unparsable
    unreachable,  // DNS, TCP or TLS failure
    timeout,      // connect_timeout elapsed
    refused,      // the server answered the upgrade with a non-101 HTTP response
    protocol,     // a 101 that is not a valid websocket accept, or another handshake error
  };
  Kind kind = Kind::unreachable;
  std::string message;  // human-readable cause (errno text, TLS error, ...)
  int status = 0;       // refused: HTTP status
  std::string body;     // refused: response body
};

struct WsMessage {
  std::string data;
  bool binary = false;
};

// The connection is over. `code` is the peer's close code (0 when the socket ended without a
// close frame, e.g. EOF or an error; `error` then says why).
struct WsClosed {
  std::uint16_t code = 0;
  std::string reason;
  std::string error;
};

using WsEvent = std::variant<WsMessage, WsClosed>;

class WsClient {
 public:
  static Result<std::unique_ptr<WsClient>, WsConnectError> connect(const std::string& url,
                                                                    const WsClientOptions& options = {});
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Queue a message (thread-safe; writes happen in order). Ignored once the socket is closing.
  void send_text(std::string data);
  void send_binary(std::string data);
  // Bytes queued for writing and not yet written.
  std::size_t pending_write_bytes() const;
  // Bytes received so far of a message that has not been completely received yet.
  std::uint64_t receiving_bytes() const;

  // Next event, waiting up to `timeout`; nullopt on timeout. After a WsClosed every further
  // call returns the same WsClosed at once.
  std::optional<WsEvent> receive(std::chrono::milliseconds timeout);

  // Starts the closing handshake (after queued writes) and waits up to `wait` for it to finish.
  // Safe to call more than once and after the peer closed.
  void close(std::uint16_t code = 1000, std::string reason = {},
             std::chrono::milliseconds wait = std::chrono::milliseconds(2000));

  struct Impl;

 private:
  explicit WsClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// "ws://h:p/x" from "http://h:p/x" (and wss from https); ws/wss pass unchanged; anything else
// → nullopt. A trailing '/' is removed.
std::optional<std::string> websocket_base_url(const std::string& http_or_ws_url);

}  // namespace cxg::transport
