// HTTP checks that precede a websocket upgrade (http-api.md §2.3, §2.4). They run in the
// specified order and answer in the plain error shape; only a request that passes them all
// is handed to the relay.
#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <strings.h>

#include "cxg/codec/cap_token.hpp"
#include "cxg/codec/ws_ticket.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/common/ids.hpp"
#include "cxg/common/log.hpp"
#include "handlers.hpp"

namespace cxg::api::handlers {
namespace {

constexpr auto kBindingCheckBudget = std::chrono::seconds(2);

RouteResult refuse(std::string route, Response r) { return RouteResult{std::move(route), std::move(r), std::nullopt}; }

bool origin_allowed(const Services& s, const Request& req) {
  const auto& allowed = s.config.allowed_origins;
  const auto* origin = req.header("Origin");
  if (allowed.empty() || !origin) return true;
  return std::find(allowed.begin(), allowed.end(), *origin) != allowed.end();
}

// Bridge credential: the Authorization header if present (must be Bearer), else ?token=.
std::optional<std::string> bridge_credential(const Request& req) {
  if (const auto* auth = req.header("Authorization")) {
    constexpr std::string_view kPrefix = "Bearer ";
    if (auth->size() < kPrefix.size() || strncasecmp(auth->data(), kPrefix.data(), kPrefix.size()) != 0)
      return std::nullopt;
    auto token = auth->substr(kPrefix.size());
    token.erase(0, token.find_first_not_of(' '));
    return token;
  }
  return req.query_param("token");
}

// Runs the store call on its own thread so the caller can stop waiting at the deadline; a
// call that overruns finishes in the background and its answer is discarded. nullopt on
// timeout; a StoreError is rethrown.
std::optional<bool> binding_exists_within(store::Store& store, const std::string& workspace_id,
                                          const std::string& exe_id, std::chrono::milliseconds budget) {
  auto result = std::make_shared<std::promise<bool>>();
  auto answer = result->get_future();
  std::thread([&store, result, workspace_id, exe_id] {
    try {
      result->set_value(store.binding_exists(workspace_id, exe_id));
    } catch (...) {
      result->set_exception(std::current_exception());
    }
  }).detach();
  if (answer.wait_for(budget) != std::future_status::ready) return std::nullopt;
  return answer.get();
}

void count_rejection(Services& s, const char* reason) {
  s.metrics.counter("cxg_bridge_rejections", {{"reason", reason}}).inc();
}

}  // namespace

RouteResult executor_websocket(Services& s, const Request& req, const std::string& exe_id) {
  const char* route = "executor_ws";
  if (!origin_allowed(s, req)) return refuse(route, plain(403, "origin not allowed"));
  const auto token = req.query_param("token").value_or("");
  if (!ids::is_valid_exe_id(exe_id) || token.empty()) return refuse(route, plain(400, "missing parameters"));
  const auto mode = req.query_param("mode").value_or("");
  if (!mode.empty() && mode != "relay" && mode != "json") return refuse(route, plain(400, "invalid mode"));

  const auto now_s = s.clock.now_unix_s();
  const auto check = codec::verify_ws_ticket(s.config.ws_ticket_secret, token, exe_id, now_s);
  if (check.error != codec::TicketError::none) {
    log::info("executor ticket refused", {{"exe_id", exe_id}, {"reason", codec::to_string(check.error)},
                                          {"ticket", crypto::fingerprint(token)}});
    return refuse(route, plain(401, "unauthorized"));
  }
  if (!s.ticket_guard.first_use(check.sig, check.expiry_unix_s, now_s)) {
    log::warn("executor ticket replayed", {{"exe_id", exe_id}, {"ticket", crypto::fingerprint(token)}});
    return refuse(route, plain(401, "unauthorized"));
  }
  if (!req.is_websocket_upgrade) return refuse(route, plain(426, "websocket upgrade required"));
  WebsocketAdmission a{WebsocketAdmission::Kind::executor, exe_id, mode == "json", {}, {}, {}};
  return RouteResult{route, {}, a};
}

RouteResult bridge_websocket(Services& s, const Request& req, const std::string& exe_id) {
  const char* route = "bridge_ws";
  auto reject = [&](const char* reason, Response r) {
    count_rejection(s, reason);
    return refuse(route, std::move(r));
  };
  if (!origin_allowed(s, req)) return reject("origin", plain(403, "origin not allowed"));
  const auto token = bridge_credential(req);
  if (!token) return reject("missing_bearer", plain(401, "missing Bearer"));
  if (!ids::is_valid_exe_id(exe_id) || token->empty())
    return reject("bad_request", plain(400, "missing parameters"));

  const auto claims = codec::verify_cap_token(s.config.captoken_hmac_secret, *token, s.clock.now_unix_s());
  if (!claims) {
    log::info("bridge cap-token refused", {{"exe_id", exe_id}, {"reason", claims.error().detail},
                                           {"token", crypto::fingerprint(*token)}});
    if (claims.error().error == codec::CapTokenError::expired)
      return reject("token_expired", plain(401, "token expired"));
    return reject("unauthorized", plain(401, "unauthorized"));
  }
  if (s.revocations.is_revoked(claims->turn_id)) return reject("turn_revoked", plain(401, "turn revoked"));

  // The binding check has a 2 s budget (B7): a store stuck on a lock must not hold the bridge.
  try {
    const auto bound = binding_exists_within(s.store, claims->workspace_id, exe_id, kBindingCheckBudget);
    if (!bound) throw store::StoreError("binding check exceeded its 2 s budget");
    if (!*bound) return reject("not_bound", plain(403, "exe_id not in workspace"));
  } catch (const store::StoreError& ex) {
    log::error("bridge ownership check failed", {{"exe_id", exe_id}, {"error", ex.what()}});
    return reject("ownership_check", plain(500, "ownership check failed"));
  }

  if (!s.relay.executor_connected(exe_id)) return reject("not_connected", plain(503, "executor not connected"));
  if (s.relay.legacy_executor_busy(exe_id)) return reject("busy", plain(409, "executor busy"));
  if (s.relay.active_streams(exe_id) >= s.config.max_streams_per_executor)
    return reject("stream_limit", plain(429, "stream limit reached"));
  if (!req.is_websocket_upgrade) return reject("not_upgrade", plain(426, "websocket upgrade required"));
  WebsocketAdmission a{WebsocketAdmission::Kind::bridge, exe_id, false,
                       claims->workspace_id, claims->turn_id, claims->user_id};
  return RouteResult{route, {}, a};
}

}  // namespace cxg::api::handlers
