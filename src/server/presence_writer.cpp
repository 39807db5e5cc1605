#include "cxg/server/presence_writer.hpp"

#include "cxg/common/log.hpp"

namespace cxg::server {

PresenceWriter::PresenceWriter(store::Store& store, const Clock& clock, std::string replica_id)
    : store_(store), clock_(clock), replica_id_(std::move(replica_id)), thread_([this] { run(); }) {}

PresenceWriter::~PresenceWriter() { stop(); }

void PresenceWriter::connected(const std::string& exe_id, const std::string& conn_id, bool legacy) {
  submit([this, exe_id, conn_id, legacy] {
    store_.upsert_presence(exe_id, replica_id_, conn_id, legacy ? "json" : "relay", clock_.now_unix_ms());
  });
}

void PresenceWriter::disconnected(const std::string& exe_id, const std::string& conn_id) {
  submit([this, exe_id, conn_id] { store_.remove_presence(exe_id, conn_id, clock_.now_unix_ms()); });
}

void PresenceWriter::submit(std::function<void()> task) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void PresenceWriter::flush() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [this] { return (tasks_.empty() && in_progress_ == 0) || stopping_; });
}

void PresenceWriter::stop() {
  flush();
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PresenceWriter::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping and drained
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    ++in_progress_;
    lk.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      // The connection is still served; the next heartbeat/connection writes presence again.
      log::error("presence write failed", {{"error", e.what()}});
    }
    lk.lock();
    --in_progress_;
    cv_.notify_all();
  }
}

}  // namespace cxg::server
