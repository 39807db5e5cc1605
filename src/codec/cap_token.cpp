#include "cxg/codec/cap_token.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <limits>
#include <optional>

#include "cxg/common/crypto.hpp"
#include "cxg/common/encoding.hpp"

namespace cxg::codec {
namespace json = boost::json;

namespace {

// The header cxg mints, byte for byte; verification accepts any header object with these
// two members.
constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"CXG"})";

using Failure = Unexpected<CapTokenFailure>;
Failure malformed(const char* detail) { return unexpected(CapTokenFailure{CapTokenError::malformed, detail}); }

struct TokenParts {
  std::string_view header_b64, payload_b64, sig_b64;
  std::string_view signing_input;  // "headerB64.payloadB64"
};

// Step 1: exactly three parts, none of them empty.
std::optional<TokenParts> split_token(std::string_view token) {
  const std::size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const std::size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
    return std::nullopt;
  TokenParts p{token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1),
               token.substr(0, second)};
  if (p.header_b64.empty() || p.payload_b64.empty() || p.sig_b64.empty()) return std::nullopt;
  return p;
}

// Strict base64url, then JSON, then "is an object"; nullopt on any failure.
std::optional<json::object> decode_json_object(std::string_view b64) {
  const auto bytes = encoding::base64url_decode(b64);
  if (!bytes) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(*bytes, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

bool member_is_string(const json::object& o, std::string_view name, std::string_view expected) {
  const json::value* v = o.if_contains(name);
  return v && v->is_string() && v->get_string() == expected;
}

// Step 2.
bool header_is_valid(std::string_view header_b64) {
  const auto header = decode_json_object(header_b64);
  return header && member_is_string(*header, "alg", "HS256") && member_is_string(*header, "typ", "CXG");
}

// JSON integers arrive as int64 or (when large) uint64; doubles such as 1.0 or 1e9 are
// not integers here.
std::optional<std::int64_t> as_int64(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= std::uint64_t(std::numeric_limits<std::int64_t>::max()))
    return static_cast<std::int64_t>(v.get_uint64());
  return std::nullopt;
}

// Optional members may be absent or null; a present value of the wrong type is malformed.
const json::value* optional_member(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return (v && !v->is_null()) ? v : nullptr;
}

std::optional<std::string> required_nonempty_string(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (!v || !v->is_string() || v->get_string().empty()) return std::nullopt;
  return std::string(v->get_string());
}

// Step 5: required and optional members with their types.
Result<CapClaims, CapTokenFailure> parse_claims(const json::object& payload) {
  CapClaims c;
  auto turn = required_nonempty_string(payload, "turn_id");
  if (!turn) return malformed("payload turn_id");
  auto workspace = required_nonempty_string(payload, "workspace_id");
  if (!workspace) return malformed("payload workspace_id");
  const json::value* exp = payload.if_contains("exp");
  const auto exp_value = exp ? as_int64(*exp) : std::nullopt;
  if (!exp_value) return malformed("payload exp");
  c.turn_id = std::move(*turn);
  c.workspace_id = std::move(*workspace);
  c.exp = *exp_value;

  if (const auto* user = optional_member(payload, "user_id")) {
    if (!user->is_string()) return malformed("payload user_id");
    c.user_id = std::string(user->get_string());
  }
  if (const auto* iat = optional_member(payload, "iat")) {
    const auto iat_value = as_int64(*iat);
    if (!iat_value) return malformed("payload iat");
    c.iat = *iat_value;
  }
  if (const auto* skip = optional_member(payload, "skip_audit")) {
    if (!skip->is_bool()) return malformed("payload skip_audit");
    c.skip_audit = skip->get_bool();
  }
  return c;
}

std::string payload_json(const CapClaims& claims) {
  json::object o;  // insertion order is serialisation order
  o["turn_id"] = claims.turn_id;
  o["workspace_id"] = claims.workspace_id;
  if (!claims.user_id.empty()) o["user_id"] = claims.user_id;
  o["iat"] = claims.iat;
  o["exp"] = claims.exp;
  if (claims.skip_audit) o["skip_audit"] = true;
  return json::serialize(o);
}

}  // namespace

const char* to_string(CapTokenError e) {
  switch (e) {
    case CapTokenError::malformed: return "malformed";
    case CapTokenError::bad_signature: return "bad_signature";
    case CapTokenError::expired: return "expired";
  }
  return "unknown";
}

std::string mint_cap_token(std::string_view key, const CapClaims& claims) {
  std::string token = encoding::base64url_encode(kHeaderJson);
  token.append(".").append(encoding::base64url_encode(payload_json(claims)));
  const std::string sig = encoding::base64url_encode(crypto::as_bytes(crypto::hmac_sha256(key, token)));
  token.append(".").append(sig);
  return token;
}

Result<CapClaims, CapTokenFailure> verify_cap_token(std::string_view key, std::string_view token,
                                                    std::int64_t now_unix_s) {
  const auto parts = split_token(token);
  if (!parts) return malformed("part count");
  if (!header_is_valid(parts->header_b64)) return malformed("header");
  const auto sig = encoding::base64url_decode(parts->sig_b64);
  if (!sig) return malformed("signature encoding");

  // The signature is checked before the payload is even decoded: nothing unauthenticated
  // beyond the header reaches the JSON parser.
  const auto expected = crypto::hmac_sha256(key, parts->signing_input);
  if (!crypto::constant_time_equal(*sig, crypto::as_bytes(expected)))
    return unexpected(CapTokenFailure{CapTokenError::bad_signature, "signature mismatch"});

  const auto payload = decode_json_object(parts->payload_b64);
  if (!payload) return malformed("payload");
  auto claims = parse_claims(*payload);
  if (!claims) return claims;
  if (now_unix_s > claims->exp) return unexpected(CapTokenFailure{CapTokenError::expired, "expired"});
  return claims;
}

}  // namespace cxg::codec
