#pragma once
// The relay core (wire-protocol.md §2, §5-§7, §9-§10): the table of live executors and their
// streams, routing by stream_id, flavour translation, isolation and every close/Reset rule.
// Free of sockets: connections are relay::Peer objects, so all of it is unit-testable.
//
// Threading: any method may be called from any thread. The hub's mutex guards the executor
// table; each executor's mutex guards its streams. Peers never call back synchronously.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cxg/api/live_relay.hpp"
#include "cxg/auth/revocations.hpp"
#include "cxg/metrics/registry.hpp"
#include "cxg/relay/peer.hpp"

namespace cxg::relay {

struct RelayLimits {
  std::uint64_t bridge_queue_bytes = 16ull << 20;
  std::uint64_t stream_inflight_bytes = 4ull << 20;
  std::uint64_t max_streams_per_executor = 64;
};

// Where presence goes (the store, through a serial writer so that writes keep their order).
class PresenceRecorder {
 public:
  virtual ~PresenceRecorder() = default;
  virtual void connected(const std::string& exe_id, const std::string& conn_id, bool legacy) = 0;
  virtual void disconnected(const std::string& exe_id, const std::string& conn_id) = 0;
};

struct BridgeIdentity {
  std::string exe_id, workspace_id, turn_id, user_id;
};

enum class Flavour { relay, plain };
enum class ReadGate { go_on, pause };

struct ExecutorLink;
struct BridgeLink;

class Hub final : public api::LiveRelay, public auth::TurnRevocationListener {
 public:
  Hub(RelayLimits limits, metrics::Registry& metrics, PresenceRecorder& presence);
  ~Hub() override;

  // --- executor connections
  // Makes this connection the live one for exe_id; an older one is closed 4001 and its
  // bridges 4101 (newest wins).
  std::shared_ptr<ExecutorLink> attach_executor(const std::string& exe_id, bool legacy, std::shared_ptr<Peer> peer);
  void executor_message(ExecutorLink& link, std::string message, bool binary);
  // A message over CXG_MAX_EXECUTOR_MESSAGE_BYTES was discarded; `prefix` are its first bytes.
  void executor_message_too_big(ExecutorLink& link, std::string_view prefix);
  // The socket ended, whatever the cause: its bridges get 4100.
  void executor_gone(ExecutorLink& link);

  // --- bridge connections
  struct OpenResult {
    std::shared_ptr<BridgeLink> link;  // null: refused, close with `refusal`
    std::uint16_t close_code = 0;
    std::string close_reason;
    ReadGate gate = ReadGate::go_on;  // whether to keep reading after the first message
  };
  // The first message decides the flavour (binary Resume: relay; text: plain).
  OpenResult open_bridge(const BridgeIdentity& who, std::shared_ptr<Peer> peer, std::string first_message, bool binary);
  ReadGate bridge_message(BridgeLink& link, std::string message, bool binary);
  // A bridge message over CXG_MAX_BRIDGE_MESSAGE_BYTES: 1009 + Reset frame_too_large.
  void bridge_message_too_big(BridgeLink& link);
  // The socket ended (close, error, timeout); `reset_reason` is what the executor is told.
  void bridge_gone(BridgeLink& link, std::string_view reset_reason);

  // Drain: every stream Reset gateway_shutdown, every socket closed 1001.
  void shutdown();

  // api::LiveRelay
  bool executor_connected(const std::string& exe_id) const override;
  bool legacy_executor_busy(const std::string& exe_id) const override;
  std::size_t active_streams(const std::string& exe_id) const override;
  void close_executor_deleted(const std::string& exe_id) override;
  void close_unbound(const std::string& workspace_id, const std::string& exe_id) override;
  // auth::TurnRevocationListener
  void on_turn_revoked(const std::string& turn_id) override;

 private:
  struct Counters;
  std::shared_ptr<ExecutorLink> find(const std::string& exe_id) const;
  std::vector<std::shared_ptr<ExecutorLink>> all_executors() const;

  // Stream removal, with or without telling the executor (lock of link held by caller).
  void end_stream_locked(ExecutorLink& exe, BridgeLink& bridge, std::string_view reset_reason);
  void close_bridges_where(ExecutorLink& exe, CloseStatus status, std::string_view reset_reason,
                           const std::function<bool(const BridgeLink&)>& pred);
  void detach_executor(const std::shared_ptr<ExecutorLink>& exe, CloseStatus exe_status, CloseStatus bridge_status);

  void relay_executor_frame(ExecutorLink& exe, std::string message);
  void legacy_executor_text(ExecutorLink& exe, std::string message);
  void deliver_to_bridge(ExecutorLink& exe, BridgeLink& bridge, OutMessage m);
  ReadGate forward_to_executor(ExecutorLink& exe, BridgeLink& bridge, OutMessage m);
  ReadGate relay_bridge_message(ExecutorLink& exe, BridgeLink& bridge, std::string message, bool binary);
  ReadGate plain_bridge_message(ExecutorLink& exe, BridgeLink& bridge, std::string message, bool binary);
  void protocol_violation(ExecutorLink& exe, BridgeLink& bridge, CloseStatus status);
  void drop(const char* reason);

  const RelayLimits limits_;
  metrics::Registry& metrics_;
  PresenceRecorder& presence_;
  std::unique_ptr<Counters> counters_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<ExecutorLink>> executors_;
};

}  // namespace cxg::relay
