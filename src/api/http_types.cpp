#include "cxg/api/http_types.hpp"

#include <boost/json/serialize.hpp>
#include <strings.h>

#include "cxg/common/ids.hpp"

namespace cxg::api {
namespace {

// Request bytes reach JSON answers, directly (the Host header in a registration's url) or
// through the store (User-Agent, X-Forwarded-For, X-User-Id, percent-decoded path ids), and
// need not be UTF-8, which JSON must be (RFC 8259 §8.1): Boost.JSON serializes such bytes
// as they are, so one executor's odd User-Agent made every admin listing that includes it
// unparsable. Each invalid byte goes out as U+FFFD, as the reference gateway's Go encoder
// writes it. Found by fuzz/api_router (a registration with a non-UTF-8 Host).
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len != 0 && i + len <= s.size() && ids::is_valid_utf8(s.substr(i, len))) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

boost::json::value with_valid_utf8(const boost::json::value& v) {
  if (v.is_string()) return boost::json::string(valid_utf8(v.get_string()));
  if (v.is_array()) {
    boost::json::array a;
    for (const auto& x : v.get_array()) a.push_back(with_valid_utf8(x));
    return a;
  }
  if (v.is_object()) {
    boost::json::object o;
    for (const auto& [k, x] : v.get_object()) o[valid_utf8(k)] = with_valid_utf8(x);
    return o;
  }
  return v;
}

}  // namespace

const std::string* Headers::find(std::string_view name) const {
  for (const auto& [k, v] : items_)
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
  return nullptr;
}

std::string Request::header_or_empty(std::string_view name) const {
  const auto* v = header(name);
  return v ? *v : std::string();
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return std::nullopt;
}

Response plain(int status, std::string_view message) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body.assign(message);
  r.body += '\n';
  return r;
}

Response json_response(int status, const boost::json::value& v) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = boost::json::serialize(v);
  if (!ids::is_valid_utf8(r.body)) r.body = boost::json::serialize(with_valid_utf8(v));
  return r;
}

Response admin_error(int status, std::string_view message) {
  return json_response(status, boost::json::object{{"error", message}});
}

Response codex_error(int status, std::string_view code, std::string_view message) {
  return json_response(status,
                       boost::json::object{{"error", boost::json::object{{"code", code}, {"message", message}}}});
}

Response no_content() {
  Response r;
  r.status = 204;
  return r;
}

}  // namespace cxg::api
