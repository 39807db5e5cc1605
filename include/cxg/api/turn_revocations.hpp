#pragma once
// Turn revocation service (http-api.md §3.4): the store is the source of truth, the mirror
// answers the hot-path checks, the listener (relay) closes live bridges of a revoked turn.
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "cxg/auth/revocations.hpp"
#include "cxg/common/clock.hpp"
#include "cxg/store/store.hpp"

namespace cxg::api {

class TurnRevocations {
 public:
  static constexpr std::size_t kWarnRows = 100'000;

  TurnRevocations(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  void set_listener(auth::TurnRevocationListener* l) { listener_ = l; }

  // Persists (expiry never shortened), mirrors, then closes the turn's live bridges even if
  // the expiry is already past. Throws store::StoreError, in which case nothing is revoked.
  void revoke(const std::string& turn_id, std::int64_t expires_at_ms);
  bool is_revoked(std::string_view turn_id) const;
  // Full resync of the mirror from the store (startup, every 60 s). Throws StoreError.
  void resync();
  // Deletes expired rows from the store and the mirror; returns rows deleted.
  std::size_t prune();
  std::size_t size() const { return mirror_.size(); }

 private:
  store::Store& store_;
  const Clock& clock_;
  auth::RevocationMirror mirror_;
  std::atomic<auth::TurnRevocationListener*> listener_{nullptr};
};

}  // namespace cxg::api
