#include <cctype>

#include "cxg/auth/validator.hpp"

namespace cxg::auth {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// HTTP field values may carry optional whitespace at either end (RFC 9110 §5.5); it is never
// part of the credential.
std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<Credential::Scheme> parse_scheme(std::string_view scheme) {
  if (iequals(scheme, "Bearer")) return Credential::Scheme::bearer;
  if (iequals(scheme, "AgentAssertion")) return Credential::Scheme::agent_assertion;
  return std::nullopt;
}

}  // namespace

std::optional<Credential> parse_authorization(std::string_view header_value, std::string_view account_id) {
  const std::string_view value = trim_ows(header_value);
  const std::size_t space = value.find(' ');
  if (space == std::string_view::npos) return std::nullopt;  // scheme alone, or nothing
  const auto scheme = parse_scheme(value.substr(0, space));
  if (!scheme) return std::nullopt;
  // RFC 9110 §11.4 separates scheme and credential by 1*SP; clients that send several are
  // tolerated. Internal spaces are kept: the validator decides whether such a value is valid.
  const std::string_view credential = trim_ows(value.substr(space + 1));
  if (credential.empty()) return std::nullopt;
  return Credential{*scheme, std::string(credential), std::string(account_id)};
}

}  // namespace cxg::auth
