#pragma once
// Capability token `B64U(header).B64U(payload).B64U(sig)` (http-api.md §3.2).
// Hand-written rather than taken from a JWT library: the verify order, the error mapping
// (malformed / bad signature / expired, with exp == now valid) and the strict unpadded
// base64url are part of the wire contract, and JWT libraries differ on each.
#include <cstdint>
#include <string>
#include <string_view>

#include "cxg/common/result.hpp"

namespace cxg::codec {

struct CapClaims {
  std::string turn_id;
  std::string workspace_id;
  std::string user_id;  // "" when absent
  std::int64_t iat = 0;
  std::int64_t exp = 0;
  bool skip_audit = false;
};

enum class CapTokenError { malformed, bad_signature, expired };
const char* to_string(CapTokenError e);

struct CapTokenFailure {
  CapTokenError error;
  const char* detail;  // which step failed, for logs only
};

std::string mint_cap_token(std::string_view key, const CapClaims& claims);
Result<CapClaims, CapTokenFailure> verify_cap_token(std::string_view key, std::string_view token,
                                                    std::int64_t now_unix_s);

}  // namespace cxg::codec
