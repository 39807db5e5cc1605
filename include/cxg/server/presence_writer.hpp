#pragma once
// Writes executor presence to the store on one background thread, in submission order: a
// newer connection's upsert is never overtaken by an older connection's removal, and the
// relay's I/O threads never wait on the database. A failed connect write is retried every
// retry interval for as long as that connection is live (http-api.md §2.3).
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "cxg/common/clock.hpp"
#include "cxg/relay/hub.hpp"
#include "cxg/store/store.hpp"

namespace cxg::server {

class PresenceWriter final : public relay::PresenceRecorder {
 public:
  PresenceWriter(store::Store& store, const Clock& clock, std::string replica_id,
                 std::chrono::milliseconds retry_interval = std::chrono::seconds(10));
  ~PresenceWriter() override;

  void connected(const std::string& exe_id, const std::string& conn_id, bool legacy) override;
  void disconnected(const std::string& exe_id, const std::string& conn_id) override;
  // Waits until everything submitted so far is written.
  void flush();
  void stop();

 private:
  struct PendingConnect {
    std::string conn_id;
    bool legacy = false;
  };
  void submit(std::function<void()> task);
  void run();
  void write_connected(const std::string& exe_id, const std::string& conn_id, bool legacy);
  void resubmit_failed_connects();

  store::Store& store_;
  const Clock& clock_;
  const std::string replica_id_;
  const std::chrono::milliseconds retry_interval_;
  std::mutex mu_;
  std::unordered_map<std::string, PendingConnect> failed_connects_;  // by exe_id (mu_)
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::size_t in_progress_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cxg::server
