#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "cxg/auth/validators.hpp"

namespace cxg::auth {
namespace {

using namespace std::chrono_literals;

// Answers with a configurable result and counts how often it is asked.
class CountingValidator final : public Validator {
 public:
  ValidationResult validate(const Credential& credential) override {
    ++calls;
    ValidationResult r = next;
    if (r.verdict == Verdict::accepted && r.user_id.empty()) r.user_id = "user-of-" + credential.value;
    return r;
  }
  std::string_view name() const override { return "counting"; }

  std::atomic<int> calls{0};
  ValidationResult next{.verdict = Verdict::accepted};
};

Credential bearer(std::string token, std::string account = "") {
  return {Credential::Scheme::bearer, std::move(token), std::move(account)};
}

class CachingValidatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<Validator> make(std::chrono::milliseconds ttl, std::size_t capacity = 4096) {
    auto inner = std::make_unique<CountingValidator>();
    inner_ = inner.get();
    return make_caching_validator(std::move(inner), ttl, clock_, capacity);
  }
  ManualClock clock_;
  CountingValidator* inner_ = nullptr;
};

TEST_F(CachingValidatorTest, RepeatIsServedFromTheCache) {
  auto v = make(60s);
  EXPECT_EQ(v->name(), "counting");
  EXPECT_EQ(v->validate(bearer("t1")).user_id, "user-of-t1");
  inner_->next.verdict = Verdict::unavailable;  // R13: the validator is down now
  const auto r = v->validate(bearer("t1"));
  EXPECT_EQ(r.verdict, Verdict::accepted);
  EXPECT_EQ(r.user_id, "user-of-t1");
  EXPECT_EQ(inner_->calls, 1);
}

TEST_F(CachingValidatorTest, SchemeAndAccountArePartOfTheKey) {
  auto v = make(60s);
  v->validate(bearer("t1", "acct-1"));
  v->validate(bearer("t1", "acct-2"));
  v->validate(bearer("t1"));
  v->validate({Credential::Scheme::agent_assertion, "t1", "acct-1"});
  EXPECT_EQ(inner_->calls, 4);
  // Length prefixes keep (value, account) pairs with the same concatenation apart.
  v->validate(bearer("ab", "c"));
  v->validate(bearer("a", "bc"));
  EXPECT_EQ(inner_->calls, 6);
}

TEST_F(CachingValidatorTest, RejectionsAndOutagesAreNotCached) {
  auto v = make(60s);
  inner_->next.verdict = Verdict::rejected;
  v->validate(bearer("t1"));
  v->validate(bearer("t1"));
  inner_->next.verdict = Verdict::unavailable;
  v->validate(bearer("t1"));
  v->validate(bearer("t1"));
  EXPECT_EQ(inner_->calls, 4);
}

TEST_F(CachingValidatorTest, EntryExpiresAfterTtl) {
  auto v = make(60s);
  v->validate(bearer("t1"));
  clock_.advance_ms(59'999);
  v->validate(bearer("t1"));
  EXPECT_EQ(inner_->calls, 1);
  clock_.advance_ms(1);
  v->validate(bearer("t1"));
  EXPECT_EQ(inner_->calls, 2);
}

// The transport keeps registrations that will wait on the validator apart from the rest;
// a credential with a live cache entry is answered from memory.
TEST_F(CachingValidatorTest, AnswersFromMemoryExactlyWhileALiveEntryExists) {
  auto v = make(60s);
  EXPECT_FALSE(v->answers_from_memory(bearer("t1")));
  v->validate(bearer("t1"));
  EXPECT_TRUE(v->answers_from_memory(bearer("t1")));
  EXPECT_FALSE(v->answers_from_memory(bearer("t1", "acct-1")));
  EXPECT_FALSE(v->answers_from_memory(bearer("t2")));
  inner_->next.verdict = Verdict::unavailable;
  v->validate(bearer("t3"));
  EXPECT_FALSE(v->answers_from_memory(bearer("t3")));  // outages are not cached
  clock_.advance_ms(60'000);
  EXPECT_FALSE(v->answers_from_memory(bearer("t1")));
  EXPECT_EQ(inner_->calls, 2);  // asking never calls the inner validator
}

TEST_F(CachingValidatorTest, EntryNeverOutlivesTheCredential) {
  auto v = make(60s);
  inner_->next.expires_at_s = clock_.now_unix_s() + 10;
  v->validate(bearer("jwt"));
  clock_.advance_ms(9'999);
  v->validate(bearer("jwt"));
  EXPECT_EQ(inner_->calls, 1);
  clock_.advance_ms(1);
  v->validate(bearer("jwt"));
  EXPECT_EQ(inner_->calls, 2);
}

TEST_F(CachingValidatorTest, AlreadyExpiredCredentialIsNotCached) {
  auto v = make(60s);
  inner_->next.expires_at_s = clock_.now_unix_s() - 5;  // accepted within the JWT leeway
  v->validate(bearer("jwt"));
  v->validate(bearer("jwt"));
  EXPECT_EQ(inner_->calls, 2);
}

TEST_F(CachingValidatorTest, LeastRecentlyUsedIsEvictedAtCapacity) {
  auto v = make(60s, 2);
  v->validate(bearer("a"));
  v->validate(bearer("b"));
  v->validate(bearer("a"));  // a is now more recent than b
  v->validate(bearer("c"));  // evicts b
  EXPECT_EQ(inner_->calls, 3);
  v->validate(bearer("a"));
  v->validate(bearer("c"));
  EXPECT_EQ(inner_->calls, 3);
  v->validate(bearer("b"));
  EXPECT_EQ(inner_->calls, 4);
}

TEST_F(CachingValidatorTest, ZeroTtlDisablesTheCache) {
  auto v = make(0ms);
  v->validate(bearer("t1"));
  v->validate(bearer("t1"));
  EXPECT_EQ(inner_->calls, 2);
}

TEST_F(CachingValidatorTest, ConcurrentUseIsSafe) {
  auto v = make(60s, 8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const auto r = v->validate(bearer("t" + std::to_string((i * 7 + t) % 16)));
        ASSERT_EQ(r.verdict, Verdict::accepted);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GE(inner_->calls, 16);
}

}  // namespace
}  // namespace cxg::auth
