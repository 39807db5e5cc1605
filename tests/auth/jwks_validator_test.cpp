#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>
#include <atomic>
#include <memory>
#include <thread>

#include "auth/temp_dir.hpp"
#include "auth/test_http_server.hpp"
#include "cxg/auth/validators.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/common/encoding.hpp"

namespace cxg::auth {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using encoding::base64url_encode;
using ::testing::HasSubstr;

// A throwaway RSA key, generated once for the suite (generation takes ~100 ms).
class TestRsaKey {
 public:
  TestRsaKey() : key_(EVP_RSA_gen(2048), EVP_PKEY_free) {
    if (!key_) throw std::runtime_error("RSA key generation failed");
  }

  json::object jwk(const std::string& kid) const {
    return {{"kty", "RSA"},
            {"kid", kid},
            {"use", "sig"},
            {"alg", "RS256"},
            {"n", base64url_encode(bn_param(OSSL_PKEY_PARAM_RSA_N))},
            {"e", base64url_encode(bn_param(OSSL_PKEY_PARAM_RSA_E))}};
  }

  std::string sign_rs256(std::string_view input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::size_t len = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1)
      throw std::runtime_error("sign init failed");
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data, input.size()) !=
        1)
      throw std::runtime_error("sign failed");
    sig.resize(len);
    return sig;
  }

  static const TestRsaKey& shared() {
    static const TestRsaKey key;
    return key;
  }

 private:
  std::string bn_param(const char* name) const {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key_.get(), name, &bn) != 1) throw std::runtime_error("no RSA param");
    std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    BN_free(bn);
    return bytes;
  }

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
};

// Keys of other types are part of real JWK Sets and must simply be skipped.
const json::object kEcJwk = {{"kty", "EC"}, {"crv", "P-256"}, {"kid", "ec-1"}, {"x", "AAAA"}, {"y", "AAAA"}};

std::string jwk_set(std::initializer_list<std::string> kids) {
  json::array keys{kEcJwk};
  for (const auto& kid : kids) keys.push_back(TestRsaKey::shared().jwk(kid));
  return json::serialize(json::object{{"keys", keys}});
}

std::string encode_part(const json::object& obj) { return base64url_encode(json::serialize(obj)); }

std::string rs256_token(const json::object& header, const json::object& claims) {
  const std::string input = encode_part(header) + "." + encode_part(claims);
  return input + "." + base64url_encode(TestRsaKey::shared().sign_rs256(input));
}

Credential bearer(std::string token, std::string account = "") {
  return {Credential::Scheme::bearer, std::move(token), std::move(account)};
}

class JwksValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override { jwks_path_ = dir_.write("jwks.json", jwk_set({"k1"})); }

  std::unique_ptr<Validator> make(JwksOptions opts = {}) {
    opts.file = jwks_path_;
    return make_jwks_validator(std::move(opts), clock_);
  }

  std::int64_t now_s() const { return clock_.now_unix_s(); }

  // A valid token's claims: the default user claim reads the nested ChatGPT account id.
  json::object claims() const {
    return {{"iss", "https://issuer.example"},
            {"aud", "codex"},
            {"sub", "user-sub"},
            {"iat", now_s()},
            {"exp", now_s() + 3600},
            {"https://api.openai.com/auth", {{"chatgpt_account_id", "acct-1"}}}};
  }

  std::string token(const json::object& claims, const std::string& kid = "k1") const {
    json::object header{{"alg", "RS256"}, {"typ", "JWT"}};
    if (!kid.empty()) header["kid"] = kid;
    return rs256_token(header, claims);
  }

  Verdict verdict_of(Validator& v, const json::object& c, std::string account = "") {
    return v.validate(bearer(token(c), std::move(account))).verdict;
  }

  test_support::TempDir dir_;
  ManualClock clock_;
  std::string jwks_path_;
};

TEST_F(JwksValidatorTest, ValidTokenIsAcceptedWithTheNestedDefaultUserClaim) {  // R15
  auto v = make();
  EXPECT_EQ(v->name(), "jwks");
  const auto c = claims();
  const auto r = v->validate(bearer(token(c)));
  EXPECT_EQ(r.verdict, Verdict::accepted);
  EXPECT_EQ(r.user_id, "acct-1");
  ASSERT_TRUE(r.expires_at_s);
  EXPECT_EQ(*r.expires_at_s, now_s() + 3600);
}

TEST_F(JwksValidatorTest, TokenWithoutKidUsesTheOnlyKey) {
  auto v = make();
  EXPECT_EQ(v->validate(bearer(token(claims(), ""))).verdict, Verdict::accepted);
}

TEST_F(JwksValidatorTest, TokenWithoutKidIsRejectedWhenSeveralKeysExist) {
  dir_.write("jwks.json", jwk_set({"k1", "k2"}));
  auto v = make();
  EXPECT_EQ(v->validate(bearer(token(claims(), ""))).verdict, Verdict::rejected);
}

