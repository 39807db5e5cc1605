#include "cxg/auth/revocations.hpp"

namespace cxg::auth {

bool RevocationMirror::is_revoked(std::string_view turn_id, std::int64_t now_ms) const {
  std::lock_guard lock(mu_);
  // unordered_map<std::string> has no heterogeneous lookup without a custom hasher; the
  // copy is a short id on a path that already parsed a token.
  const auto it = expires_.find(std::string(turn_id));
  return it != expires_.end() && now_ms <= it->second;
}

void RevocationMirror::apply(const std::string& turn_id, std::int64_t expires_at_ms) {
  std::lock_guard lock(mu_);
  const auto [it, inserted] = expires_.try_emplace(turn_id, expires_at_ms);
  // An expiry is never shortened (http-api.md §3.4 item 1).
  if (!inserted && expires_at_ms > it->second) it->second = expires_at_ms;
}

void RevocationMirror::replace_all(const std::vector<std::pair<std::string, std::int64_t>>& rows) {
  std::unordered_map<std::string, std::int64_t> fresh;
  fresh.reserve(rows.size());
  for (const auto& [turn_id, expires_at_ms] : rows) {
    const auto [it, inserted] = fresh.try_emplace(turn_id, expires_at_ms);
    if (!inserted && expires_at_ms > it->second) it->second = expires_at_ms;
  }
  std::lock_guard lock(mu_);
  expires_.swap(fresh);
}

void RevocationMirror::prune(std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  std::erase_if(expires_, [now_ms](const auto& entry) { return entry.second < now_ms; });
}

std::size_t RevocationMirror::size() const {
  std::lock_guard lock(mu_);
  return expires_.size();
}

}  // namespace cxg::auth
