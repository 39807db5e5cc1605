// Admin API /api/codex-exec/* (http-api.md §2.5).
#include <boost/json/array.hpp>

#include "cxg/common/crypto.hpp"
#include "cxg/common/ids.hpp"
#include "cxg/common/log.hpp"
#include "handlers.hpp"
#include "json_body.hpp"
#include "json_models.hpp"

namespace cxg::api::handlers {
namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
}

struct BindRequest {
  std::string exe_id, name, description;
  bool is_default = false;
};

Result<BindRequest, Response> parse_bind_request(const std::string& body) {
  const auto obj = parse_json_object(body, false);
  if (!obj) return unexpected(admin_error(400, "invalid JSON"));
  auto exe_id = optional_string(*obj, "exe_id");
  auto name = optional_string(*obj, "name");
  auto description = optional_string(*obj, "description");
  const auto* is_default = obj->if_contains("is_default");
  if (!exe_id || !name || !description || (is_default && !is_default->is_bool() && !is_default->is_null()))
    return unexpected(admin_error(400, "invalid JSON"));
  if (exe_id->empty()) return unexpected(admin_error(400, "exe_id required"));
  BindRequest r{*exe_id, trim(*name), *description, is_default && is_default->is_bool() && is_default->as_bool()};
  if (r.name.empty()) return unexpected(admin_error(400, "name required"));
  if (r.name.size() > 256) return unexpected(admin_error(400, "name too long"));
  if (!ids::is_valid_exe_id(r.exe_id)) return unexpected(admin_error(400, "invalid exe_id"));
  return r;
}

}  // namespace

std::optional<Response> check_admin_auth(Services& s, const Request& req) {
  const auto& secret = s.config.agentserver_internal_secret;
  if (secret.empty()) {
    // Dev mode: no secret configured, so only this machine may administer the gateway.
    if (req.peer_is_loopback) return std::nullopt;
    return plain(401, "unauthorized");
  }
  const auto* given = req.header("X-Internal-Secret");
  if (given && crypto::secret_matches(*given, secret)) return std::nullopt;
  return plain(401, "unauthorized");
}

Response admin_register(Services& s, const Request& req) {
  const auto user = req.header_or_empty("X-User-Id");
  if (user.empty()) return admin_error(401, "missing user");
  if (!ids::is_valid_opaque_id(user)) return admin_error(400, "invalid user id");
  const auto obj = parse_json_object(req.body, true);
  if (!obj) return admin_error(400, "invalid JSON");
  store::NewExecutor e;
  e.user_id = user;
  const auto display = optional_string(*obj, "display_name");
  const auto description = optional_string(*obj, "description");
  const auto cwd = optional_string(*obj, "default_cwd");
  const auto exe_id = optional_string(*obj, "exe_id");
  if (!display || !description || !cwd || !exe_id) return admin_error(400, "invalid JSON");
  e.display_name = *display;
  e.description = *description;
  e.default_cwd = *cwd;
  e.exe_id = exe_id->empty() ? "exe_" + crypto::uuid_v4() : *exe_id;
  if (!ids::is_valid_exe_id(e.exe_id)) return admin_error(400, "invalid exe_id");
  try {
    switch (s.store.create_executor(e, s.clock.now_unix_ms())) {
      case store::CreateExecutorResult::created:
        log::info("executor created", {{"exe_id", e.exe_id}, {"user_id", user}});
        return json_response(201, boost::json::object{{"exe_id", e.exe_id}});
      case store::CreateExecutorResult::already_owned:
        return json_response(200, boost::json::object{{"exe_id", e.exe_id}});
      case store::CreateExecutorResult::taken_by_other:
        return admin_error(409, "exe_id taken");
    }
  } catch (const store::StoreError& ex) {
    log::error("create executor failed", {{"exe_id", e.exe_id}, {"error", ex.what()}});
  }
  return admin_error(500, "create executor");
}

Response admin_get_executor(Services& s, const std::string& exe_id) {
  if (!ids::is_valid_exe_id(exe_id)) return admin_error(404, "not found");
  try {
    const auto e = s.store.get_executor(exe_id, s.clock.now_unix_ms());
    if (!e) return admin_error(404, "not found");
    return json_response(200, executor_json(*e));
  } catch (const store::StoreError& ex) {
    log::error("get executor failed", {{"exe_id", exe_id}, {"error", ex.what()}});
    return admin_error(500, "get");
  }
}

Response admin_delete_executor(Services& s, const std::string& exe_id) {
  if (!ids::is_valid_exe_id(exe_id)) return admin_error(400, "invalid exe_id");
  try {
    if (s.store.delete_executor(exe_id)) log::info("executor deleted", {{"exe_id", exe_id}});
  } catch (const store::StoreError& ex) {
    log::error("delete executor failed", {{"exe_id", exe_id}, {"error", ex.what()}});
    return admin_error(500, "delete");
  }
  s.relay.close_executor_deleted(exe_id);
  return no_content();
}

Response admin_bind(Services& s, const Request& req, const std::string& workspace_id) {
  if (!ids::is_valid_opaque_id(workspace_id)) return admin_error(400, "invalid workspace_id");
  auto parsed = parse_bind_request(req.body);
  if (!parsed) return parsed.error();
  const auto& r = *parsed;
  try {
    switch (s.store.upsert_binding({workspace_id, r.exe_id, r.name, r.description, r.is_default},
                                   s.clock.now_unix_ms())) {
      case store::UpsertBindingResult::ok:
        log::info("executor bound", {{"workspace_id", workspace_id}, {"exe_id", r.exe_id}});
        return json_response(201, boost::json::object{{"status", "ok"}});
      case store::UpsertBindingResult::executor_not_found:
        return admin_error(404, "executor " + r.exe_id + " not registered");
      case store::UpsertBindingResult::name_taken:
        return admin_error(409, "bind failed (name may already be taken in this workspace)");
    }
  } catch (const store::StoreError& ex) {
    log::error("bind failed", {{"workspace_id", workspace_id}, {"exe_id", r.exe_id}, {"error", ex.what()}});
  }
  return admin_error(500, "bind failed");
}

Response admin_list(Services& s, const std::string& workspace_id) {
  try {
    boost::json::array out;
    for (const auto& b : s.store.list_bindings(workspace_id, s.clock.now_unix_ms()))
      out.push_back(connected_executor_json(b));
    return json_response(200, out);
  } catch (const store::StoreError& ex) {
    log::error("list failed", {{"workspace_id", workspace_id}, {"error", ex.what()}});
    return admin_error(500, "list");
  }
}

Response admin_unbind(Services& s, const std::string& workspace_id, const std::string& exe_id) {
  try {
    if (s.store.delete_binding(workspace_id, exe_id))
      log::info("executor unbound", {{"workspace_id", workspace_id}, {"exe_id", exe_id}});
  } catch (const store::StoreError& ex) {
    log::error("unbind failed", {{"workspace_id", workspace_id}, {"exe_id", exe_id}, {"error", ex.what()}});
    return admin_error(500, "unbind");
  }
  s.relay.close_unbound(workspace_id, exe_id);
  return no_content();
}

}  // namespace cxg::api::handlers
