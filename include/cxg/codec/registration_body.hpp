#pragma once
// Registration body classification per Codex release (wire-protocol.md §1.2) and the
// User-Agent metadata extraction (http-api.md §2.2).
#include <string>
#include <string_view>

namespace cxg::codec {

enum class RegistrationKind {
  relay,           // empty body or unknown JSON object: 0.131-0.138
  legacy_json,     // object with idempotency_id: 0.130
  noise,           // object with non-empty security_profile: 0.141+ -> 501
  invalid_body,    // not JSON or not an object -> 400 invalid_body
  id_mismatch,     // executor_id present and != path id -> 400 id_mismatch
};

RegistrationKind classify_registration_body(std::string_view body, std::string_view path_id);

struct UserAgentInfo {
  std::string codex_version;  // "" if absent
  std::string os;             // "" if absent
};
// codex_version: first match of (?i)\bcodex(?:_cli_rs|_cli|)\s*/\s*([0-9][\w.\-+]*)
// os: first match of \(\s*([A-Za-z][A-Za-z0-9_-]*)
UserAgentInfo parse_user_agent(std::string_view ua);

}  // namespace cxg::codec
