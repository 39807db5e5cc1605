#include "cxg/codec/cap_token.hpp"

#include <gtest/gtest.h>

#include <ostream>

#include "cxg/common/crypto.hpp"
#include "cxg/common/encoding.hpp"

namespace cxg::codec {
// Readable gtest failure output.
void PrintTo(CapTokenError e, std::ostream* os) { *os << to_string(e); }

namespace {

constexpr std::string_view kKey = "cap-key";
constexpr std::int64_t kNow = 1'779'000'000;
constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"CXG"})";

std::string b64(std::string_view s) { return encoding::base64url_encode(s); }
std::string sign(std::string_view key, std::string_view input) {
  return b64(crypto::as_bytes(crypto::hmac_sha256(key, input)));
}
// Builds a token from raw JSON texts, signed correctly with `key`.
std::string token_from_json(std::string_view header, std::string_view payload, std::string_view key = kKey) {
  const std::string input = b64(header) + "." + b64(payload);
  return input + "." + sign(key, input);
}
std::string payload_with(std::string_view members) {
  return std::string(R"({"turn_id":"trn_1","workspace_id":"ws_1",)") + std::string(members) + "}";
}

CapClaims sample_claims() {
  CapClaims c;
  c.turn_id = "trn_1";
  c.workspace_id = "ws_1";
  c.user_id = "user_1";
  c.iat = kNow - 10;
  c.exp = kNow + 3600;
  return c;
}

CapTokenError error_of(std::string_view token, std::int64_t now = kNow, std::string_view key = kKey) {
  const auto result = verify_cap_token(key, token, now);
  EXPECT_FALSE(result.ok()) << token;
  return result.ok() ? CapTokenError::expired : result.error().error;
}

// C1
TEST(CapToken, RoundTripWithUser) {
  const CapClaims in = sample_claims();
  const auto out = verify_cap_token(kKey, mint_cap_token(kKey, in), kNow);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->turn_id, "trn_1");
  EXPECT_EQ(out->workspace_id, "ws_1");
  EXPECT_EQ(out->user_id, "user_1");
  EXPECT_EQ(out->iat, in.iat);
  EXPECT_EQ(out->exp, in.exp);
  EXPECT_FALSE(out->skip_audit);
}

TEST(CapToken, RoundTripWithoutUser) {
  CapClaims in = sample_claims();
  in.user_id.clear();
  in.skip_audit = true;
  const auto out = verify_cap_token(kKey, mint_cap_token(kKey, in), kNow);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->user_id, "");
  EXPECT_TRUE(out->skip_audit);
}

TEST(CapToken, MintedBytesMatchSpecLayout) {
  CapClaims in = sample_claims();
  const std::string token = mint_cap_token(kKey, in);
  const std::string payload = R"({"turn_id":"trn_1","workspace_id":"ws_1","user_id":"user_1","iat":1778999990,)"
                              R"("exp":1779003600})";
  EXPECT_EQ(token, token_from_json(kHeader, payload));

  in.user_id.clear();
  in.skip_audit = true;
  const std::string without_user =
      R"({"turn_id":"trn_1","workspace_id":"ws_1","iat":1778999990,"exp":1779003600,"skip_audit":true})";
  EXPECT_EQ(mint_cap_token(kKey, in), token_from_json(kHeader, without_user));
}

// A token assembled by hand from the spec's format (as another implementation would) verifies.
TEST(CapToken, HandBuiltTokenVerifies) {
  const std::string header = R"({"typ":"CXG","alg":"HS256","kid":"ignored"})";
  const std::string payload = R"({"exp":1779000000,"workspace_id":"ws_9","turn_id":"trn_9","extra":[1,2]})";
  const auto out = verify_cap_token(kKey, token_from_json(header, payload), kNow);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->turn_id, "trn_9");
  EXPECT_EQ(out->workspace_id, "ws_9");
  EXPECT_EQ(out->user_id, "");
  EXPECT_EQ(out->iat, 0);
}

// C2
TEST(CapToken, WrongKeyIsBadSignature) {
  EXPECT_EQ(error_of(mint_cap_token("other-key", sample_claims())), CapTokenError::bad_signature);
}

TEST(CapToken, ExpiryBoundary) {
  CapClaims c = sample_claims();
  c.exp = kNow - 1;
  EXPECT_EQ(error_of(mint_cap_token(kKey, c)), CapTokenError::expired);
  c.exp = kNow;
  EXPECT_TRUE(verify_cap_token(kKey, mint_cap_token(kKey, c), kNow).ok());
}

// C3
TEST(CapToken, MalformedShapes) {
  const std::string good = mint_cap_token(kKey, sample_claims());
  const auto dot1 = good.find('.');
  const auto dot2 = good.rfind('.');
  for (const std::string& token : {std::string(""), std::string("a.b"), std::string("a.b.c.d"), std::string("!.!.!"),
                                   std::string(".."), good.substr(0, dot1) + ".." + good.substr(dot2 + 1),
                                   "." + good.substr(dot1 + 1), good.substr(0, dot2 + 1), good + ".x"})
    EXPECT_EQ(error_of(token), CapTokenError::malformed) << token;
}

