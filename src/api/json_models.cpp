#include "json_models.hpp"

#include "cxg/common/time_format.hpp"

namespace cxg::api {
namespace {

void put_if(boost::json::object& o, const char* key, const std::string& v) {
  if (!v.empty()) o[key] = v;
}
void put_if(boost::json::object& o, const char* key, const std::optional<std::int64_t>& ts) {
  if (ts) o[key] = format_rfc3339_ms(*ts);
}

// Members shared by Executor and ConnectedExecutor, in model order after the identity part.
void put_presence_fields(boost::json::object& o, const store::Executor& e) {
  put_if(o, "last_seen_at", e.last_seen_at);
  put_if(o, "client_ip", e.client_ip);
  put_if(o, "client_ua", e.client_ua);
  put_if(o, "codex_version", e.codex_version);
  put_if(o, "os", e.os);
  put_if(o, "protocol", e.protocol);
  put_if(o, "connected_at", e.connected_at);
  put_if(o, "disconnected_at", e.disconnected_at);
  o["is_online"] = e.is_online;
}

}  // namespace

boost::json::object executor_json(const store::Executor& e) {
  boost::json::object o;
  o["exe_id"] = e.exe_id;
  o["user_id"] = e.user_id;
  put_if(o, "display_name", e.display_name);
  put_if(o, "description", e.description);
  put_if(o, "default_cwd", e.default_cwd);
  o["registered_at"] = format_rfc3339_ms(e.registered_at);
  put_presence_fields(o, e);
  return o;
}

boost::json::object connected_executor_json(const store::BoundExecutor& b) {
  boost::json::object o;
  o["exe_id"] = b.binding.exe_id;
  o["name"] = b.binding.name;
  o["description"] = b.binding.description;
  o["is_default"] = b.binding.is_default;
  put_presence_fields(o, b.executor);
  return o;
}

}  // namespace cxg::api
