#include "cxg/auth/ticket_issuer.hpp"

#include "cxg/codec/ws_ticket.hpp"

namespace cxg::auth {

std::string TicketIssuer::mint(const std::string& exe_id, std::int64_t now_unix_s) {
  std::int64_t expiry = now_unix_s + ttl_.count();
  {
    std::lock_guard lk(mu_);
    prune(now_unix_s);
    auto [it, inserted] = last_expiry_.try_emplace(exe_id, expiry);
    if (!inserted) {
      if (expiry <= it->second) expiry = it->second + 1;
      it->second = expiry;
    }
  }
  return codec::mint_ws_ticket(key_, exe_id, expiry);
}

void TicketIssuer::prune(std::int64_t now_unix_s) {
  // An entry only matters while a ticket with that expiry could still be minted again.
  if (now_unix_s < next_prune_s_) return;
  next_prune_s_ = now_unix_s + 60;
  const auto horizon = now_unix_s + ttl_.count();
  std::erase_if(last_expiry_, [&](const auto& kv) { return kv.second < horizon - 1; });
}

}  // namespace cxg::auth
