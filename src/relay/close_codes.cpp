#include "cxg/relay/close_codes.hpp"

#include "cxg/relay/peer.hpp"

namespace cxg::relay {

std::string_view truncate_close_reason(std::string_view reason) {
  constexpr std::size_t kMax = 123;
  if (reason.size() <= kMax) return reason;
  std::size_t end = kMax;
  // Back up over UTF-8 continuation bytes so the cut never splits a character.
  while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80) --end;
  return reason.substr(0, end);
}

bool FlowCredit::may_continue() {
  if (inflight_.load() <= limit_) return true;
  paused_.store(true);
  // Re-check: the writer may have released everything between the load and the store.
  if (inflight_.load() <= limit_ && paused_.exchange(false)) return true;
  return false;
}

void FlowCredit::release(std::uint64_t n) {
  const auto left = inflight_.fetch_sub(n) - n;
  if (left <= limit_ && paused_.exchange(false))
    if (auto p = bridge_.lock()) p->resume_reading();
}

}  // namespace cxg::relay
