#pragma once
#include <atomic>
#include <cstdint>
#include <string>

namespace cxg::api {

// /readyz state (http-api.md §2.1): ready when the store answered a probe within the last
// 5 s, the revocation set is loaded, and the process is not draining.
class Readiness {
 public:
  static constexpr std::int64_t kProbeFreshnessMs = 5000;

  void store_probe_succeeded(std::int64_t now_ms) { last_probe_ok_ms_ = now_ms; }
  void revocations_loaded() { revocations_loaded_ = true; }
  void begin_draining() { draining_ = true; }
  bool draining() const { return draining_; }

  // "" when ready, otherwise "starting", "store unavailable" or "draining".
  std::string not_ready_reason(std::int64_t now_ms) const {
    if (draining_) return "draining";
    if (!revocations_loaded_ || last_probe_ok_ms_ == 0) return "starting";
    if (now_ms - last_probe_ok_ms_ > kProbeFreshnessMs) return "store unavailable";
    return {};
  }

 private:
  std::atomic<std::int64_t> last_probe_ok_ms_{0};
  std::atomic<bool> revocations_loaded_{false};
  std::atomic<bool> draining_{false};
};

}  // namespace cxg::api
