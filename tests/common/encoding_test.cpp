#include "cxg/common/encoding.hpp"

#include <gtest/gtest.h>

namespace cxg::encoding {
namespace {

TEST(Base64Url, RoundTripsAllLengths) {
  std::string data;
  for (int i = 0; i < 70; ++i) {
    const auto enc = base64url_encode(data);
    EXPECT_EQ(enc.find('='), std::string::npos);
    auto dec = base64url_decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, data);
    data.push_back(static_cast<char>(i * 37));
  }
}

TEST(Base64Url, KnownVectors) {
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_encode("hi"), "aGk");
  EXPECT_EQ(base64url_decode("aGk").value(), "hi");
}

TEST(Base64Url, RejectsPaddingAndForeignAlphabet) {
  EXPECT_FALSE(base64url_decode("aGk=").has_value());
  EXPECT_FALSE(base64url_decode("a+8").has_value());
  EXPECT_FALSE(base64url_decode("a/8").has_value());
  EXPECT_FALSE(base64url_decode("!!!").has_value());
  EXPECT_FALSE(base64url_decode("a").has_value());  // length % 4 == 1
}

TEST(Base64Url, RejectsNonCanonicalTrailingBits) {
  // "aGk" is canonical for "hi"; "aGl" decodes to the same bytes with a non-zero tail.
  EXPECT_FALSE(base64url_decode("aGl").has_value());
}

TEST(Base64Std, RoundTripAndPadding) {
  EXPECT_EQ(base64_encode("hello\n"), "aGVsbG8K");
  EXPECT_EQ(base64_encode("oops\n"), "b29wcwo=");
  EXPECT_EQ(base64_decode("b29wcwo=").value(), "oops\n");
  EXPECT_FALSE(base64_decode("b29wcwo").has_value());
  EXPECT_EQ(base64_decode("").value(), "");
}

TEST(Hex, Encodes) { EXPECT_EQ(hex_encode("\x01\xab"), "01ab"); }

}  // namespace
}  // namespace cxg::encoding
