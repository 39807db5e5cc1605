#pragma once
// Test doubles for the relay hub: a Peer that records what the hub does to a websocket, and a
// PresenceRecorder that records presence calls. Both are thread-safe (the stress test).
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "cxg/relay/hub.hpp"
#include "cxg/relay/peer.hpp"

namespace cxg::relay::testing {

struct Sent {
  std::string bytes;
  bool binary = false;
};

struct Closed {
  std::uint16_t code = 0;
  std::string reason;
  bool flush = false;
};

class FakePeer final : public Peer {
 public:
  void send(OutMessage m) override {
    std::lock_guard lk(mu_);
    if (!closes_.empty()) {  // a closing peer ignores sends (Peer contract); count them anyway
      ++sent_after_close_;
      return;
    }
    sent_.push_back({*m.data, m.binary});
    outs_.push_back(std::move(m));
  }
  void close_with(std::uint16_t code, std::string reason, bool flush) override {
    std::lock_guard lk(mu_);
    closes_.push_back({code, std::move(reason), flush});
  }
  std::uint64_t queued_bytes() const override { return queued_.load(); }
  void resume_reading() override { resumes_.fetch_add(1); }

  void set_queued_bytes(std::uint64_t n) { queued_.store(n); }
  int resumes() const { return resumes_.load(); }

  std::vector<Sent> sent() const {
    std::lock_guard lk(mu_);
    return sent_;
  }
  std::size_t sent_count() const {
    std::lock_guard lk(mu_);
    return sent_.size();
  }
  // The OutMessages as queued, with their flow credit (bridge -> executor).
  std::vector<OutMessage> outs() const {
    std::lock_guard lk(mu_);
    return outs_;
  }
  std::vector<Closed> closes() const {
    std::lock_guard lk(mu_);
    return closes_;
  }
  bool closed() const {
    std::lock_guard lk(mu_);
    return !closes_.empty();
  }
  // The close that wins (the first one).
  Closed first_close() const {
    std::lock_guard lk(mu_);
    return closes_.empty() ? Closed{} : closes_.front();
  }
  int sent_after_close() const {
    std::lock_guard lk(mu_);
    return sent_after_close_;
  }
  void clear_sent() {
    std::lock_guard lk(mu_);
    sent_.clear();
    outs_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::vector<Sent> sent_;
  std::vector<OutMessage> outs_;
  std::vector<Closed> closes_;
  int sent_after_close_ = 0;
  std::atomic<std::uint64_t> queued_{0};
  std::atomic<int> resumes_{0};
};

class FakePresence final : public PresenceRecorder {
 public:
  struct Connected {
    std::string exe_id, conn_id;
    bool legacy = false;
  };
  struct Disconnected {
    std::string exe_id, conn_id;
  };
  void connected(const std::string& exe_id, const std::string& conn_id, bool legacy) override {
    std::lock_guard lk(mu_);
    connected_.push_back({exe_id, conn_id, legacy});
  }
  void disconnected(const std::string& exe_id, const std::string& conn_id) override {
    std::lock_guard lk(mu_);
    disconnected_.push_back({exe_id, conn_id});
  }
  std::vector<Connected> connected_calls() const {
    std::lock_guard lk(mu_);
    return connected_;
  }
  std::vector<Disconnected> disconnected_calls() const {
    std::lock_guard lk(mu_);
    return disconnected_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Connected> connected_;
  std::vector<Disconnected> disconnected_;
};

}  // namespace cxg::relay::testing
