#pragma once
// WS ticket `<exe_id>.<expiry>.<sig>` (http-api.md §3.1). Pure: no clock, no replay state
// (single use is enforced by auth::TicketReplayGuard).
#include <cstdint>
#include <string>
#include <string_view>

namespace cxg::codec {

enum class TicketError {
  none,
  wrong_part_count,   // step 1
  exe_id_mismatch,    // step 2
  bad_expiry,         // step 3: not all digits (or overflow)
  expired,            // step 3: now >= expiry
  bad_sig_encoding,   // step 4
  bad_signature,      // step 5
};
const char* to_string(TicketError e);

std::string mint_ws_ticket(std::string_view key, std::string_view exe_id, std::int64_t expiry_unix_s);

struct TicketCheck {
  TicketError error = TicketError::none;
  std::string_view sig;           // the sig part (for replay tracking), valid when error == none
  std::int64_t expiry_unix_s = 0;  // valid when error == none
};
// Runs steps 1-5 in order and reports the first failure.
TicketCheck verify_ws_ticket(std::string_view key, std::string_view ticket,
                             std::string_view path_exe_id, std::int64_t now_unix_s);

}  // namespace cxg::codec
