#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace cxg::encoding {

// base64url without padding (RFC 4648 §5). Decoding is strict: '=' padding, characters
// outside the url alphabet, an impossible length (len % 4 == 1) and non-zero trailing bits
// are all rejected, so every token has exactly one textual form.
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

// Standard base64 with padding (RFC 4648 §4), as used by JSON-RPC payloads.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

std::string hex_encode(std::string_view bytes);

}  // namespace cxg::encoding
