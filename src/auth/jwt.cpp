#include "auth/jwt.hpp"

#include <boost/json/parse.hpp>
#include <optional>

#include "cxg/common/encoding.hpp"

namespace cxg::auth {
namespace {

std::optional<boost::json::object> decode_json_object(std::string_view part) {
  const auto text = encoding::base64url_decode(part);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(*text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

}  // namespace

Result<Jwt, std::string> decode_jwt(std::string_view token) {
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return unexpected(std::string("not a JWT: expected three dot-separated parts"));
  const std::string_view header_part = token.substr(0, dot1);
  const std::string_view payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_part = token.substr(dot2 + 1);
  // An empty signature is left for the algorithm check to refuse ("none" tokens have one).
  if (header_part.empty() || payload_part.empty()) return unexpected(std::string("not a JWT: empty part"));

  auto header = decode_json_object(header_part);
  if (!header) return unexpected(std::string("JWT header is not a base64url JSON object"));
  auto claims = decode_json_object(payload_part);
  if (!claims) return unexpected(std::string("JWT payload is not a base64url JSON object"));
  auto signature = encoding::base64url_decode(signature_part);
  if (!signature) return unexpected(std::string("JWT signature is not base64url"));
  return Jwt{std::move(*header), std::move(*claims), token.substr(0, dot2), std::move(*signature)};
}

}  // namespace cxg::auth
