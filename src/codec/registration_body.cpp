#include "cxg/codec/registration_body.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <optional>

namespace cxg::codec {
namespace json = boost::json;

namespace {

bool is_json_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_blank(std::string_view body) {
  for (char c : body)
    if (!is_json_whitespace(c)) return false;
  return true;
}

// Presence test for security_profile. Noise bodies carry a non-empty string; any other
// non-empty value (object, array, number, bool) is treated the same, so a future Noise
// client gets the clear 501 rather than a relay registration it cannot use.
bool has_value(const json::value* v) {
  if (!v || v->is_null()) return false;
  if (v->is_string()) return !v->get_string().empty();
  if (v->is_object()) return !v->get_object().empty();
  if (v->is_array()) return !v->get_array().empty();
  return true;
}

// An executor_id that is present (and not null) must be the path id, as a string.
bool executor_id_mismatches(const json::object& body, std::string_view path_id) {
  const json::value* id = body.if_contains("executor_id");
  if (!id || id->is_null()) return false;
  return !id->is_string() || id->get_string() != path_id;
}

}  // namespace

// Precedence: noise first (a 501 that changes no state, whatever else the body says), then
// id_mismatch (a legacy body naming another executor must not register), then legacy.
RegistrationKind classify_registration_body(std::string_view body, std::string_view path_id) {
  if (is_blank(body)) return RegistrationKind::relay;
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) return RegistrationKind::invalid_body;
  const json::object& obj = parsed.get_object();

  if (has_value(obj.if_contains("security_profile"))) return RegistrationKind::noise;
  if (executor_id_mismatches(obj, path_id)) return RegistrationKind::id_mismatch;
  if (obj.contains("idempotency_id")) return RegistrationKind::legacy_json;
  return RegistrationKind::relay;
}

// ---- User-Agent --------------------------------------------------------------------------
// Hand-written equivalents of the reference gateway's Go (RE2) regular expressions, so
// \s, \w and \b have their ASCII RE2 meanings and the first (leftmost) match wins.
namespace {

bool is_word(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_nocase(std::string_view text, std::size_t pos, std::string_view lower_word) {
  if (text.size() - pos < lower_word.size()) return false;
  for (std::size_t i = 0; i < lower_word.size(); ++i)
    if (lower(text[pos + i]) != lower_word[i]) return false;
  return true;
}

std::size_t skip_spaces(std::string_view s, std::size_t pos) {
  while (pos < s.size() && is_space(s[pos])) ++pos;
  return pos;
}

// `\s*/\s*([0-9][\w.\-+]*)` starting at pos; the captured version, or nullopt.
std::optional<std::string_view> version_after(std::string_view ua, std::size_t pos) {
  pos = skip_spaces(ua, pos);
  if (pos >= ua.size() || ua[pos] != '/') return std::nullopt;
  pos = skip_spaces(ua, pos + 1);
  if (pos >= ua.size() || !is_digit(ua[pos])) return std::nullopt;
  std::size_t end = pos + 1;
  while (end < ua.size() && (is_word(ua[end]) || ua[end] == '.' || ua[end] == '-' || ua[end] == '+')) ++end;
  return ua.substr(pos, end - pos);
}

// (?i)\bcodex(?:_cli_rs|_cli|)\s*/\s*([0-9][\w.\-+]*)
std::string_view find_codex_version(std::string_view ua) {
  static constexpr std::string_view kSuffixes[] = {"_cli_rs", "_cli", ""};  // alternation order
  for (std::size_t at = 0; at < ua.size(); ++at) {
    const bool boundary = at == 0 || !is_word(ua[at - 1]);  // 'c' is a word char
    if (!boundary || !starts_with_nocase(ua, at, "codex")) continue;
    const std::size_t after_codex = at + 5;
    for (std::string_view suffix : kSuffixes) {
      if (!starts_with_nocase(ua, after_codex, suffix)) continue;
      if (auto v = version_after(ua, after_codex + suffix.size())) return *v;
    }
  }
  return {};
}

// \(\s*([A-Za-z][A-Za-z0-9_-]*)
std::string_view find_os(std::string_view ua) {
  for (std::size_t paren = ua.find('('); paren != std::string_view::npos; paren = ua.find('(', paren + 1)) {
    const std::size_t start = skip_spaces(ua, paren + 1);
    if (start >= ua.size() || !is_alpha(ua[start])) continue;
    std::size_t end = start + 1;
    while (end < ua.size() && (is_alpha(ua[end]) || is_digit(ua[end]) || ua[end] == '_' || ua[end] == '-')) ++end;
    return ua.substr(start, end - start);
  }
  return {};
}

}  // namespace

UserAgentInfo parse_user_agent(std::string_view ua) {
  return UserAgentInfo{std::string(find_codex_version(ua)), std::string(find_os(ua))};
}

}  // namespace cxg::codec
