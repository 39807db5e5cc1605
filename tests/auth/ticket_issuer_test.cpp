#include "cxg/auth/ticket_issuer.hpp"

#include <gtest/gtest.h>

#include <set>

#include "cxg/codec/ws_ticket.hpp"

namespace cxg::auth {
namespace {

TEST(TicketIssuer, R11_RepeatsWithinOneSecondGetDistinctValidTickets) {
  TicketIssuer issuer("key", std::chrono::seconds(300));
  std::set<std::string> tickets;
  for (int i = 0; i < 5; ++i) tickets.insert(issuer.mint("exe1", 1000));
  EXPECT_EQ(tickets.size(), 5u);
  for (const auto& t : tickets) EXPECT_EQ(codec::verify_ws_ticket("key", t, "exe1", 1000).error, codec::TicketError::none);
}

TEST(TicketIssuer, ExpiryIsNowPlusTtlWhenNotRepeating) {
  TicketIssuer issuer("key", std::chrono::seconds(300));
  const auto t = issuer.mint("exe1", 1000);
  EXPECT_EQ(codec::verify_ws_ticket("key", t, "exe1", 1000).expiry_unix_s, 1300);
  const auto later = issuer.mint("exe1", 2000);
  EXPECT_EQ(codec::verify_ws_ticket("key", later, "exe1", 2000).expiry_unix_s, 2300);
}

TEST(TicketIssuer, ExecutorsDoNotShareTheBump) {
  TicketIssuer issuer("key", std::chrono::seconds(300));
  issuer.mint("exe1", 1000);
  const auto t = issuer.mint("exe2", 1000);
  EXPECT_EQ(codec::verify_ws_ticket("key", t, "exe2", 1000).expiry_unix_s, 1300);
}

}  // namespace
}  // namespace cxg::auth
