#pragma once
// Turn revocation (http-api.md §3.4): persisted in the store, mirrored in memory, pruned,
// never evicted early. The mirror answers the hot-path check without touching the store.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cxg::store { class Store; }

namespace cxg::auth {

// Implemented by the relay: closes the live bridges of a revoked turn (4103, Reset turn_revoked).
class TurnRevocationListener {
 public:
  virtual ~TurnRevocationListener() = default;
  virtual void on_turn_revoked(const std::string& turn_id) = 0;
};

class RevocationMirror {
 public:
  // revoked while now <= expires_at
  bool is_revoked(std::string_view turn_id, std::int64_t now_ms) const;
  // keeps the later expiry
  void apply(const std::string& turn_id, std::int64_t expires_at_ms);
  void replace_all(const std::vector<std::pair<std::string, std::int64_t>>& rows);
  void prune(std::int64_t now_ms);
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::int64_t> expires_;
};

}  // namespace cxg::auth
