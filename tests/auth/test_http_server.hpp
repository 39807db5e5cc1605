#pragma once
// A loopback HTTP/1.1 server for validator tests: each connection gets one request read and
// one canned response (or, in `hang` mode, no response at all).
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cxg::auth::test_support {

struct CapturedRequest {
  std::string request_line;                    // "POST /path HTTP/1.1"
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

class TestHttpServer {
 public:
  enum class Mode { respond, hang };

  explicit TestHttpServer(std::string canned_response, Mode mode = Mode::respond);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  std::string base_url() const;  // http://127.0.0.1:<port>
  std::vector<CapturedRequest> requests() const;

  // A complete response with Content-Length and Connection: close.
  static std::string response(int status, const std::string& body,
                              const std::string& content_type = "application/json");
  // A loopback port nothing listens on (bound, then closed).
  static std::uint16_t closed_port();

 private:
  void serve();
  void handle(int client);
  void wait_until_stopped_or_closed(int client) const;

  const std::string canned_response_;
  const Mode mode_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<CapturedRequest> requests_;
  std::thread thread_;
};

}  // namespace cxg::auth::test_support
