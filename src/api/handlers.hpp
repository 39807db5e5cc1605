#pragma once
// Route handlers (http-api.md §2). Each takes the services and the request and returns the
// response; none touches a socket.
#include <string>
#include <string_view>

#include "cxg/api/router.hpp"
#include "cxg/common/result.hpp"

namespace cxg::api::handlers {

Response healthz();
Response readyz(Services& s);
Response metrics(Services& s);

Response register_executor(Services& s, const Request& req, std::string_view path_kind,
                           const std::string& id);

// Admin API; the caller has checked X-Internal-Secret.
std::optional<Response> check_admin_auth(Services& s, const Request& req);
Response admin_register(Services& s, const Request& req);
Response admin_get_executor(Services& s, const std::string& exe_id);
Response admin_delete_executor(Services& s, const std::string& exe_id);
Response admin_bind(Services& s, const Request& req, const std::string& workspace_id);
Response admin_list(Services& s, const std::string& workspace_id);
Response admin_unbind(Services& s, const std::string& workspace_id, const std::string& exe_id);

Response connected(Services& s, const Request& req);
Response revoke_turn(Services& s, const Request& req);

RouteResult executor_websocket(Services& s, const Request& req, const std::string& exe_id);
RouteResult bridge_websocket(Services& s, const Request& req, const std::string& exe_id);

}  // namespace cxg::api::handlers
