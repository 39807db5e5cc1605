#include "cxg/api/turn_revocations.hpp"

#include "cxg/common/log.hpp"

namespace cxg::api {

void TurnRevocations::revoke(const std::string& turn_id, std::int64_t expires_at_ms) {
  const auto effective = store_.revoke_turn(turn_id, expires_at_ms, clock_.now_unix_ms());
  mirror_.apply(turn_id, effective);
  // Closing live bridges does not depend on the expiry: a past exp still ends them.
  if (auto* l = listener_.load()) l->on_turn_revoked(turn_id);
}

bool TurnRevocations::is_revoked(std::string_view turn_id) const {
  return mirror_.is_revoked(turn_id, clock_.now_unix_ms());
}

void TurnRevocations::resync() {
  // Merge rather than replace: a revocation applied while the rows were being read must not
  // vanish from the mirror. Nothing is ever un-revoked early, and prune() drops expired rows.
  const auto rows = store_.load_revocations(clock_.now_unix_ms());
  if (rows.size() > kWarnRows) log::warn("many turn revocations held", {{"rows", rows.size()}});
  for (const auto& r : rows) mirror_.apply(r.turn_id, r.expires_at);
}

std::size_t TurnRevocations::prune() {
  const auto now = clock_.now_unix_ms();
  const auto deleted = store_.prune_revocations(now);
  mirror_.prune(now);
  return deleted;
}

}  // namespace cxg::api
