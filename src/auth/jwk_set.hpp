#pragma once
// RSA signing keys of a JWK Set (RFC 7517) as OpenSSL public keys, and RS256 verification.
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cxg/common/result.hpp"

namespace cxg::auth {

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PublicKey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct RsaJwk {
  std::string kid;  // "" when the JWK has none
  PublicKey key;
};

// Immutable after parsing; shared read-only between validating threads.
class JwkSet {
 public:
  explicit JwkSet(std::vector<RsaJwk> keys) : keys_(std::move(keys)) {}
  const EVP_PKEY* find(std::string_view kid) const;
  // The single key of a one-key set (tokens without kid may use it), else nullptr.
  const EVP_PKEY* only_key() const;
  std::size_t size() const { return keys_.size(); }

 private:
  std::vector<RsaJwk> keys_;
};

// Keeps the RSA keys usable for RS256; other key types are ignored, malformed or weak RSA
// keys are skipped with a warning. A document that is not a JWK Set, or holds no usable key,
// is an error.
Result<std::shared_ptr<const JwkSet>, std::string> parse_jwk_set(std::string_view json_text);

bool verify_rs256(const EVP_PKEY* key, std::string_view signing_input, std::string_view signature);

}  // namespace cxg::auth
