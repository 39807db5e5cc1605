#pragma once
// Transport-neutral HTTP request/response: handlers see these, never Beast types, so the
// whole API is testable without sockets and Beast templates stay in src/transport.
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cxg::api {

class Headers {
 public:
  void add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }
  // Case-insensitive lookup of the first header with this name.
  const std::string* find(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

struct Request {
  std::string method;                 // "GET", "POST", ...
  std::string target;                 // raw request-target (never logged: may carry a token)
  std::vector<std::string> segments;  // percent-decoded path segments
  std::vector<std::pair<std::string, std::string>> query;  // percent-decoded
  Headers headers;
  std::string body;
  std::string peer_ip;
  bool peer_is_loopback = false;
  bool is_tls = false;
  bool is_websocket_upgrade = false;

  const std::string* header(std::string_view name) const { return headers.find(name); }
  std::string header_or_empty(std::string_view name) const;
  // First value of a query parameter, nullopt if absent.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  Headers headers;
};

// The three error shapes of http-api.md §1.
Response plain(int status, std::string_view message);  // text/plain; "<message>\n"
Response admin_error(int status, std::string_view message);  // {"error":"..."}
Response codex_error(int status, std::string_view code, std::string_view message);
Response json_response(int status, const boost::json::value& v);
Response no_content();

}  // namespace cxg::api