TEST_F(JwksValidatorTest, AlgNoneIsRejected) {  // R15
  auto v = make();
  const std::string unsigned_token =
      encode_part({{"alg", "none"}, {"kid", "k1"}}) + "." + encode_part(claims()) + ".";
  EXPECT_EQ(v->validate(bearer(unsigned_token)).verdict, Verdict::rejected);
}

TEST_F(JwksValidatorTest, Hs256IsRejected) {  // R15
  auto v = make();
  // The classic key-confusion attempt: HMAC keyed with the public modulus.
  const std::string input = encode_part({{"alg", "HS256"}, {"kid", "k1"}}) + "." + encode_part(claims());
  const std::string modulus = std::string(TestRsaKey::shared().jwk("k1").at("n").as_string());
  const std::string hs_token =
      input + "." + base64url_encode(crypto::as_bytes(crypto::hmac_sha256(modulus, input)));
  EXPECT_EQ(v->validate(bearer(hs_token)).verdict, Verdict::rejected);
}

TEST_F(JwksValidatorTest, TamperedPayloadIsRejected) {
  auto v = make();
  const std::string good = token(claims());
  auto forged_claims = claims();
  forged_claims["https://api.openai.com/auth"] = {{"chatgpt_account_id", "acct-evil"}};
  const std::string forged =
      good.substr(0, good.find('.') + 1) + encode_part(forged_claims) + good.substr(good.rfind('.'));
  EXPECT_EQ(v->validate(bearer(forged)).verdict, Verdict::rejected);
}

TEST_F(JwksValidatorTest, PaddedOrMalformedTokensAreRejected) {
  auto v = make();
  const std::string good = token(claims());
  EXPECT_EQ(v->validate(bearer(good + "=")).verdict, Verdict::rejected);
  EXPECT_EQ(v->validate(bearer("not-a-jwt")).verdict, Verdict::rejected);
  EXPECT_EQ(v->validate(bearer(good + ".extra")).verdict, Verdict::rejected);
}

TEST_F(JwksValidatorTest, AgentAssertionIsRejected) {
  auto v = make();
  EXPECT_EQ(v->validate({Credential::Scheme::agent_assertion, token(claims()), ""}).verdict,
            Verdict::rejected);
}

TEST_F(JwksValidatorTest, ExpiryAllowsTheLeewayOnly) {  // R15
  auto v = make({.leeway = 60s});
  auto c = claims();
  c["exp"] = now_s() - 59;
  EXPECT_EQ(verdict_of(*v, c), Verdict::accepted);
  c["exp"] = now_s() - 60;
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
  c["exp"] = now_s() - 3600;
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
}

TEST_F(JwksValidatorTest, ExpIsRequired) {
  auto v = make();
  auto c = claims();
  c.erase("exp");
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
  c["exp"] = "tomorrow";
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
}

TEST_F(JwksValidatorTest, NotBeforeInTheFutureIsRejected) {
  auto v = make({.leeway = 60s});
  auto c = claims();
  c["nbf"] = now_s() + 120;
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
  c["nbf"] = now_s() + 30;  // within the leeway (clock skew)
  EXPECT_EQ(verdict_of(*v, c), Verdict::accepted);
}

TEST_F(JwksValidatorTest, IssuerIsCheckedWhenConfigured) {  // R15
  auto v = make({.issuer = "https://issuer.example"});
  EXPECT_EQ(verdict_of(*v, claims()), Verdict::accepted);
  auto c = claims();
  c["iss"] = "https://evil.example";
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
  c.erase("iss");
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
}

TEST_F(JwksValidatorTest, AudienceIsCheckedWhenConfigured) {  // R15
  auto v = make({.audience = "codex"});
  EXPECT_EQ(verdict_of(*v, claims()), Verdict::accepted);
  auto c = claims();
  c["aud"] = json::array{"other", "codex"};
  EXPECT_EQ(verdict_of(*v, c), Verdict::accepted);
  c["aud"] = "other";
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
  c["aud"] = json::array{"other"};
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
}

TEST_F(JwksValidatorTest, UnconfiguredIssuerAndAudienceAreNotChecked) {
  auto v = make();
  auto c = claims();
  c["iss"] = "anyone";
  c["aud"] = "anything";
  EXPECT_EQ(verdict_of(*v, c), Verdict::accepted);
}

TEST_F(JwksValidatorTest, AccountHeaderMustMatchTheTokensAccount) {  // R15
  auto v = make();
  EXPECT_EQ(verdict_of(*v, claims(), "acct-1"), Verdict::accepted);
  EXPECT_EQ(verdict_of(*v, claims(), "acct-2"), Verdict::rejected);
  EXPECT_EQ(verdict_of(*v, claims(), ""), Verdict::accepted);
}

TEST_F(JwksValidatorTest, AccountHeaderIsFreeWhenTheTokenHasNoAccountClaim) {
  auto v = make({.user_claim = "sub"});
  auto c = claims();
  c.erase("https://api.openai.com/auth");
  EXPECT_EQ(verdict_of(*v, c, "acct-2"), Verdict::accepted);
}

