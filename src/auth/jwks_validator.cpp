// `jwks` validator (http-api.md §3.3): offline RS256 JWT verification against a JWK Set.
// See auth/jwt.hpp for why JWT decoding is hand-written.
#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "auth/http_client.hpp"
#include "auth/jwk_set.hpp"
#include "auth/jwt.hpp"
#include "auth/outcome.hpp"
#include "auth/text_file.hpp"
#include "cxg/auth/validators.hpp"
#include "cxg/common/log.hpp"

namespace cxg::auth {
namespace {

namespace json = boost::json;

constexpr std::string_view kName = "jwks";
constexpr std::string_view kAccountClaim = "https://api.openai.com/auth";
constexpr std::string_view kAccountMember = "chatgpt_account_id";
constexpr std::int64_t kUnknownKidRefetchIntervalMs = 60'000;
// After a failed fetch, retry sooner than `refresh` but not on every request: meanwhile
// requests fail fast (outage) instead of each waiting for the timeout.
constexpr std::int64_t kRetryAfterFailureMs = 30'000;
constexpr std::size_t kMaxJwksBytes = 1 << 20;
constexpr std::chrono::milliseconds kFetchTimeout{5000};
// Keeps `seconds * 1000 + leeway` far from overflow; no real token is dated past 9999.
constexpr std::int64_t kMaxNumericDate = 253'402'300'799;

using FetchKeys = std::function<Result<std::string, std::string>()>;

FetchKeys file_fetcher(std::string path) {
  return [path = std::move(path)] { return read_text_file(path); };
}

FetchKeys url_fetcher(std::string url) {
  return [url = std::move(url)]() -> Result<std::string, std::string> {
    auto response = http::perform({.url = url,
                                   .headers = {"Accept: application/json"},
                                   .timeout = kFetchTimeout,
                                   .max_response_bytes = kMaxJwksBytes});
    if (!response) return unexpected(url + ": " + response.error());
    if (response->status != 200) return unexpected(url + ": HTTP " + std::to_string(response->status));
    return std::move(response->body);
  };
}

// The current JWK Set, refreshed every `refresh` and on demand for an unknown kid.
class KeyStore {
 public:
  struct Source {
    std::string variable;  // CXG_JWKS_FILE or CXG_JWKS_URL, named in errors
    std::string location;  // the path or URL
    FetchKeys fetch;
  };

  KeyStore(Source source, std::int64_t refresh_ms, const Clock& clock)
      : variable_(std::move(source.variable)),
        source_(std::move(source.location)),
        fetch_(std::move(source.fetch)),
        refresh_ms_(refresh_ms),
        clock_(clock) {}

  void load_or_throw() {
    auto parsed = fetch_and_parse();
    if (!parsed) throw std::runtime_error(variable_ + ": " + parsed.error());
    install(std::move(*parsed));
  }

  // nullptr while no key set could ever be loaded.
  std::shared_ptr<const JwkSet> current() {
    if (!refresh_due()) return snapshot();
    std::unique_lock refreshing(refresh_mu_, std::try_to_lock);
    if (!refreshing.owns_lock()) {
      // Another thread is fetching: the previous keys stay good meanwhile; with none, wait.
      if (auto keys = snapshot()) return keys;
      refreshing.lock();
    }
    if (refresh_due()) refresh();
    return snapshot();
  }

  // A kid may be new because the issuer rotated keys: fetch again, at most once a minute
  // so that tokens with made-up kids cannot make cxg hammer the key source.
  std::shared_ptr<const JwkSet> refetch_for_unknown_kid() {
    if (!claim_kid_refetch()) return snapshot();
    std::lock_guard refreshing(refresh_mu_);
    refresh();
    return snapshot();
  }

  std::string last_problem() const {
    std::lock_guard lock(mu_);
    return last_problem_;
  }

 private:
  std::shared_ptr<const JwkSet> snapshot() const {
    std::lock_guard lock(mu_);
    return keys_;
  }

  bool refresh_due() const {
    std::lock_guard lock(mu_);
    return clock_.now_unix_ms() >= next_refresh_ms_;
  }

  bool claim_kid_refetch() {
    std::lock_guard lock(mu_);
    const std::int64_t now = clock_.now_unix_ms();
    if (last_kid_refetch_ms_ && now - *last_kid_refetch_ms_ < kUnknownKidRefetchIntervalMs) return false;
    last_kid_refetch_ms_ = now;
    return true;
  }

  Result<std::shared_ptr<const JwkSet>, std::string> fetch_and_parse() const {
    auto fetched = fetch_();
    if (!fetched) return unexpected(fetched.error());
    auto parsed = parse_jwk_set(*fetched);
    if (!parsed) return unexpected(source_ + ": " + parsed.error());
    return parsed;
  }

