#include "cxg/api/http_types.hpp"

#include <strings.h>

#include "cxg/common/utf8.hpp"

namespace cxg::api {

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
  // Request bytes reach answers (the Host header in a registration's url; User-Agent, path
  // ids through the store): found by fuzz/api_router, one odd User-Agent made every admin
  // listing that included it unparsable.
  r.body = utf8::serialize_valid(v);
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
