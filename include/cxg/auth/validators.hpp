#pragma once
// Factories of the concrete validators. Construction errors (bad static file, unreadable
// JWKS file at startup) throw std::runtime_error with a message naming the variable.
#include <chrono>
#include <memory>
#include <string>

#include "cxg/auth/validator.hpp"
#include "cxg/common/clock.hpp"

namespace cxg::auth {

struct AgentserverOptions {
  std::string base_url;         // CXG_AGENTSERVER_INTERNAL_URL
  std::string internal_secret;  // sent as X-Internal-Secret
  std::chrono::milliseconds timeout{5000};
};
std::unique_ptr<Validator> make_agentserver_validator(AgentserverOptions opts);

struct StaticTokensOptions {
  std::string path;  // CXG_STATIC_TOKENS_FILE
  std::chrono::milliseconds recheck_interval{5000};
};
std::unique_ptr<Validator> make_static_validator(StaticTokensOptions opts, const Clock& clock);

struct JwksOptions {
  std::string file;  // exactly one of file / url
  std::string url;
  std::chrono::milliseconds refresh{std::chrono::hours(1)};
  std::chrono::milliseconds leeway{std::chrono::seconds(60)};
  std::string issuer, audience;  // checked when non-empty
  std::string user_claim = "https://api.openai.com/auth.chatgpt_account_id";
};
std::unique_ptr<Validator> make_jwks_validator(JwksOptions opts, const Clock& clock);

// Positive-result LRU cache (4096 entries keyed by SHA-256(scheme, credential, account)).
// An entry lives `ttl`, never past the credential's expiry. A ttl of 0 disables it.
std::unique_ptr<Validator> make_caching_validator(std::unique_ptr<Validator> inner,
                                                  std::chrono::milliseconds ttl, const Clock& clock,
                                                  std::size_t capacity = 4096);

}  // namespace cxg::auth
