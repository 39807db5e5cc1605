#pragma once
// The relay core's view of one websocket connection. The transport implements it; unit
// tests use a fake. Methods never call back into the relay synchronously (they post to the
// connection's strand), so the relay may call them while holding its locks.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cxg/relay/close_codes.hpp"

namespace cxg::relay {

class Peer;

// Per-stream accounting of bridge bytes queued towards the executor
// (CXG_STREAM_INFLIGHT_BYTES): above the limit the bridge's reader pauses; the executor's
// writer releases the bytes once written and wakes the bridge.
class FlowCredit {
 public:
  FlowCredit(std::uint64_t limit, std::weak_ptr<Peer> bridge) : limit_(limit), bridge_(std::move(bridge)) {}
  void add(std::uint64_t n) { inflight_.fetch_add(n, std::memory_order_relaxed); }
  // True if the bridge may keep reading; otherwise it is marked paused and will be resumed.
  bool may_continue();
  void release(std::uint64_t n);
  std::uint64_t inflight() const { return inflight_.load(std::memory_order_relaxed); }

 private:
  const std::uint64_t limit_;
  std::weak_ptr<Peer> bridge_;
  std::atomic<std::uint64_t> inflight_{0};
  std::atomic<bool> paused_{false};
};

struct OutMessage {
  std::shared_ptr<const std::string> data;
  bool binary = true;
  std::shared_ptr<FlowCredit> credit;  // released when written (bridge -> executor only)
};

class Peer {
 public:
  virtual ~Peer() = default;
  // Queues one message; never blocks. Ignored once the peer is closing.
  virtual void send(OutMessage m) = 0;
  // Closes with a code and reason. `flush`: deliver what is queued first (e.g. the
  // executor's Reset before "stream reset by executor"); otherwise queued messages are
  // discarded. Idempotent: the first close wins.
  virtual void close_with(std::uint16_t code, std::string reason, bool flush) = 0;
  void close(CloseStatus s, bool flush = false) { close_with(s.code, std::string(s.reason), flush); }
  virtual std::uint64_t queued_bytes() const = 0;
  virtual void resume_reading() = 0;
};

}  // namespace cxg::relay
