#include "cxg/auth/revocations.hpp"

#include <gtest/gtest.h>

namespace cxg::auth {
namespace {

TEST(RevocationMirror, RevokedUntilAndIncludingExpiry) {
  RevocationMirror mirror;
  mirror.apply("trn_1", 5000);
  EXPECT_TRUE(mirror.is_revoked("trn_1", 4999));
  EXPECT_TRUE(mirror.is_revoked("trn_1", 5000));
  EXPECT_FALSE(mirror.is_revoked("trn_1", 5001));
  EXPECT_FALSE(mirror.is_revoked("trn_2", 4000));
}

TEST(RevocationMirror, RevokingAgainKeepsTheLaterExpiry) {
  RevocationMirror mirror;
  mirror.apply("trn", 5000);
  mirror.apply("trn", 3000);
  EXPECT_TRUE(mirror.is_revoked("trn", 4500));
  mirror.apply("trn", 8000);
  EXPECT_TRUE(mirror.is_revoked("trn", 7500));
  EXPECT_EQ(mirror.size(), 1u);
}

TEST(RevocationMirror, PruneRemovesOnlyPastExpiries) {
  RevocationMirror mirror;
  mirror.apply("past", 999);
  mirror.apply("boundary", 1000);
  mirror.apply("future", 2000);
  mirror.prune(1000);
  EXPECT_EQ(mirror.size(), 2u);
  EXPECT_TRUE(mirror.is_revoked("boundary", 1000));
  EXPECT_TRUE(mirror.is_revoked("future", 1000));
}

TEST(RevocationMirror, ReplaceAllInstallsExactlyTheRows) {
  RevocationMirror mirror;
  mirror.apply("stale", 9000);
  mirror.replace_all({{"a", 5000}, {"b", 6000}, {"a", 7000}});
  EXPECT_EQ(mirror.size(), 2u);
  EXPECT_FALSE(mirror.is_revoked("stale", 1000));
  EXPECT_TRUE(mirror.is_revoked("a", 6500));  // the later of the duplicate rows
  EXPECT_TRUE(mirror.is_revoked("b", 6000));
}

TEST(RevocationMirror, NoCapacityLimit) {  // V5
  RevocationMirror mirror;
  constexpr int kCount = 100'001;
  for (int i = 0; i < kCount; ++i) mirror.apply("trn_" + std::to_string(i), 10'000);
  EXPECT_EQ(mirror.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(mirror.is_revoked("trn_" + std::to_string(i), 9'000)) << i;
}

}  // namespace
}  // namespace cxg::auth
