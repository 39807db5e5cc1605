#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cxg::auth {

// Remembers used ticket signatures until their expiry: a ticket is single-use per replica.
class TicketReplayGuard {
 public:
  // True the first time a sig is presented (and records it); false on reuse.
  bool first_use(std::string_view sig, std::int64_t expiry_unix_s, std::int64_t now_unix_s);
  std::size_t size() const;

 private:
  void prune(std::int64_t now_unix_s);
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::int64_t> used_;
  std::int64_t next_prune_s_ = 0;
};

}  // namespace cxg::auth
