#pragma once
#include "cxg/config/config.hpp"

namespace cxg::config {

// Zero-configuration start (http-api.md §5, note). With SQLite, fills in any of
// CXG_CAPTOKEN_HMAC_SECRET, CXG_INTERNAL_SHARED_SECRET and the ticket key that are unset,
// from <database dir>/cxg-secrets.env, generating (32 random bytes, base64url) and appending
// the missing ones (file mode 0600). Names of generated variables go to cfg.generated_secrets.
// With PostgreSQL, throws ConfigError("<VAR> is required") for a missing one.
void ensure_secrets(Config& cfg);

// For CLI commands running beside a SQLite gateway: reads KEY=VALUE lines of the secrets
// file in `dir` (empty map if the file does not exist).
std::map<std::string, std::string> read_secrets_file(const std::string& dir);

}  // namespace cxg::config
