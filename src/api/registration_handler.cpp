// POST /cloud/{executor|environment}/{id}/register (http-api.md §2.2, wire-protocol.md §1).
#include <boost/json/object.hpp>

#include "cxg/auth/validator.hpp"
#include "cxg/codec/registration_body.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/common/ids.hpp"
#include "cxg/common/log.hpp"
#include "cxg/common/result.hpp"
#include "handlers.hpp"

namespace cxg::api::handlers {
namespace {

std::string first_forwarded_hop(const std::string& xff) {
  std::size_t start = 0;
  while (start <= xff.size()) {
    const auto comma = xff.find(',', start);
    const auto end = comma == std::string::npos ? xff.size() : comma;
    auto hop = xff.substr(start, end - start);
    const auto b = hop.find_first_not_of(" \t");
    if (b != std::string::npos) return hop.substr(b, hop.find_last_not_of(" \t") - b + 1);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return {};
}

std::string client_ip(const Request& req) {
  if (auto hop = first_forwarded_hop(req.header_or_empty("X-Forwarded-For")); !hop.empty()) return hop;
  if (auto real = req.header_or_empty("X-Real-IP"); !real.empty()) return real;
  return req.peer_ip;
}

std::string ws_base_url(const Services& s, const Request& req) {
  std::string base = s.config.public_ws_base_url;
  if (base.empty()) {
    const bool secure = req.is_tls || req.header_or_empty("X-Forwarded-Proto") == "https";
    base = (secure ? "wss://" : "ws://") + req.header_or_empty("Host");
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

struct Classified {
  std::optional<Response> error;
  bool legacy = false;
};

Classified classify(const Request& req, const std::string& id) {
  using codec::RegistrationKind;
  switch (codec::classify_registration_body(req.body, id)) {
    case RegistrationKind::relay: return {};
    case RegistrationKind::legacy_json: return {std::nullopt, true};
    case RegistrationKind::noise:
      return {codex_error(501, "unsupported_security_profile",
                          "this gateway does not support the Noise security profile (Codex 0.141+)")};
    case RegistrationKind::invalid_body:
      return {codex_error(400, "invalid_body", "registration body must be empty or a JSON object")};
    case RegistrationKind::id_mismatch:
      return {codex_error(400, "id_mismatch", "executor_id in the body does not match the path")};
  }
  return {};
}

const char* verdict_label(auth::Verdict v) {
  switch (v) {
    case auth::Verdict::accepted: return "accepted";
    case auth::Verdict::rejected: return "rejected";
    case auth::Verdict::unavailable: return "unavailable";
  }
  return "unknown";
}

// Step 3: the credential and the validator. Returns the user id or the error response.
Result<std::string, Response> authenticate(Services& s, const Request& req) {
  const auto cred = auth::parse_authorization(req.header_or_empty("Authorization"),
                                              req.header_or_empty("ChatGPT-Account-ID"));
  if (!cred) return unexpected(codex_error(401, "unauthorized", "missing or unsupported Authorization"));
  const auto result = s.validator.validate(*cred);
  s.metrics
      .counter("cxg_auth_validator_requests",
               {{"validator", std::string(s.validator.name())}, {"result", verdict_label(result.verdict)}})
      .inc();
  switch (result.verdict) {
    case auth::Verdict::accepted: return result.user_id;
    case auth::Verdict::rejected:
      log::info("registration rejected by validator", {{"detail", result.detail}});
      return unexpected(codex_error(401, "unauthorized", "credential rejected"));
    case auth::Verdict::unavailable:
      log::warn("registration validator unavailable", {{"detail", result.detail}});
      return unexpected(codex_error(503, "auth_unavailable", "credential validator unavailable"));
  }
  return unexpected(codex_error(401, "unauthorized", "credential rejected"));
}

// Step 4: the executor must exist and belong to the user (or be auto-created).
std::optional<Response> check_ownership(Services& s, const std::string& id, const std::string& user) {
  try {
    auto owner = s.store.executor_owner(id);
    if (!owner) {
      if (!s.config.register_auto_create)
        return codex_error(403, "executor_not_registered", "executor " + id + " not registered");
      owner = s.store.ensure_executor(id, user, s.clock.now_unix_ms());
    }
    if (*owner != user)
      return codex_error(403, "executor_not_owned", "executor " + id + " not owned by user " + user);
  } catch (const store::StoreError& e) {
    log::error("registration ownership check failed", {{"exe_id", id}, {"error", e.what()}});
    return codex_error(503, "store_unavailable", "executor store unavailable");
  }
  return std::nullopt;
}

void record_metadata(Services& s, const Request& req, const std::string& id, bool legacy) {
  const auto ua = req.header_or_empty("User-Agent");
  const auto info = codec::parse_user_agent(ua);
  store::RegistrationMetadata m{client_ip(req), ua, info.codex_version, info.os, legacy ? "json" : "relay"};
  try {
    s.store.record_registration(id, m, s.clock.now_unix_ms());
  } catch (const store::StoreError& e) {
    log::warn("registration metadata not recorded", {{"exe_id", id}, {"error", e.what()}});
  }
}

}  // namespace

Response register_executor(Services& s, const Request& req, std::string_view path_kind,
                           const std::string& id) {
  auto count = [&](std::string_view result) {
    s.metrics.counter("cxg_registrations", {{"path", std::string(path_kind)}, {"result", std::string(result)}}).inc();
  };
  if (!ids::is_valid_exe_id(id)) {
    count("invalid_id");
    return codex_error(400, "invalid_id", "executor id must match [A-Za-z0-9_-]{1,256}");
  }
  const auto body = classify(req, id);
  if (body.error) {
    count("invalid_body");
    return *body.error;
  }
  auto user = authenticate(s, req);
  if (!user) {
    count(user.error().status == 503 ? "auth_unavailable" : "unauthorized");
    return user.error();
  }
  if (auto denied = check_ownership(s, id, *user)) {
    count(denied->status == 503 ? "store_unavailable" : "forbidden");
    return *denied;
  }
  record_metadata(s, req, id, body.legacy);

  const auto ticket = s.ticket_issuer.mint(id, s.clock.now_unix_s());
  std::string url = ws_base_url(s, req) + "/codex-exec/" + id + "?token=" + ticket;
  if (body.legacy) url += "&mode=json";
  count("ok");
  log::info("executor registered", {{"exe_id", id}, {"user_id", *user}, {"protocol", body.legacy ? "json" : "relay"},
                                    {"ticket", crypto::fingerprint(ticket)}});
  return json_response(200, boost::json::object{{"id", id}, {"executor_id", id}, {"environment_id", id}, {"url", url}});
}

}  // namespace cxg::api::handlers
