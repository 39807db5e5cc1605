#pragma once
// Background upkeep on its own thread (store calls block): store probe for /readyz, replica
// heartbeat, revocation prune and full resync (http-api.md §2.1, §3.4, §6 rule 3), and
// returning freed heap memory to the kernel.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "cxg/api/readiness.hpp"
#include "cxg/api/turn_revocations.hpp"
#include "cxg/common/clock.hpp"
#include "cxg/metrics/registry.hpp"
#include "cxg/store/store.hpp"

namespace cxg::server {

struct MaintenanceIntervals {
  std::chrono::milliseconds probe{1000};
  std::chrono::milliseconds heartbeat{10'000};
  std::chrono::milliseconds revocation_resync{60'000};
  std::chrono::milliseconds revocation_prune{600'000};
  std::chrono::milliseconds memory_trim{10'000};
};

class Maintenance {
 public:
  Maintenance(store::Store& store, api::TurnRevocations& revocations, api::Readiness& readiness,
              const Clock& clock, std::string replica_id, std::string peer_url, MaintenanceIntervals iv);
  ~Maintenance();
  void start();
  void stop();
  // One pass of every due task; public so tests can drive it without threads.
  void run_due(std::chrono::steady_clock::time_point now);

 private:
  template <class F>
  void guarded(const char* task, F&& f);

  store::Store& store_;
  api::TurnRevocations& revocations_;
  api::Readiness& readiness_;
  const Clock& clock_;
  std::string replica_id_, peer_url_;
  MaintenanceIntervals iv_;
  std::chrono::steady_clock::time_point next_probe_{}, next_heartbeat_{}, next_resync_{}, next_prune_{},
      next_trim_{};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cxg::server
