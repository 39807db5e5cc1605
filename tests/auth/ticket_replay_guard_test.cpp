#include "cxg/auth/ticket_replay_guard.hpp"

#include <gtest/gtest.h>

namespace cxg::auth {
namespace {

TEST(TicketReplayGuard, FirstUseOnlyOnce) {
  TicketReplayGuard guard;
  EXPECT_TRUE(guard.first_use("sig-a", 1300, 1000));
  EXPECT_FALSE(guard.first_use("sig-a", 1300, 1000));
  EXPECT_FALSE(guard.first_use("sig-a", 1300, 1200));
  EXPECT_TRUE(guard.first_use("sig-b", 1300, 1200));
}

TEST(TicketReplayGuard, RemembersThroughTheExpirySecond) {
  TicketReplayGuard guard;
  EXPECT_TRUE(guard.first_use("sig", 1300, 1000));
  EXPECT_FALSE(guard.first_use("sig", 1300, 1300));
}

TEST(TicketReplayGuard, ForgetsAfterExpiry) {
  TicketReplayGuard guard;
  EXPECT_TRUE(guard.first_use("old-1", 1100, 1000));
  EXPECT_TRUE(guard.first_use("old-2", 1100, 1000));
  EXPECT_EQ(guard.size(), 2u);
  EXPECT_TRUE(guard.first_use("new", 1400, 1101));
  EXPECT_EQ(guard.size(), 1u);  // the expired sigs were pruned
  EXPECT_TRUE(guard.first_use("old-1", 1100, 1101));
}

TEST(TicketReplayGuard, SizeStaysBoundedByLiveTickets) {
  TicketReplayGuard guard;
  for (int i = 0; i < 1000; ++i)
    EXPECT_TRUE(guard.first_use("sig-" + std::to_string(i), 1300, 1000 + i / 100));
  EXPECT_EQ(guard.size(), 1000u);
  EXPECT_TRUE(guard.first_use("late", 2000, 1301));
  EXPECT_EQ(guard.size(), 1u);
}

}  // namespace
}  // namespace cxg::auth