  // Installs a fresh key set; on failure keeps the previous one and retries soon.
  void refresh() {
    auto parsed = fetch_and_parse();
    if (parsed) return install(std::move(*parsed));
    std::lock_guard lock(mu_);
    next_refresh_ms_ = clock_.now_unix_ms() + std::min(refresh_ms_, kRetryAfterFailureMs);
    last_problem_ = parsed.error();
    log::error(keys_ ? "JWKS refresh failed; keeping the previous keys" : "JWKS keys unavailable",
               {{"variable", variable_}, {"problem", last_problem_}});
  }

  void install(std::shared_ptr<const JwkSet> keys) {
    std::lock_guard lock(mu_);
    keys_ = std::move(keys);
    next_refresh_ms_ = clock_.now_unix_ms() + refresh_ms_;
    last_problem_.clear();
  }

  const std::string variable_;
  const std::string source_;
  const FetchKeys fetch_;
  const std::int64_t refresh_ms_;
  const Clock& clock_;
  std::mutex refresh_mu_;  // one fetch at a time
  mutable std::mutex mu_;  // guards the members below
  std::shared_ptr<const JwkSet> keys_;
  std::int64_t next_refresh_ms_ = 0;
  std::optional<std::int64_t> last_kid_refetch_ms_;
  std::string last_problem_;
};

// Attacker-chosen strings are shortened before they reach a log line.
std::string for_log(std::string_view s) { return std::string(s.substr(0, 40)); }

std::optional<std::string> header_problem(const json::object& header) {
  const json::value* alg = header.if_contains("alg");
  if (!alg || !alg->is_string()) return "JWT header without alg";
  if (alg->as_string() != "RS256") return "alg " + for_log(alg->as_string()) + " not accepted (RS256 only)";
  // RFC 7515 §4.1.11: extensions listed in crit must be understood; cxg understands none.
  if (header.contains("crit")) return "JWT header has crit extensions";
  if (const json::value* kid = header.if_contains("kid"); kid && !kid->is_string())
    return "kid is not a string";
  return std::nullopt;
}

std::string_view string_claim(const json::object& claims, std::string_view name) {
  const json::value* v = claims.if_contains(name);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

// RFC 7519 NumericDate: seconds, possibly fractional (rounded down).
std::optional<std::int64_t> numeric_date(const json::value& v) {
  double seconds = 0;
  if (v.is_int64())
    seconds = static_cast<double>(v.as_int64());
  else if (v.is_uint64())
    seconds = static_cast<double>(v.as_uint64());
  else if (v.is_double())
    seconds = v.as_double();
  else
    return std::nullopt;
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxNumericDate) return std::nullopt;
  return static_cast<std::int64_t>(std::floor(seconds));
}

bool has_audience(const json::object& claims, std::string_view audience) {
  const json::value* aud = claims.if_contains("aud");
  if (!aud) return false;
  if (aud->is_string()) return aud->as_string() == audience;
  if (!aud->is_array()) return false;
  const auto& list = aud->as_array();
  return std::any_of(list.begin(), list.end(),
                     [&](const json::value& v) { return v.is_string() && v.as_string() == audience; });
}

// The whole name as a top-level claim first; otherwise "<object claim>.<member>" split at
// the last '.', so claim names that contain dots (URLs) still work.
const json::value* find_user_claim(const json::object& claims, std::string_view name) {
  if (const json::value* v = claims.if_contains(name)) return v;
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return nullptr;
  const json::value* object = claims.if_contains(name.substr(0, dot));
  if (!object || !object->is_object()) return nullptr;
  return object->as_object().if_contains(name.substr(dot + 1));
}

// Only a token that carries the account claim can contradict the header.
bool contradicts_account(const json::object& claims, std::string_view account_id) {
  if (account_id.empty()) return false;
  const json::value* auth = claims.if_contains(kAccountClaim);
  if (!auth || !auth->is_object()) return false;
  const json::value* account = auth->as_object().if_contains(kAccountMember);
  if (!account) return false;
  return !account->is_string() || account->as_string() != account_id;
}

struct SelectedKey {
  std::shared_ptr<const JwkSet> set;  // keeps `key` alive
  const EVP_PKEY* key = nullptr;
};

class JwksValidator final : public Validator {
 public:
  JwksValidator(JwksOptions opts, const Clock& clock, KeyStore::Source source)
      : keys_(std::move(source), opts.refresh.count(), clock),
        leeway_ms_(opts.leeway.count()),
        issuer_(std::move(opts.issuer)),
        audience_(std::move(opts.audience)),
        user_claim_(std::move(opts.user_claim)),
        clock_(clock) {}

