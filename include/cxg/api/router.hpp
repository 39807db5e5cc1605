#pragma once
// Maps a request to its handler (http-api.md §2). Pure: no sockets, no Beast.
#include <optional>
#include <string>

#include "cxg/api/http_types.hpp"
#include "cxg/api/services.hpp"

namespace cxg::api {

// What the transport must do with a websocket request that passed its HTTP checks.
struct WebsocketAdmission {
  enum class Kind { executor, bridge } kind;
  std::string exe_id;
  bool legacy_json = false;       // executor: mode=json
  std::string workspace_id, turn_id, user_id;  // bridge: from the cap-token
};

struct RouteResult {
  std::string route;  // metrics label, e.g. "register", "admin_executor"
  Response response;  // meaningful when !admission
  std::optional<WebsocketAdmission> admission;  // set: upgrade the connection
};

class Router {
 public:
  explicit Router(Services& s) : s_(s) {}
  RouteResult handle(const Request& req) const;
  // Whether the route may block (store, validator) and belongs on the worker pool.
  static bool is_inline(const Request& req);
  // Registrations that will wait on the validator (up to its 5 s timeout) run on a pool of
  // their own, so that a slow or hung validator delays neither bridges and admin calls nor
  // registrations whose credential the validator answers from memory (cached).
  bool waits_on_validator(const Request& req) const;
  // The 413 answer for a body over the limit, in the shape the route's callers expect.
  static Response body_too_large(const Request& req);

 private:
  Services& s_;
};

}  // namespace cxg::api
