#include "cxg/codec/ws_ticket.hpp"

#include <array>
#include <limits>
#include <optional>

#include "cxg/common/crypto.hpp"
#include "cxg/common/encoding.hpp"

namespace cxg::codec {
namespace {

constexpr std::size_t kPartCount = 3;

// Splits on every '.'; returns nullopt unless there are exactly three parts. Empty parts
// are kept: they fail the later, more specific steps.
std::optional<std::array<std::string_view, kPartCount>> split_three(std::string_view ticket) {
  std::array<std::string_view, kPartCount> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i < kPartCount; ++i) {
    const std::size_t dot = ticket.find('.', start);
    const bool last = i + 1 == kPartCount;
    if (last != (dot == std::string_view::npos)) return std::nullopt;
    parts[i] = ticket.substr(start, last ? std::string_view::npos : dot - start);
    start = dot + 1;
  }
  return parts;
}

// Strict decimal: non-empty, ASCII digits only (no sign, no spaces), fits in int64.
std::optional<std::int64_t> parse_expiry(std::string_view text) {
  if (text.empty()) return std::nullopt;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const int digit = c - '0';
    if (value > (kMax - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// The signed message is "<exe_id>.<expiry>", i.e. the ticket up to its last dot, so the
// expiry is covered byte for byte as sent (leading zeros included).
std::string_view signed_part(std::string_view ticket, std::string_view sig) {
  return ticket.substr(0, ticket.size() - sig.size() - 1);
}

}  // namespace

const char* to_string(TicketError e) {
  switch (e) {
    case TicketError::none: return "none";
    case TicketError::wrong_part_count: return "wrong_part_count";
    case TicketError::exe_id_mismatch: return "exe_id_mismatch";
    case TicketError::bad_expiry: return "bad_expiry";
    case TicketError::expired: return "expired";
    case TicketError::bad_sig_encoding: return "bad_sig_encoding";
    case TicketError::bad_signature: return "bad_signature";
  }
  return "unknown";
}

std::string mint_ws_ticket(std::string_view key, std::string_view exe_id, std::int64_t expiry_unix_s) {
  std::string ticket;
  ticket.append(exe_id).append(".").append(std::to_string(expiry_unix_s));
  const std::string sig = encoding::base64url_encode(crypto::as_bytes(crypto::hmac_sha256(key, ticket)));
  ticket.append(".").append(sig);
  return ticket;
}

TicketCheck verify_ws_ticket(std::string_view key, std::string_view ticket, std::string_view path_exe_id,
                             std::int64_t now_unix_s) {
  const auto parts = split_three(ticket);
  if (!parts) return {TicketError::wrong_part_count};
  const auto [exe_id, expiry_text, sig] = *parts;

  if (exe_id != path_exe_id) return {TicketError::exe_id_mismatch};

  const auto expiry = parse_expiry(expiry_text);
  if (!expiry) return {TicketError::bad_expiry};
  if (now_unix_s >= *expiry) return {TicketError::expired};

  const auto sig_bytes = encoding::base64url_decode(sig);
  if (!sig_bytes) return {TicketError::bad_sig_encoding};

  const auto expected = crypto::hmac_sha256(key, signed_part(ticket, sig));
  if (!crypto::constant_time_equal(*sig_bytes, crypto::as_bytes(expected))) return {TicketError::bad_signature};

  return {TicketError::none, sig, *expiry};
}

}  // namespace cxg::codec