  KeyStore& key_store() { return keys_; }

  ValidationResult validate(const Credential& credential) override {
    if (credential.scheme != Credential::Scheme::bearer)
      return outcome::rejected(kName, credential, "jwks accepts Bearer JWTs only");
    auto jwt = decode_jwt(credential.value);
    if (!jwt) return outcome::rejected(kName, credential, jwt.error());
    if (auto problem = header_problem(jwt->header)) return outcome::rejected(kName, credential, *problem);
    auto keys = keys_.current();
    if (!keys) return outcome::unavailable(kName, credential, "no JWKS keys: " + keys_.last_problem());
    auto selected = select_key(std::move(keys), string_claim(jwt->header, "kid"));
    if (!selected) return outcome::rejected(kName, credential, selected.error());
    if (!verify_rs256(selected->key, jwt->signing_input, jwt->signature))
      return outcome::rejected(kName, credential, "signature does not verify");
    return check_claims(jwt->claims, credential);
  }

  std::string_view name() const override { return kName; }

 private:
  Result<SelectedKey, std::string> select_key(std::shared_ptr<const JwkSet> keys, std::string_view kid) {
    if (kid.empty()) {
      if (const EVP_PKEY* only = keys->only_key()) return SelectedKey{std::move(keys), only};
      return unexpected("token has no kid and the key set holds " + std::to_string(keys->size()) + " keys");
    }
    if (const EVP_PKEY* key = keys->find(kid)) return SelectedKey{std::move(keys), key};
    keys = keys_.refetch_for_unknown_kid();
    if (const EVP_PKEY* key = keys ? keys->find(kid) : nullptr) return SelectedKey{std::move(keys), key};
    return unexpected("unknown kid " + for_log(kid));
  }

  ValidationResult check_claims(const json::object& claims, const Credential& credential) const {
    const json::value* exp_claim = claims.if_contains("exp");
    const auto exp = exp_claim ? numeric_date(*exp_claim) : std::nullopt;
    if (!exp) return outcome::rejected(kName, credential, "exp missing or not a NumericDate");
    if (auto problem = claims_problem(claims, *exp, credential))
      return outcome::rejected(kName, credential, *problem);
    const json::value* user = find_user_claim(claims, user_claim_);
    if (!user || !user->is_string() || user->as_string().empty())
      return outcome::rejected(kName, credential,
                               "user claim " + user_claim_ + " missing or not a non-empty string");
    return outcome::accepted(std::string(user->as_string()), *exp);
  }

  std::optional<std::string> claims_problem(const json::object& claims, std::int64_t exp,
                                            const Credential& credential) const {
    const std::int64_t now_ms = clock_.now_unix_ms();
    if (now_ms >= exp * 1000 + leeway_ms_) return "expired";
    if (const json::value* nbf_claim = claims.if_contains("nbf")) {
      const auto nbf = numeric_date(*nbf_claim);
      if (!nbf) return "nbf is not a NumericDate";
      if (now_ms + leeway_ms_ < *nbf * 1000) return "not valid yet (nbf)";
    }
    if (!issuer_.empty() && string_claim(claims, "iss") != issuer_) return "iss does not match";
    if (!audience_.empty() && !has_audience(claims, audience_)) return "aud does not match";
    if (contradicts_account(claims, credential.account_id))
      return "ChatGPT-Account-ID contradicts the token's account claim";
    return std::nullopt;
  }

  KeyStore keys_;
  const std::int64_t leeway_ms_;
  const std::string issuer_, audience_, user_claim_;
  const Clock& clock_;
};

}  // namespace

std::unique_ptr<Validator> make_jwks_validator(JwksOptions opts, const Clock& clock) {
  if (opts.file.empty() == opts.url.empty())
    throw std::runtime_error("CXG_JWKS_FILE / CXG_JWKS_URL: exactly one must be set for the jwks validator");
  if (!opts.file.empty()) {
    KeyStore::Source source{"CXG_JWKS_FILE", opts.file, file_fetcher(opts.file)};
    auto validator = std::make_unique<JwksValidator>(std::move(opts), clock, std::move(source));
    validator->key_store().load_or_throw();  // a bad file stops startup
    return validator;
  }
  // A URL is fetched on first use: an unreachable key server is an outage, not a startup error.
  KeyStore::Source source{"CXG_JWKS_URL", opts.url, url_fetcher(opts.url)};
  return std::make_unique<JwksValidator>(std::move(opts), clock, std::move(source));
}

}  // namespace cxg::auth
