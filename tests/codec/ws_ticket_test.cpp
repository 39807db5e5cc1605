#include "cxg/codec/ws_ticket.hpp"

#include <gtest/gtest.h>

#include <ostream>

#include "cxg/common/crypto.hpp"
#include "cxg/common/encoding.hpp"

namespace cxg::codec {
// Readable gtest failure output.
void PrintTo(TicketError e, std::ostream* os) { *os << to_string(e); }

namespace {

constexpr std::string_view kKey = "ticket-key";
constexpr std::int64_t kNow = 1'779'000'000;
constexpr std::int64_t kExpiry = kNow + 300;

std::string sign(std::string_view key, std::string_view message) {
  return encoding::base64url_encode(crypto::as_bytes(crypto::hmac_sha256(key, message)));
}

TicketError check(std::string_view ticket, std::string_view path_id = "exe_1", std::int64_t now = kNow,
                  std::string_view key = kKey) {
  return verify_ws_ticket(key, ticket, path_id, now).error;
}

TEST(WsTicket, MintHasSpecFormat) {
  const std::string ticket = mint_ws_ticket(kKey, "exe_1", kExpiry);
  EXPECT_EQ(ticket, "exe_1.1779000300." + sign(kKey, "exe_1.1779000300"));
}

TEST(WsTicket, RoundTrip) {
  const std::string ticket = mint_ws_ticket(kKey, "exe_1", kExpiry);
  const TicketCheck result = verify_ws_ticket(kKey, ticket, "exe_1", kNow);
  EXPECT_EQ(result.error, TicketError::none);
  EXPECT_EQ(result.expiry_unix_s, kExpiry);
  EXPECT_EQ(result.sig, sign(kKey, "exe_1.1779000300"));
}

TEST(WsTicket, WrongPartCount) {
  EXPECT_EQ(check(""), TicketError::wrong_part_count);
  EXPECT_EQ(check("a.b", "a"), TicketError::wrong_part_count);
  EXPECT_EQ(check("exe_1"), TicketError::wrong_part_count);
  EXPECT_EQ(check(mint_ws_ticket(kKey, "exe_1", kExpiry) + ".x"), TicketError::wrong_part_count);
}

TEST(WsTicket, NotATokenFailsOnExpiry) { EXPECT_EQ(check("not.a.token", "not"), TicketError::bad_expiry); }

TEST(WsTicket, ExeIdMismatch) {
  EXPECT_EQ(check(mint_ws_ticket(kKey, "exe_1", kExpiry), "exe_2"), TicketError::exe_id_mismatch);
  EXPECT_EQ(check(mint_ws_ticket(kKey, "exe_1", kExpiry), "EXE_1"), TicketError::exe_id_mismatch);
}

TEST(WsTicket, BadExpiryForms) {
  const std::string sig = sign(kKey, "exe_1.x");
  for (std::string expiry : {"", "x", "-1779000300", "+1779000300", " 1779000300", "1779000300 ", "1e9",
                             "0x10", "99999999999999999999"})
    EXPECT_EQ(check("exe_1." + expiry + "." + sig), TicketError::bad_expiry) << expiry;
}

TEST(WsTicket, Int64MaxExpiryIsNotOverflow) {
  const std::string ticket = mint_ws_ticket(kKey, "exe_1", INT64_MAX);
  EXPECT_EQ(check(ticket), TicketError::none);
  const std::string overflow = "exe_1.9223372036854775808." + sign(kKey, "exe_1.9223372036854775808");
  EXPECT_EQ(check(overflow), TicketError::bad_expiry);
}

TEST(WsTicket, ExpiryBoundary) {
  const std::string ticket = mint_ws_ticket(kKey, "exe_1", kExpiry);
  EXPECT_EQ(check(ticket, "exe_1", kExpiry - 1), TicketError::none);
  EXPECT_EQ(check(ticket, "exe_1", kExpiry), TicketError::expired);
  EXPECT_EQ(check(ticket, "exe_1", kExpiry + 1), TicketError::expired);
}

TEST(WsTicket, BadSigEncoding) {
  const std::string sig = sign(kKey, "exe_1.1779000300");
  EXPECT_EQ(check("exe_1.1779000300." + sig + "="), TicketError::bad_sig_encoding);  // padded
  EXPECT_EQ(check("exe_1.1779000300.!!!!"), TicketError::bad_sig_encoding);
  EXPECT_EQ(check("exe_1.1779000300.a+b/"), TicketError::bad_sig_encoding);  // standard alphabet
}

TEST(WsTicket, WrongKey) {
  EXPECT_EQ(check(mint_ws_ticket("other-key", "exe_1", kExpiry)), TicketError::bad_signature);
}

TEST(WsTicket, EmptySigIsBadSignature) { EXPECT_EQ(check("exe_1.1779000300."), TicketError::bad_signature); }

TEST(WsTicket, AlteredPartsFail) {
  const std::string ticket = mint_ws_ticket(kKey, "exe_1", kExpiry);
  const std::string sig = ticket.substr(ticket.rfind('.') + 1);
  // Altered exe_id presented on its own path: only the HMAC can catch it.
  EXPECT_EQ(check("exe_2.1779000300." + sig, "exe_2"), TicketError::bad_signature);
  // Altered expiry (later, and the same number with a leading zero: signed as sent).
  EXPECT_EQ(check("exe_1.1779000301." + sig), TicketError::bad_signature);
  EXPECT_EQ(check("exe_1.01779000300." + sig), TicketError::bad_signature);
  // Altered sig: flip one character (keeping it valid base64url).
  std::string flipped = sig;
  flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
  EXPECT_EQ(check("exe_1.1779000300." + flipped), TicketError::bad_signature);
  // Truncated sig that still decodes.
  EXPECT_EQ(check("exe_1.1779000300." + sig.substr(0, 40)), TicketError::bad_signature);
}

TEST(WsTicket, LeadingZeroExpirySignedAsSentVerifies) {
  const std::string ticket = "exe_1.01779000300." + sign(kKey, "exe_1.01779000300");
  const TicketCheck result = verify_ws_ticket(kKey, ticket, "exe_1", kNow);
  EXPECT_EQ(result.error, TicketError::none);
  EXPECT_EQ(result.expiry_unix_s, kExpiry);
}

// A ticket failing several checks reports the earliest one (http-api §3.1 order).
TEST(WsTicket, EarliestFailureWins) {
  const std::string wrong_key_expired = mint_ws_ticket("other", "exe_1", kNow - 10);
  EXPECT_EQ(check(wrong_key_expired + ".x", "exe_2"), TicketError::wrong_part_count);
  EXPECT_EQ(check(wrong_key_expired, "exe_2"), TicketError::exe_id_mismatch);
  EXPECT_EQ(check("exe_1.abc.!!!", "exe_1"), TicketError::bad_expiry);
  EXPECT_EQ(check(wrong_key_expired, "exe_1"), TicketError::expired);
  EXPECT_EQ(check("exe_1.1779000010.!!!", "exe_1", kNow), TicketError::bad_sig_encoding);
  EXPECT_EQ(check(mint_ws_ticket("other", "exe_1", kExpiry)), TicketError::bad_signature);
}

TEST(WsTicket, ErrorNames) {
  EXPECT_STREQ(to_string(TicketError::none), "none");
  EXPECT_STREQ(to_string(TicketError::bad_signature), "bad_signature");
  EXPECT_STREQ(to_string(TicketError::expired), "expired");
}

}  // namespace
}  // namespace cxg::codec
