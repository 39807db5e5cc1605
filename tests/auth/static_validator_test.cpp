#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/temp_dir.hpp"
#include "cxg/auth/validators.hpp"

namespace cxg::auth {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

Credential bearer(std::string token) { return {Credential::Scheme::bearer, std::move(token), ""}; }

class StaticValidatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<Validator> make(std::string_view content) {
    path_ = dir_.write("tokens", content);
    return make_static_validator({.path = path_, .recheck_interval = 5000ms}, clock_);
  }
  // Rewrites the file with a visibly different mtime.
  void rewrite(std::string_view content) {
    dir_.write("tokens", content);
    test_support::shift_mtime(path_, 10);
  }

  test_support::TempDir dir_;
  ManualClock clock_;
  std::string path_;
};

TEST_F(StaticValidatorTest, ListedTokenMapsToItsUser) {
  auto v = make("tok-alice alice\ntok-bob\tbob\n");
  EXPECT_EQ(v->name(), "static");
  auto r = v->validate(bearer("tok-alice"));
  EXPECT_EQ(r.verdict, Verdict::accepted);
  EXPECT_EQ(r.user_id, "alice");
  EXPECT_FALSE(r.expires_at_s);
  EXPECT_EQ(v->validate(bearer("tok-bob")).user_id, "bob");
}

TEST_F(StaticValidatorTest, AnswersFromMemory) {
  auto v = make("tok-alice alice\n");
  EXPECT_TRUE(v->answers_from_memory(bearer("tok-alice")));
  EXPECT_TRUE(v->answers_from_memory(bearer("tok-unknown")));
}

TEST_F(StaticValidatorTest, UnlistedTokenIsRejected) {
  auto v = make("tok-alice alice\n");
  EXPECT_EQ(v->validate(bearer("tok-mallory")).verdict, Verdict::rejected);
  EXPECT_EQ(v->validate(bearer("tok-alic")).verdict, Verdict::rejected);
  EXPECT_EQ(v->validate(bearer("alice")).verdict, Verdict::rejected);
}

TEST_F(StaticValidatorTest, AgentAssertionIsRejected) {
  auto v = make("tok-alice alice\n");
  EXPECT_EQ(v->validate({Credential::Scheme::agent_assertion, "tok-alice", ""}).verdict, Verdict::rejected);
}

TEST_F(StaticValidatorTest, CommentsBlankLinesAndCrlfAreIgnored) {
  auto v = make("# operators' tokens\r\n\r\n   \n  # indented comment\ntok-a  user-a \r\n#tok-b user-b\n");
  EXPECT_EQ(v->validate(bearer("tok-a")).user_id, "user-a");
  EXPECT_EQ(v->validate(bearer("#tok-b")).verdict, Verdict::rejected);
}

TEST_F(StaticValidatorTest, EmptyFileIsValidAndAcceptsNothing) {
  auto v = make("");
  EXPECT_EQ(v->validate(bearer("anything")).verdict, Verdict::rejected);
}

TEST_F(StaticValidatorTest, LineWithOneFieldThrowsNamingTheLine) {
  try {
    make("tok-a user-a\n# comment\nsecret-token-alone\n");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("CXG_STATIC_TOKENS_FILE: "));
    EXPECT_THAT(e.what(), HasSubstr("line 3"));
    EXPECT_THAT(e.what(), ::testing::Not(HasSubstr("secret-token-alone")));
  }
}

TEST_F(StaticValidatorTest, LineWithThreeFieldsThrows) {
  EXPECT_THROW(make("tok-a user-a extra\n"), std::runtime_error);
}

TEST_F(StaticValidatorTest, RepeatedTokenThrows) {
  EXPECT_THROW(make("tok-a user-a\ntok-a user-b\n"), std::runtime_error);
}

TEST_F(StaticValidatorTest, MissingFileThrows) {
  try {
    make_static_validator({.path = dir_.path("absent")}, clock_);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("CXG_STATIC_TOKENS_FILE: "));
  }
}

TEST_F(StaticValidatorTest, EditIsPickedUpOnlyAfterTheRecheckInterval) {
  auto v = make("tok-a user-a\n");
  rewrite("tok-b user-b\n");
  clock_.advance_ms(4999);
  EXPECT_EQ(v->validate(bearer("tok-a")).verdict, Verdict::accepted);  // not checked yet
  EXPECT_EQ(v->validate(bearer("tok-b")).verdict, Verdict::rejected);
  clock_.advance_ms(1);
  EXPECT_EQ(v->validate(bearer("tok-b")).user_id, "user-b");
  EXPECT_EQ(v->validate(bearer("tok-a")).verdict, Verdict::rejected);
}

TEST_F(StaticValidatorTest, ChecksAreSpacedByTheInterval) {
  auto v = make("tok-a user-a\n");
  clock_.advance_ms(5000);
  EXPECT_EQ(v->validate(bearer("tok-a")).verdict, Verdict::accepted);  // checked: unchanged
  rewrite("tok-b user-b\n");
  clock_.advance_ms(4999);
  EXPECT_EQ(v->validate(bearer("tok-b")).verdict, Verdict::rejected);
  clock_.advance_ms(1);
  EXPECT_EQ(v->validate(bearer("tok-b")).verdict, Verdict::accepted);
}

TEST_F(StaticValidatorTest, BadReloadKeepsThePreviousTokens) {
  auto v = make("tok-a user-a\n");
  rewrite("tok-a user-a\nbroken\n");
  clock_.advance_ms(5000);
  EXPECT_EQ(v->validate(bearer("tok-a")).user_id, "user-a");
  // Once fixed, the file is read again.
  rewrite("tok-c user-c\n");
  clock_.advance_ms(5000);
  EXPECT_EQ(v->validate(bearer("tok-c")).user_id, "user-c");
}

TEST_F(StaticValidatorTest, DeletedFileKeepsThePreviousTokens) {
  auto v = make("tok-a user-a\n");
  std::filesystem::remove(path_);
  clock_.advance_ms(5000);
  EXPECT_EQ(v->validate(bearer("tok-a")).user_id, "user-a");
}

}  // namespace
}  // namespace cxg::auth