TEST(CapToken, PaddedBase64IsMalformed) {
  // A 34-byte header needs "==" when padded; everything else about the token is valid.
  const std::string header = R"({"alg":"HS256","typ":"CXG","x":12})";
  ASSERT_EQ(header.size() % 3, 1u);
  const std::string padded_header = b64(header) + "==";
  const std::string payload_b64 = b64(payload_with(R"("exp":1779000000)"));
  const std::string input = padded_header + "." + payload_b64;
  EXPECT_EQ(error_of(input + "." + sign(kKey, input)), CapTokenError::malformed);

  // Padded signature.
  const std::string good = mint_cap_token(kKey, sample_claims());
  EXPECT_EQ(error_of(good + "="), CapTokenError::malformed);
}

TEST(CapToken, HeaderChecks) {
  const std::string payload = payload_with(R"("exp":1779000000)");
  for (std::string header : {R"({"alg":"HS512","typ":"CXG"})", R"({"alg":"none","typ":"CXG"})",
                             R"({"alg":"HS256","typ":"JWT"})", R"({"alg":"HS256"})", R"({"typ":"CXG"})",
                             R"({"alg":"hs256","typ":"CXG"})", R"({"alg":["HS256"],"typ":"CXG"})",
                             R"(["HS256","CXG"])", "not json", ""})
    EXPECT_EQ(error_of(token_from_json(header, payload)), CapTokenError::malformed) << header;
}

TEST(CapToken, PayloadChecks) {
  for (std::string payload : {
           R"({"workspace_id":"ws_1","exp":1779000000})",                   // missing turn_id
           R"({"turn_id":"trn_1","exp":1779000000})",                       // missing workspace_id
           R"({"turn_id":"","workspace_id":"ws_1","exp":1779000000})",      // empty turn_id
           R"({"turn_id":"trn_1","workspace_id":"","exp":1779000000})",     // empty workspace_id
           R"({"turn_id":1,"workspace_id":"ws_1","exp":1779000000})",       // wrong type
           R"({"turn_id":"trn_1","workspace_id":"ws_1"})",                  // missing exp
           R"({"turn_id":"trn_1","workspace_id":"ws_1","exp":"1779000000"})",  // exp as string
           R"({"turn_id":"trn_1","workspace_id":"ws_1","exp":1779000000.5})",  // non-integer exp
           R"({"turn_id":"trn_1","workspace_id":"ws_1","exp":1.779e9})",       // float syntax
           R"({"turn_id":"trn_1","workspace_id":"ws_1","exp":18446744073709551615})",  // > int64
           R"({"turn_id":"trn_1","workspace_id":"ws_1","exp":1779000000,"user_id":7})",
           R"({"turn_id":"trn_1","workspace_id":"ws_1","exp":1779000000,"iat":"now"})",
           R"({"turn_id":"trn_1","workspace_id":"ws_1","exp":1779000000,"skip_audit":"yes"})",
           R"(["trn_1","ws_1",1779000000])", "garbage", ""})
    EXPECT_EQ(error_of(token_from_json(kHeader, payload)), CapTokenError::malformed) << payload;
}

TEST(CapToken, NullOptionalMembersCountAsAbsent) {
  const auto out = verify_cap_token(
      kKey, token_from_json(kHeader, payload_with(R"("exp":1779000000,"user_id":null,"iat":null,"skip_audit":null)")),
      kNow);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->user_id, "");
}

// Step 4 (signature) runs before step 5 (payload): a garbage payload with a wrong signature
// is a bad signature, not malformed; the same payload correctly signed is malformed.
TEST(CapToken, SignatureCheckedBeforePayload) {
  const std::string input = b64(kHeader) + "." + b64("not json");
  EXPECT_EQ(error_of(input + "." + sign("other-key", input)), CapTokenError::bad_signature);
  EXPECT_EQ(error_of(input + "." + sign(kKey, input)), CapTokenError::malformed);
}

// And the header (step 2) and sig encoding (step 3) come before the signature.
TEST(CapToken, HeaderAndSigEncodingCheckedBeforeSignature) {
  const std::string payload = payload_with(R"("exp":1779000000)");
  EXPECT_EQ(error_of(token_from_json(R"({"alg":"HS256","typ":"JWT"})", payload, "other-key")),
            CapTokenError::malformed);
  const std::string input = b64(kHeader) + "." + b64(payload);
  EXPECT_EQ(error_of(input + ".!!!"), CapTokenError::malformed);
}

TEST(CapToken, ExpiredCheckedLast) {
  // Expired and otherwise valid: expired. Expired with a bad signature: bad signature.
  CapClaims c = sample_claims();
  c.exp = kNow - 100;
  EXPECT_EQ(error_of(mint_cap_token(kKey, c)), CapTokenError::expired);
  EXPECT_EQ(error_of(mint_cap_token("other-key", c)), CapTokenError::bad_signature);
}

TEST(CapToken, ErrorNames) {
  EXPECT_STREQ(to_string(CapTokenError::malformed), "malformed");
  EXPECT_STREQ(to_string(CapTokenError::bad_signature), "bad_signature");
  EXPECT_STREQ(to_string(CapTokenError::expired), "expired");
}

}  // namespace
}  // namespace cxg::codec
