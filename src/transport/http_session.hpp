#pragma once
// One HTTP/1.1 connection: reads requests under the header/body limits and timeouts, runs
// the router (blocking routes on the worker pool), writes responses, keeps alive.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <optional>

#include "server_state.hpp"
#include "stream_types.hpp"

namespace cxg::transport {

// What the listener's drain needs from any session, whatever its stream.
class HttpSessionBase {
 public:
  virtual ~HttpSessionBase() = default;
  // Drain: a connection waiting for its next request is closed; a busy one finishes first.
  virtual void close_if_idle() = 0;
};

template <class Stream>
class HttpSession final : public HttpSessionBase, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream&& stream, ServerState& state);
  ~HttpSession() override;
  void run();
  void close_if_idle() override;

 private:
  void on_handshake(boost::beast::error_code ec);
  void read_request();   // waits (keep-alive) for the next request, then read_message()
  void read_message();   // one request under the header timeout and the size limits
  void on_read(boost::beast::error_code ec);
  void handle(api::Request req);
  void send(api::Response res, const std::string& route, bool keep_alive);
  void on_write(bool close, boost::beast::error_code ec);
  void reject_unparsed(int status, const char* message);
  void upgrade(const api::WebsocketAdmission& a, const std::string& route);
  void close();

  static constexpr std::size_t kFirstBytesChunk = 4096;

  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  ServerState& state_;
  std::string peer_ip_;
  bool peer_loopback_ = false;
  bool first_request_ = true;
  bool idle_ = false;  // waiting for the next request
};

}  // namespace cxg::transport
