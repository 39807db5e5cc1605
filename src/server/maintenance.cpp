#include "cxg/server/maintenance.hpp"

#include <malloc.h>

#include "cxg/common/log.hpp"

namespace cxg::server {
namespace {

// glibc keeps what the io threads free in their own arenas, so after a burst of large frames
// the RSS would stay near its peak although almost nothing is in use (tests/soak measures
// this). malloc_trim(0) gives the free pages of every arena back to the kernel.
void release_free_heap_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

}  // namespace

Maintenance::Maintenance(store::Store& store, api::TurnRevocations& revocations, api::Readiness& readiness,
                         const Clock& clock, std::string replica_id, std::string peer_url, MaintenanceIntervals iv)
    : store_(store), revocations_(revocations), readiness_(readiness), clock_(clock),
      replica_id_(std::move(replica_id)), peer_url_(std::move(peer_url)), iv_(iv) {}

Maintenance::~Maintenance() { stop(); }

void Maintenance::start() {
  const auto now = std::chrono::steady_clock::now();
  next_probe_ = now;
  next_heartbeat_ = now + iv_.heartbeat;
  next_resync_ = now + iv_.revocation_resync;
  next_prune_ = now + iv_.revocation_prune;
  next_trim_ = now + iv_.memory_trim;
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      lk.unlock();
      run_due(std::chrono::steady_clock::now());
      lk.lock();
      cv_.wait_for(lk, std::chrono::milliseconds(250), [this] { return stopping_; });
    }
  });
}

void Maintenance::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

template <class F>
void Maintenance::guarded(const char* task, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    log::error("maintenance task failed", {{"task", task}, {"error", e.what()}});
  }
}

void Maintenance::run_due(std::chrono::steady_clock::time_point now) {
  if (now >= next_probe_) {
    next_probe_ = now + iv_.probe;
    guarded("store_probe", [&] {
      store_.ping();
      readiness_.store_probe_succeeded(clock_.now_unix_ms());
    });
  }
  if (now >= next_heartbeat_) {
    next_heartbeat_ = now + iv_.heartbeat;
    guarded("replica_heartbeat", [&] { store_.heartbeat_replica(replica_id_, peer_url_, clock_.now_unix_ms()); });
  }
  if (now >= next_resync_) {
    next_resync_ = now + iv_.revocation_resync;
    guarded("revocation_resync", [&] { revocations_.resync(); });
  }
  if (now >= next_prune_) {
    next_prune_ = now + iv_.revocation_prune;
    guarded("revocation_prune", [&] {
      if (const auto n = revocations_.prune()) log::info("expired revocations pruned", {{"rows", n}});
    });
  }
  if (now >= next_trim_) {
    next_trim_ = now + iv_.memory_trim;
    guarded("memory_trim", [] { release_free_heap_memory(); });
  }
}

}  // namespace cxg::server
