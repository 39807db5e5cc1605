// Internal API /api/exec-gateway/* (http-api.md §2.6).
#include <boost/json/array.hpp>
#include <strings.h>

#include "cxg/codec/cap_token.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/common/log.hpp"
#include "handlers.hpp"
#include "json_body.hpp"
#include "json_models.hpp"

namespace cxg::api::handlers {
namespace {

// "Bearer <token>" with the scheme matched case-insensitively; nullopt without the scheme.
// The HTTP parser drops trailing whitespace, so "Bearer " arrives as "Bearer": an empty token.
std::optional<std::string_view> bearer_token(const Request& req) {
  const auto* auth = req.header("Authorization");
  constexpr std::string_view kScheme = "Bearer";
  if (!auth || auth->size() < kScheme.size() || strncasecmp(auth->data(), kScheme.data(), kScheme.size()) != 0)
    return std::nullopt;
  std::string_view rest(*auth);
  rest.remove_prefix(kScheme.size());
  if (!rest.empty() && rest.front() != ' ') return std::nullopt;  // e.g. "Bearerx"
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return rest;
}

}  // namespace

Response connected(Services& s, const Request& req) {
  const auto token = bearer_token(req);
  if (!token) return plain(401, "missing Bearer");
  if (token->empty()) return plain(401, "empty bearer");
  const auto claims = codec::verify_cap_token(s.config.captoken_hmac_secret, *token, s.clock.now_unix_s());
  if (!claims) {
    log::info("connected: cap-token refused", {{"reason", claims.error().detail}, {"token", crypto::fingerprint(*token)}});
    return plain(401, "unauthorized");
  }
  if (s.revocations.is_revoked(claims->turn_id)) return plain(401, "unauthorized");
  try {
    boost::json::array out;
    for (const auto& b : s.store.list_bindings(claims->workspace_id, s.clock.now_unix_ms()))
      if (b.executor.is_online) out.push_back(connected_executor_json(b));
    return json_response(200, out);
  } catch (const store::StoreError& ex) {
    log::error("connected: list failed", {{"error", ex.what()}});
    return admin_error(500, "list");
  }
}

Response revoke_turn(Services& s, const Request& req) {
  const auto token = bearer_token(req);
  if (!token || !crypto::secret_matches(*token, s.config.internal_shared_secret))
    return plain(401, "unauthorized");
  const auto obj = parse_json_object(req.body, false);
  if (!obj) return admin_error(400, "invalid JSON");
  const auto turn_id = optional_string(*obj, "turn_id");
  const auto* exp = obj->if_contains("exp");
  if (!turn_id || (exp && !exp->is_null() && !exp->is_int64() && !exp->is_uint64()))
    return admin_error(400, "invalid JSON");
  if (turn_id->empty()) return admin_error(400, "turn_id required");
  if (turn_id->size() > 256) return admin_error(400, "turn_id too long");
  std::int64_t exp_s = 0;
  if (exp && exp->is_int64()) exp_s = exp->as_int64();
  if (exp && exp->is_uint64()) return admin_error(400, "invalid exp");
  constexpr std::int64_t kMaxExpS = 253'402'300'799;  // 9999-12-31: keeps exp*1000 in range
  if (exp_s < 0 || exp_s > kMaxExpS) return admin_error(400, "invalid exp");
  const std::int64_t expires_at_ms =
      exp_s == 0 ? s.clock.now_unix_ms() + s.config.revocation_default_ttl.count() : exp_s * 1000;
  try {
    s.revocations.revoke(*turn_id, expires_at_ms);
  } catch (const store::StoreError& ex) {
    log::error("revoke-turn: store failed", {{"error", ex.what()}});
    return admin_error(503, "store unavailable");
  }
  log::info("turn revoked", {{"turn_id", *turn_id}, {"expires_at_ms", expires_at_ms}});
  return no_content();
}

}  // namespace cxg::api::handlers
