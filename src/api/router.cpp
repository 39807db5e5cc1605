#include "cxg/api/router.hpp"

#include <initializer_list>

#include "handlers.hpp"

namespace cxg::api {
namespace {

using Segments = std::vector<std::string>;

// Matches segments against a pattern where "*" captures one segment.
bool match(const Segments& segs, std::initializer_list<const char*> pattern, std::vector<std::string>* captures) {
  if (segs.size() != pattern.size()) return false;
  std::size_t i = 0;
  for (const char* p : pattern) {
    if (std::string_view(p) == "*") {
      captures->push_back(segs[i]);
    } else if (segs[i] != p) {
      return false;
    }
    ++i;
  }
  return true;
}

Response method_not_allowed(std::string allow) {
  Response r = plain(405, "method not allowed");
  r.headers.add("Allow", std::move(allow));
  return r;
}

RouteResult done(const char* route, Response r) { return RouteResult{route, std::move(r), std::nullopt}; }

bool is_api_path(const Segments& segs) { return !segs.empty() && segs[0] == "api"; }
bool is_registration_path(const Segments& segs) {
  return segs.size() == 4 && segs[0] == "cloud" && segs[3] == "register";
}

}  // namespace

bool Router::is_inline(const Request& req) {
  const auto& s = req.segments;
  return s.size() == 1 && (s[0] == "healthz" || s[0] == "readyz" || s[0] == "metrics");
}

bool Router::waits_on_validator(const Request& req) const {
  if (!is_registration_path(req.segments)) return false;
  const auto cred = auth::parse_authorization(req.header_or_empty("Authorization"),
                                              req.header_or_empty("ChatGPT-Account-ID"));
  return cred && !s_.validator.answers_from_memory(*cred);
}

Response Router::body_too_large(const Request& req) {
  if (is_registration_path(req.segments)) return codex_error(413, "body_too_large", "request body over 64 KiB");
  if (is_api_path(req.segments)) return admin_error(413, "request body too large");
  return plain(413, "request body too large");
}

RouteResult Router::handle(const Request& req) const {
  namespace h = handlers;
  const auto& segs = req.segments;
  const auto& m = req.method;
  std::vector<std::string> cap;

  if (match(segs, {"healthz"}, &cap)) return m == "GET" ? done("healthz", h::healthz()) : done("healthz", method_not_allowed("GET"));
  if (match(segs, {"readyz"}, &cap)) return m == "GET" ? done("readyz", h::readyz(s_)) : done("readyz", method_not_allowed("GET"));
  if (match(segs, {"metrics"}, &cap)) return m == "GET" ? done("metrics", h::metrics(s_)) : done("metrics", method_not_allowed("GET"));

  if (match(segs, {"cloud", "executor", "*", "register"}, &cap) ||
      match(segs, {"cloud", "environment", "*", "register"}, &cap)) {
    if (m != "POST") return done("register", method_not_allowed("POST"));
    return done("register", h::register_executor(s_, req, segs[1], cap[0]));
  }
  if (match(segs, {"codex-exec", "*"}, &cap)) {
    if (m != "GET") return done("executor_ws", method_not_allowed("GET"));
    return h::executor_websocket(s_, req, cap[0]);
  }
  if (match(segs, {"bridge", "*"}, &cap)) {
    if (m != "GET") return done("bridge_ws", method_not_allowed("GET"));
    return h::bridge_websocket(s_, req, cap[0]);
  }

  if (segs.size() >= 2 && segs[0] == "api" && segs[1] == "codex-exec") {
    const char* route = "admin";
    const bool known = match(segs, {"api", "codex-exec", "register"}, &cap) ||
                       match(segs, {"api", "codex-exec", "executors", "*"}, &cap) ||
                       match(segs, {"api", "codex-exec", "workspaces", "*", "executors"}, &cap) ||
                       match(segs, {"api", "codex-exec", "workspaces", "*", "executors", "*"}, &cap);
    if (!known) return done("not_found", plain(404, "not found"));
    if (auto denied = h::check_admin_auth(s_, req)) return done(route, std::move(*denied));
    if (segs[2] == "register")
      return m == "POST" ? done(route, h::admin_register(s_, req)) : done(route, method_not_allowed("POST"));
    if (segs[2] == "executors") {
      if (m == "GET") return done(route, h::admin_get_executor(s_, cap[0]));
      if (m == "DELETE") return done(route, h::admin_delete_executor(s_, cap[0]));
      return done(route, method_not_allowed("GET, DELETE"));
    }
    if (segs.size() == 5) {
      if (m == "POST") return done(route, h::admin_bind(s_, req, cap[0]));
      if (m == "GET") return done(route, h::admin_list(s_, cap[0]));
      return done(route, method_not_allowed("GET, POST"));
    }
    if (m == "DELETE") return done(route, h::admin_unbind(s_, cap[0], cap[1]));
    return done(route, method_not_allowed("DELETE"));
  }

  if (match(segs, {"api", "exec-gateway", "connected"}, &cap))
    return m == "GET" ? done("connected", h::connected(s_, req)) : done("connected", method_not_allowed("GET"));
  if (match(segs, {"api", "exec-gateway", "revoke-turn"}, &cap))
    return m == "POST" ? done("revoke_turn", h::revoke_turn(s_, req)) : done("revoke_turn", method_not_allowed("POST"));

  return done("not_found", plain(404, "not found"));
}

}  // namespace cxg::api
