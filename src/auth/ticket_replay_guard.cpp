#include "cxg/auth/ticket_replay_guard.hpp"

namespace cxg::auth {

bool TicketReplayGuard::first_use(std::string_view sig, std::int64_t expiry_unix_s, std::int64_t now_unix_s) {
  std::lock_guard lock(mu_);
  prune(now_unix_s);
  // prune() runs in every new second, so every sig with expiry < now is gone: a hit is a
  // live reuse.
  return used_.try_emplace(std::string(sig), expiry_unix_s).second;
}

std::size_t TicketReplayGuard::size() const {
  std::lock_guard lock(mu_);
  return used_.size();
}

// Sigs are kept through their expiry second (expiry >= now), so a reuse racing the clock
// tick at the boundary is still caught. The scan is amortized: at most once per second.
void TicketReplayGuard::prune(std::int64_t now_unix_s) {
  if (now_unix_s < next_prune_s_) return;
  next_prune_s_ = now_unix_s + 1;
  std::erase_if(used_, [now_unix_s](const auto& entry) { return entry.second < now_unix_s; });
}

}  // namespace cxg::auth
