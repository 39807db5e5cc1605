#pragma once
// Decoding of a compact JWS (RFC 7515) carrying JWT claims (RFC 7519), without verification.
//
// Hand-written rather than taken from a JWT library: cxg accepts exactly one algorithm (RS256)
// and needs claim rules no library offers as such (user claim looked up as a whole name,
// then split at the last '.'; the ChatGPT account cross-check; leeway on exp/nbf only). What
// remains is splitting three base64url parts and parsing two JSON objects, which is less
// code to audit than the configuration that would make a library refuse everything else.
#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "cxg/common/result.hpp"

namespace cxg::auth {

struct Jwt {
  boost::json::object header;
  boost::json::object claims;
  std::string_view signing_input;  // "<header>.<payload>" as sent; points into the token
  std::string signature;           // decoded bytes
};

// Exactly three base64url parts (unpadded, as JWS requires); header and payload must be
// non-empty JSON objects. The error says which part is wrong, never quoting the token.
Result<Jwt, std::string> decode_jwt(std::string_view token);

}  // namespace cxg::auth
