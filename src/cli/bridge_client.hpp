#pragma once
// One JSON-RPC stream to an executor through the gateway's /bridge/{exe_id} (wire-protocol
// §7–§8), in the plain flavour (text messages) or relay v1 (Resume, then Data frames).
// Failures throw CliError with a one-line message that says what went wrong: gateway
// unreachable, cap-token rejected/expired/revoked, executor not bound, offline or busy,
// connection lost (close code and reason), protocol errors.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cxg/transport/ws_client.hpp"

namespace cxg::cli {

struct BridgeTarget {
  std::string gateway_url;  // http(s):// or ws(s):// base
  std::string exe_id;
  std::string cap_token;
  bool relay = false;
  std::chrono::milliseconds connect_timeout{10'000};
  int failure_code = 125;  // exit code carried by the CliErrors thrown
  std::string ca_file;     // wss: extra CA bundle
  bool insecure = false;   // wss: skip certificate verification
};

// The JSON-RPC error object of a failed request.
struct RpcFailure : std::runtime_error {
  RpcFailure(std::string method, std::int64_t code, std::string message)
      : std::runtime_error(method + " failed: " + message + " (" + std::to_string(code) + ")"),
        method(std::move(method)), code(code), message(std::move(message)) {
    for (auto& c : this->message)
      if (c == '\n' || c == '\r') c = ' ';
  }
  std::string method;
  std::int64_t code;
  std::string message;
};

class BridgeClient {
 public:
  // Dials the bridge; throws CliError describing the refusal.
  // 503 (executor offline) and 409 (busy) answers are retried every 200 ms for `wait_online`.
  static std::unique_ptr<BridgeClient> open(const BridgeTarget& target,
                                            std::chrono::milliseconds wait_online = std::chrono::milliseconds(0));
  ~BridgeClient();

  // Thread-safe sends. Requests get increasing integer ids, returned.
  std::int64_t send_request(const std::string& method, boost::json::object params);
  void send_notification(const std::string& method, boost::json::object params);

  // The next incoming JSON-RPC message (object), nullopt on timeout. Throws CliError when the
  // connection has ended (unless it ended because close() was called).
  std::optional<boost::json::object> next(std::chrono::milliseconds timeout);

  // Sends a request and waits for its response; other messages that arrive meanwhile are kept
  // and returned by next() later. Throws RpcFailure on a JSON-RPC error, CliError on timeout
  // or connection loss.
  // `tick`, when given, runs about every 100 ms while waiting (progress display).
  boost::json::value call(const std::string& method, boost::json::object params,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                          const std::function<void()>& tick = {});

  // initialize{clientName} (10 s timeout) + initialized{}; returns the sessionId.
  std::string initialize(const std::string& client_name);

  // Close 1000 and wait briefly for the gateway's answer.
  void close(const std::string& reason = "done");

  std::size_t pending_write_bytes() const { return ws_->pending_write_bytes(); }
  std::uint64_t receiving_bytes() const { return ws_->receiving_bytes(); }
  const BridgeTarget& target() const { return target_; }
  // Why the bridge ended: "gateway closed the bridge with 4103 turn revoked", or "".
  std::string describe_close(const transport::WsClosed& c) const;

 private:
  BridgeClient(BridgeTarget target, std::unique_ptr<transport::WsClient> ws);
  void send_json(const boost::json::object& msg);
  std::optional<boost::json::object> decode(transport::WsMessage& m);

  BridgeTarget target_;
  std::unique_ptr<transport::WsClient> ws_;
  std::string stream_id_;
  std::mutex send_mu_;
  std::uint32_t out_seq_ = 0;
  std::int64_t next_id_ = 1;
  std::string reset_reason_;  // relay: a Reset the executor/gateway sent on our stream
  std::deque<boost::json::object> backlog_;
  bool closing_ = false;
};

// Short one-line rendering of a JSON value for messages.
std::string json_brief(const boost::json::value& v, std::size_t max = 300);

}  // namespace cxg::cli
