// JWT bearer credentials of the `jwks` validator (http-api.md §3.3): decode_jwt on fuzzed
// tokens, and the whole validator on tokens whose fuzzed header and claims are really signed
// with the key of a JWKS file (generated once per run), so the header rules, the exp/nbf
// arithmetic with leeway, iss/aud, the user claim lookup and the ChatGPT account cross-check
// are all reached. An accepted token always names a user and carries an expiry in the future.
#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <memory>
#include <string>

#include "auth/jwt.hpp"
#include "cxg/auth/validators.hpp"
#include "cxg/common/clock.hpp"
#include "cxg/common/encoding.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace cxg;
namespace json = boost::json;

EVP_PKEY* g_key = nullptr;
ManualClock* g_clock = nullptr;
std::unique_ptr<auth::Validator> g_plain, g_strict;  // without / with iss, aud and a custom user claim

std::string bn_b64u(const char* name) {
  BIGNUM* bn = nullptr;
  FUZZ_CHECK(EVP_PKEY_get_bn_param(g_key, name, &bn) == 1);
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_free(bn);
  return encoding::base64url_encode(bytes);
}

std::string sign(std::string_view input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  FUZZ_CHECK(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, g_key) == 1);
  std::size_t len = 0;
  FUZZ_CHECK(EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  std::string sig(len, '\0');
  FUZZ_CHECK(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                            reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  sig.resize(len);
  return sig;
}

void check_result(const auth::ValidationResult& r, const std::string& token, bool signed_token) {
  // Never quotes the credential (checked for signed tokens: a raw one may be a word of a message).
  if (signed_token) FUZZ_CHECK(r.detail.find(token) == std::string::npos);
  if (r.verdict != auth::Verdict::accepted) return;
  FUZZ_CHECK(!r.user_id.empty());
  FUZZ_CHECK(r.expires_at_s.has_value());
  // exp + 60 s leeway is still ahead of the clock.
  FUZZ_CHECK(g_clock->now_unix_ms() < *r.expires_at_s * 1000 + 60'000);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  g_key = EVP_RSA_gen(2048);
  FUZZ_CHECK(g_key != nullptr);
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/cxg-fuzz-jwks-" + std::to_string(::getpid());
  {
    std::ofstream f(path, std::ios::trunc);
    f << R"({"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":")" << bn_b64u(OSSL_PKEY_PARAM_RSA_N)
      << R"(","e":")" << bn_b64u(OSSL_PKEY_PARAM_RSA_E) << R"("}]})";
  }
  g_clock = new ManualClock(1'700'000'000'000);
  auth::JwksOptions plain;
  plain.file = path;
  g_plain = auth::make_jwks_validator(plain, *g_clock);
  auth::JwksOptions strict = plain;
  strict.issuer = "https://issuer.example";
  strict.audience = "cxg";
  strict.user_claim = "sub";
  strict.leeway = std::chrono::milliseconds(0);
  g_strict = auth::make_jwks_validator(strict, *g_clock);
  ::unlink(path.c_str());  // both validators have their keys; an unknown kid's re-read then fails
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const bool strict = in.ConsumeBool();
  auth::Validator& v = strict ? *g_strict : *g_plain;
  const std::string account = in.ConsumeBool() ? std::string() : in.ConsumeRandomLengthString(40);
  std::string token;
  const bool raw = in.ConsumeBool();
  if (raw) {
    token = in.ConsumeRemainingBytesAsString();
    const auto jwt = auth::decode_jwt(token);
    if (jwt) {
      FUZZ_CHECK(fuzz::points_into(token, jwt->signing_input));
      FUZZ_CHECK(token.starts_with(jwt->signing_input) && token.size() > jwt->signing_input.size());
    }
  } else {
    const std::string header = in.ConsumeBool() ? std::string(R"({"alg":"RS256","kid":"k1","typ":"JWT"})")
                                                : in.ConsumeRandomLengthString(128);
    const std::string payload = in.ConsumeRemainingBytesAsString();
    const std::string input = encoding::base64url_encode(header) + "." + encoding::base64url_encode(payload);
    token = input + "." + encoding::base64url_encode(sign(input));
    const auto jwt = auth::decode_jwt(token);
    boost::system::error_code ec1, ec2;
    const auto h = json::parse(header, ec1);
    const auto p = json::parse(payload, ec2);
    // Both parts decode exactly when both are JSON objects.
    FUZZ_CHECK(jwt.ok() == (!ec1 && h.is_object() && !ec2 && p.is_object()));
  }
  const auto r = v.validate({auth::Credential::Scheme::bearer, token, account});
  check_result(r, token, !raw);
  const auto assertion = v.validate({auth::Credential::Scheme::agent_assertion, token, account});
  FUZZ_CHECK(assertion.verdict == auth::Verdict::rejected);
  return 0;
}
