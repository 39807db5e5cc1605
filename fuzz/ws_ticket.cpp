// Executor websocket tickets `<exe_id>.<expiry>.<sig>` (http-api.md §3.1): verify_ws_ticket on
// fuzzed tickets, path ids and clocks, and the mint/verify round trip.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>

#include "cxg/codec/ws_ticket.hpp"
#include "fuzz_common.hpp"

namespace codec = cxg::codec;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string key = in.ConsumeBool() ? std::string("ticket-key") : in.ConsumeRandomLengthString(64);
  const std::string path_id = in.ConsumeRandomLengthString(300);
  const auto now = in.ConsumeIntegral<std::int64_t>();
  const std::string ticket = in.ConsumeRemainingBytesAsString();

  // Arbitrary tickets: the steps run in order and a success names a sig inside the ticket.
  const auto check = codec::verify_ws_ticket(key, ticket, path_id, now);
  FUZZ_CHECK(codec::to_string(check.error) != nullptr);
  if (check.error == codec::TicketError::none) {
    FUZZ_CHECK(cxg::fuzz::points_into(ticket, check.sig));
    FUZZ_CHECK(ticket.ends_with("." + std::string(check.sig)));
    FUZZ_CHECK(ticket.starts_with(path_id + "."));
    FUZZ_CHECK(now < check.expiry_unix_s);
    // A valid ticket is exactly what mint produces for its id and expiry text.
    FUZZ_CHECK(codec::mint_ws_ticket(key, path_id, check.expiry_unix_s) == ticket ||
               ticket[path_id.size() + 1] == '0');  // leading zeros are signed as sent
  }

  // Round trip: a minted ticket verifies until (excluding) its expiry, for its id only.
  if (path_id.find('.') == std::string::npos && now >= 0 && now < INT64_MAX) {
    const std::string minted = codec::mint_ws_ticket(key, path_id, now + 1);
    const auto ok = codec::verify_ws_ticket(key, minted, path_id, now);
    FUZZ_CHECK(ok.error == codec::TicketError::none && ok.expiry_unix_s == now + 1);
    FUZZ_CHECK(codec::verify_ws_ticket(key, minted, path_id, now + 1).error == codec::TicketError::expired);
    FUZZ_CHECK(codec::verify_ws_ticket(key, minted, path_id + "x", now).error == codec::TicketError::exe_id_mismatch);
    // (HMAC pads short keys with zero bytes, so "other\0" is the same key as "other".)
    if (!key.starts_with("other")) FUZZ_CHECK(codec::verify_ws_ticket("other", minted, path_id, now).error == codec::TicketError::bad_signature);
    // Flipping any byte of the signature breaks it.
    if (!ticket.empty()) {
      std::string tampered = minted;
      const std::size_t at = tampered.size() - 1 - (static_cast<unsigned char>(ticket[0]) % 43);
      tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
      const auto bad = codec::verify_ws_ticket(key, tampered, path_id, now).error;
      FUZZ_CHECK(bad == codec::TicketError::bad_signature || bad == codec::TicketError::bad_sig_encoding);
    }
  }
  return 0;
}
