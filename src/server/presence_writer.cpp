#include "cxg/server/presence_writer.hpp"

#include "cxg/common/log.hpp"

namespace cxg::server {

PresenceWriter::PresenceWriter(store::Store& store, const Clock& clock, std::string replica_id,
                               std::chrono::milliseconds retry_interval)
    : store_(store), clock_(clock), replica_id_(std::move(replica_id)), retry_interval_(retry_interval),
      thread_([this] { run(); }) {}

PresenceWriter::~PresenceWriter() { stop(); }

void PresenceWriter::connected(const std::string& exe_id, const std::string& conn_id, bool legacy) {
  submit([this, exe_id, conn_id, legacy] { write_connected(exe_id, conn_id, legacy); });
}

void PresenceWriter::write_connected(const std::string& exe_id, const std::string& conn_id, bool legacy) {
  try {
    store_.upsert_presence(exe_id, replica_id_, conn_id, legacy ? "json" : "relay", clock_.now_unix_ms());
    std::lock_guard lk(mu_);
    if (auto it = failed_connects_.find(exe_id); it != failed_connects_.end() && it->second.conn_id == conn_id)
      failed_connects_.erase(it);
  } catch (const std::exception& e) {
    // The connection is served anyway; the write is retried while it stays live.
    log::error("presence write failed; will retry", {{"exe_id", exe_id}, {"error", e.what()}});
    std::lock_guard lk(mu_);
    failed_connects_[exe_id] = {conn_id, legacy};
  }
}

void PresenceWriter::disconnected(const std::string& exe_id, const std::string& conn_id) {
  {
    std::lock_guard lk(mu_);
    if (auto it = failed_connects_.find(exe_id); it != failed_connects_.end() && it->second.conn_id == conn_id)
      failed_connects_.erase(it);
  }
  submit([this, exe_id, conn_id] { store_.remove_presence(exe_id, conn_id, clock_.now_unix_ms()); });
}

void PresenceWriter::resubmit_failed_connects() {
  // Called with mu_ held.
  for (const auto& [exe_id, p] : failed_connects_)
    tasks_.push_back([this, exe_id = exe_id, p = p] { write_connected(exe_id, p.conn_id, p.legacy); });
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
    const bool woke = cv_.wait_for(lk, retry_interval_, [this] { return stopping_ || !tasks_.empty(); });
    if (!woke) {
      resubmit_failed_connects();
      continue;
    }
    if (tasks_.empty()) return;  // stopping and drained
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    ++in_progress_;
    lk.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      log::error("presence write failed", {{"error", e.what()}});
    }
    lk.lock();
    --in_progress_;
    cv_.notify_all();
  }
}

}  // namespace cxg::server
