// JWK Set documents (RFC 7517) for the `jwks` validator: parse_jwk_set on fuzzed JSON. Only
// RSA signing keys of at least 2048 bits are kept; a set with none is an error.
#include <openssl/evp.h>

#include <string>

#include "auth/jwk_set.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = cxg::fuzz::as_view(data, size);
  const auto set = cxg::auth::parse_jwk_set(text);
  if (!set) {
    FUZZ_CHECK(!set.error().empty());
    return 0;
  }
  const auto& keys = **set;
  FUZZ_CHECK(keys.size() >= 1);
  FUZZ_CHECK((keys.only_key() != nullptr) == (keys.size() == 1));
  if (const EVP_PKEY* k = keys.only_key()) FUZZ_CHECK(EVP_PKEY_get_bits(k) >= 2048);
  (void)keys.find("");
  (void)keys.find("k1");
  // A signature that cannot be right never verifies.
  if (const EVP_PKEY* k = keys.only_key()) FUZZ_CHECK(!cxg::auth::verify_rs256(k, "a.b", std::string(256, '\x01')));
  return 0;
}