TEST_F(JwksValidatorTest, MissingUserClaimIsRejected) {
  auto v = make();
  auto c = claims();
  c["https://api.openai.com/auth"] = json::object{{"chatgpt_user_id", "u"}};
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
  c["https://api.openai.com/auth"] = json::object{{"chatgpt_account_id", ""}};
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
  c.erase("https://api.openai.com/auth");
  EXPECT_EQ(verdict_of(*v, c), Verdict::rejected);
}

TEST_F(JwksValidatorTest, TopLevelUserClaimName) {
  auto v = make({.user_claim = "sub"});
  EXPECT_EQ(v->validate(bearer(token(claims()))).user_id, "user-sub");
}

TEST_F(JwksValidatorTest, WholeDottedNameIsTriedBeforeSplitting) {
  auto v = make({.user_claim = "https://example.com/user.id"});
  auto c = claims();
  c["https://example.com/user"] = json::object{{"id", "nested-user"}};
  EXPECT_EQ(v->validate(bearer(token(c))).user_id, "nested-user");
  c["https://example.com/user.id"] = "top-level-user";
  EXPECT_EQ(v->validate(bearer(token(c))).user_id, "top-level-user");
}

TEST_F(JwksValidatorTest, ConcurrentValidationsShareTheKeys) {
  auto v = make();
  const std::string good = token(claims());
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) accepted += v->validate(bearer(good)).verdict == Verdict::accepted;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(accepted, 200);
}

TEST_F(JwksValidatorTest, UnknownKidIsRejected) {
  auto v = make();
  EXPECT_EQ(v->validate(bearer(token(claims(), "k-unknown"))).verdict, Verdict::rejected);
}

TEST_F(JwksValidatorTest, UnknownKidRefetchesAtMostOncePerMinute) {
  auto v = make();
  const std::string rotated = token(claims(), "k2");
  EXPECT_EQ(v->validate(bearer(rotated)).verdict, Verdict::rejected);  // refetched: still unknown
  dir_.write("jwks.json", jwk_set({"k1", "k2"}));
  clock_.advance_ms(59'999);
  EXPECT_EQ(v->validate(bearer(rotated)).verdict, Verdict::rejected);  // no refetch yet
  clock_.advance_ms(1);
  EXPECT_EQ(v->validate(bearer(rotated)).verdict, Verdict::accepted);
}

TEST_F(JwksValidatorTest, KeysAreReReadEveryRefresh) {
  auto v = make({.refresh = 1h});
  dir_.write("jwks.json", "{ not json");
  clock_.advance_ms(3'600'000);
  EXPECT_EQ(verdict_of(*v, claims()), Verdict::accepted);  // a bad file keeps the old keys
  dir_.write("jwks.json", jwk_set({"k2"}));
  clock_.advance_ms(3'600'000);
  EXPECT_EQ(v->validate(bearer(token(claims(), "k2"))).verdict, Verdict::accepted);
}

TEST_F(JwksValidatorTest, BadFileAtStartupThrowsNamingTheVariable) {
  for (const char* content : {"{ not json", R"({"keys":"no"})", R"({"keys":[{"kty":"EC"}]})"}) {
    dir_.write("jwks.json", content);
    try {
      make();
      FAIL() << "no exception for " << content;
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("CXG_JWKS_FILE")) << content;
    }
  }
}

TEST_F(JwksValidatorTest, MissingFileAtStartupThrows) {
  EXPECT_THROW(make_jwks_validator({.file = dir_.path("absent.json")}, clock_), std::runtime_error);
}

TEST_F(JwksValidatorTest, FileAndUrlAreExclusive) {
  EXPECT_THROW(make_jwks_validator({}, clock_), std::runtime_error);
  EXPECT_THROW(make_jwks_validator({.file = jwks_path_, .url = "http://127.0.0.1:1/"}, clock_),
               std::runtime_error);
}

TEST_F(JwksValidatorTest, KeysFromUrl) {
  test_support::TestHttpServer server(test_support::TestHttpServer::response(200, jwk_set({"k1"})));
  auto v = make_jwks_validator({.url = server.base_url() + "/.well-known/jwks.json"}, clock_);
  EXPECT_EQ(verdict_of(*v, claims()), Verdict::accepted);
  EXPECT_EQ(verdict_of(*v, claims()), Verdict::accepted);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);  // fetched once, then kept until the refresh
  EXPECT_EQ(requests[0].request_line, "GET /.well-known/jwks.json HTTP/1.1");
}

TEST_F(JwksValidatorTest, UnreachableUrlIsAnOutage) {
  const auto port = test_support::TestHttpServer::closed_port();
  auto v = make_jwks_validator({.url = "http://127.0.0.1:" + std::to_string(port) + "/jwks"}, clock_);
  EXPECT_EQ(verdict_of(*v, claims()), Verdict::unavailable);
}

TEST_F(JwksValidatorTest, UrlServingAnErrorIsAnOutage) {
  test_support::TestHttpServer server(test_support::TestHttpServer::response(500, "down", "text/plain"));
  auto v = make_jwks_validator({.url = server.base_url() + "/jwks"}, clock_);
  EXPECT_EQ(verdict_of(*v, claims()), Verdict::unavailable);
}

}  // namespace
}  // namespace cxg::auth
