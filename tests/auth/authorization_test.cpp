#include <gtest/gtest.h>

#include "cxg/auth/validator.hpp"

namespace cxg::auth {
namespace {

using Scheme = Credential::Scheme;

TEST(ParseAuthorization, BearerToken) {
  const auto c = parse_authorization("Bearer abc.def", "acct-1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, Scheme::bearer);
  EXPECT_EQ(c->value, "abc.def");
  EXPECT_EQ(c->account_id, "acct-1");
}

TEST(ParseAuthorization, AgentAssertion) {
  const auto c = parse_authorization("AgentAssertion xyz", "");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, Scheme::agent_assertion);
  EXPECT_EQ(c->value, "xyz");
  EXPECT_EQ(c->account_id, "");
}

TEST(ParseAuthorization, SchemeIsCaseInsensitive) {
  for (const char* header : {"bearer t", "BEARER t", "bEaReR t"}) {
    const auto c = parse_authorization(header, "");
    ASSERT_TRUE(c) << header;
    EXPECT_EQ(c->scheme, Scheme::bearer);
    EXPECT_EQ(c->value, "t");
  }
  const auto c = parse_authorization("agentassertion a", "");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, Scheme::agent_assertion);
}

TEST(ParseAuthorization, ExtraSpacesAfterSchemeAreTolerated) {
  const auto c = parse_authorization("Bearer    tok", "");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->value, "tok");
}

TEST(ParseAuthorization, SurroundingWhitespaceIsNotPartOfTheCredential) {
  const auto c = parse_authorization(" Bearer tok \t", "");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->value, "tok");
}

TEST(ParseAuthorization, MissingOrEmptyCredentialIsNullopt) {
  EXPECT_FALSE(parse_authorization("", ""));
  EXPECT_FALSE(parse_authorization("Bearer", ""));
  EXPECT_FALSE(parse_authorization("Bearer ", ""));
  EXPECT_FALSE(parse_authorization("Bearer    ", ""));
  EXPECT_FALSE(parse_authorization("AgentAssertion", ""));
}

TEST(ParseAuthorization, UnknownOrMalformedSchemeIsNullopt) {
  EXPECT_FALSE(parse_authorization("Basic dXNlcjpwYXNz", ""));
  EXPECT_FALSE(parse_authorization("Bearertok", ""));
  EXPECT_FALSE(parse_authorization("Bearer\ttok", ""));  // RFC 9110: scheme and credential split by SP
  EXPECT_FALSE(parse_authorization("tok", ""));
}

}  // namespace
}  // namespace cxg::auth
