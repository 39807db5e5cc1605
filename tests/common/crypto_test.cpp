#include "cxg/common/crypto.hpp"

#include <gtest/gtest.h>

#include <regex>

#include "cxg/common/encoding.hpp"

namespace cxg::crypto {
namespace {

TEST(Crypto, Sha256KnownVector) {
  EXPECT_EQ(encoding::hex_encode(as_bytes(sha256("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(encoding::hex_encode(as_bytes(hmac_sha256("Jefe", "what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret1"));
  EXPECT_TRUE(secret_matches("s3cret-value", "s3cret-value"));
  EXPECT_FALSE(secret_matches("s3cret-valuE", "s3cret-value"));
  EXPECT_FALSE(secret_matches("s3cret-value-longer", "s3cret-value"));
  EXPECT_FALSE(secret_matches("", "s3cret-value"));
}

TEST(Crypto, UuidV4Shape) {
  const std::regex re("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(std::regex_match(uuid_v4(), re));
  EXPECT_NE(uuid_v4(), uuid_v4());
}

TEST(Crypto, RandomTokenIs32BytesBase64Url) {
  const auto t = random_token();
  EXPECT_EQ(t.size(), 43u);
  EXPECT_EQ(encoding::base64url_decode(t)->size(), 32u);
}

TEST(Crypto, FingerprintIsEightHexDigits) {
  EXPECT_EQ(fingerprint("abc"), "ba7816bf");
}

}  // namespace
}  // namespace cxg::crypto
