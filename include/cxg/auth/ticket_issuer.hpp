#pragma once
// Mints executor websocket tickets (http-api.md §3.1). A ticket is a pure function of
// (exe_id, expiry), so two registrations in the same second would get the same ticket and
// the second would be refused as a replay (R11). The issuer therefore never hands out the
// same expiry twice for an exe_id: a repeat within a second gets the next second.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace cxg::auth {

class TicketIssuer {
 public:
  TicketIssuer(std::string key, std::chrono::seconds ttl) : key_(std::move(key)), ttl_(ttl) {}
  std::string mint(const std::string& exe_id, std::int64_t now_unix_s);

 private:
  void prune(std::int64_t now_unix_s);
  const std::string key_;
  const std::chrono::seconds ttl_;
  std::mutex mu_;
  std::unordered_map<std::string, std::int64_t> last_expiry_;  // exe_id -> last expiry issued
  std::int64_t next_prune_s_ = 0;
};

}  // namespace cxg::auth
