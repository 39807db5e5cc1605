#include "cxg/relay/hub.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "cxg/codec/relay_frame.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/common/ids.hpp"
#include "cxg/common/log.hpp"
#include "links.hpp"

namespace cxg::relay {

namespace frame = codec::relay;

struct Hub::Counters {
  explicit Counters(metrics::Registry& r)
      : frames_to_executor(r.counter("cxg_frames", {{"direction", "to_executor"}})),
        frames_to_bridge(r.counter("cxg_frames", {{"direction", "to_bridge"}})),
        bytes_to_executor(r.counter("cxg_bytes", {{"direction", "to_executor"}})),
        bytes_to_bridge(r.counter("cxg_bytes", {{"direction", "to_bridge"}})),
        evictions(r.counter("cxg_executor_evictions")),
        slow_consumers(r.counter("cxg_slow_consumer_closes")),
        executors(r.gauge("cxg_executors_connected")),
        streams(r.gauge("cxg_streams_active")),
        relay_bridges(r.gauge("cxg_bridges_active", {{"flavour", "relay"}})),
        plain_bridges(r.gauge("cxg_bridges_active", {{"flavour", "plain"}})) {}
  metrics::Counter &frames_to_executor, &frames_to_bridge, &bytes_to_executor, &bytes_to_bridge;
  metrics::Counter &evictions, &slow_consumers;
  metrics::Gauge &executors, &streams, &relay_bridges, &plain_bridges;

  metrics::Gauge& bridges(Flavour f) { return f == Flavour::relay ? relay_bridges : plain_bridges; }
};

namespace {

OutMessage binary_message(std::string bytes) {
  return OutMessage{std::make_shared<const std::string>(std::move(bytes)), true, nullptr};
}
OutMessage text_message(std::string text) {
  return OutMessage{std::make_shared<const std::string>(std::move(text)), false, nullptr};
}

Hub::OpenResult refuse(CloseStatus s) { return {nullptr, s.code, std::string(s.reason), ReadGate::go_on}; }

// The exec-server's own answer to unparsable input (wire-protocol.md §7.2).
std::string invalid_json_reply(std::string_view detail) {
  boost::json::object err{{"code", -32600}, {"message", "invalid JSON: " + std::string(detail)}};
  return boost::json::serialize(boost::json::object{{"id", -1}, {"error", std::move(err)}});
}

}  // namespace

Hub::Hub(RelayLimits limits, metrics::Registry& metrics, PresenceRecorder& presence)
    : limits_(limits), metrics_(metrics), presence_(presence), counters_(std::make_unique<Counters>(metrics)) {}

Hub::~Hub() = default;

void Hub::drop(const char* reason) { metrics_.counter("cxg_frames_dropped", {{"reason", reason}}).inc(); }

std::shared_ptr<ExecutorLink> Hub::find(const std::string& exe_id) const {
  std::lock_guard lk(mu_);
  auto it = executors_.find(exe_id);
  return it == executors_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<ExecutorLink>> Hub::all_executors() const {
  std::lock_guard lk(mu_);
  std::vector<std::shared_ptr<ExecutorLink>> out;
  out.reserve(executors_.size());
  for (const auto& [_, e] : executors_) out.push_back(e);
  return out;
}

// ---------------------------------------------------------------- executor side

std::shared_ptr<ExecutorLink> Hub::attach_executor(const std::string& exe_id, bool legacy, std::shared_ptr<Peer> peer) {
  auto link = std::make_shared<ExecutorLink>();
  link->exe_id = exe_id;
  link->conn_id = crypto::uuid_v4();
  link->legacy = legacy;
  link->peer = std::move(peer);
  std::shared_ptr<ExecutorLink> previous;
  {
    std::lock_guard lk(mu_);
    auto& slot = executors_[exe_id];
    previous = std::exchange(slot, link);
  }
  counters_->executors.add();
  presence_.connected(exe_id, link->conn_id, legacy);
  if (previous) {
    counters_->evictions.inc();
    log::info("executor connection replaced", {{"exe_id", exe_id}, {"old_conn_id", previous->conn_id},
                                               {"conn_id", link->conn_id}});
    detach_executor(previous, close::kReplaced, close::kExecutorReplaced);
  }
  log::info("executor connected", {{"exe_id", exe_id}, {"conn_id", link->conn_id}, {"protocol", legacy ? "json" : "relay"}});
  return link;
}

void Hub::detach_executor(const std::shared_ptr<ExecutorLink>& exe, CloseStatus exe_status, CloseStatus bridge_status) {
  std::lock_guard lk(exe->mu);
  exe->live = false;
  // The executor socket is closing, so its streams end without a Reset.
  for (auto& [_, b] : exe->streams) {
    b->open = false;
    counters_->streams.sub();
    counters_->bridges(b->flavour).sub();
    b->peer->close(bridge_status);
  }
  exe->streams.clear();
  exe->peer->close(exe_status);
}

void Hub::executor_gone(ExecutorLink& link) {
  {
    std::lock_guard lk(mu_);
    auto it = executors_.find(link.exe_id);
    if (it != executors_.end() && it->second.get() == &link) executors_.erase(it);
  }
  {
    std::lock_guard lk(link.mu);
    link.live = false;
    for (auto& [_, b] : link.streams) {
      b->open = false;
      counters_->streams.sub();
      counters_->bridges(b->flavour).sub();
      b->peer->close(close::kExecutorDisconnected);
    }
    link.streams.clear();
  }
  counters_->executors.sub();
  presence_.disconnected(link.exe_id, link.conn_id);
  log::info("executor disconnected", {{"exe_id", link.exe_id}, {"conn_id", link.conn_id}});
}

void Hub::executor_message(ExecutorLink& exe, std::string message, bool binary) {
  if (exe.legacy) {
    if (binary) return drop("binary_from_legacy_executor");
    return legacy_executor_text(exe, std::move(message));
  }
  if (!binary) return drop("text_from_relay_executor");
  relay_executor_frame(exe, std::move(message));
}

void Hub::relay_executor_frame(ExecutorLink& exe, std::string message) {
  const auto f = frame::decode(message);
  if (!f) return drop("malformed");
  switch (frame::validate(*f)) {
    case frame::Validity::ok: break;
    case frame::Validity::bad_version: return drop("bad_version");
    case frame::Validity::bad_stream_id: return drop("bad_stream_id");
    case frame::Validity::no_body: return drop("no_body");
    case frame::Validity::empty_reset_reason: return drop("empty_reset_reason");
  }
  std::lock_guard lk(exe.mu);
  const auto it = exe.streams.find(f->stream_id);
  if (it == exe.streams.end()) return drop("no_route");
  auto bridge = it->second;  // keep alive past erase
  const bool plain = bridge->flavour == Flavour::plain;

  if (f->body == frame::Body::reset) {
    std::string close_reason(close::kResetByExecutor.reason);
    metrics_.counter("cxg_stream_resets", {{"reason", "executor_reset"}}).inc();
    // The route goes first: if the Reset overflows the bridge's queue, deliver_to_bridge then
    // closes it 4106 without sending the executor a Reset for a stream it ended itself (§5.5).
    end_stream_locked(exe, *bridge, {});  // the executor ended it: no Reset back
    if (plain) close_reason = std::string(truncate_close_reason(close_reason + ": " + std::string(f->reason)));
    else deliver_to_bridge(exe, *bridge, binary_message(std::move(message)));
    bridge->peer->close_with(close::kResetByExecutor.code, std::move(close_reason), true);
    return;
  }
  if (!plain) return deliver_to_bridge(exe, *bridge, binary_message(std::move(message)));
  if (f->body != frame::Body::data) return drop("control_for_plain_bridge");
  if (!ids::is_valid_utf8(f->payload)) return protocol_violation(exe, *bridge, close::kInvalidExecutorPayload);
  deliver_to_bridge(exe, *bridge, text_message(std::string(f->payload)));
}

void Hub::legacy_executor_text(ExecutorLink& exe, std::string message) {
  std::lock_guard lk(exe.mu);
  if (exe.streams.empty()) return drop("no_route");
  auto& bridge = *exe.streams.begin()->second;
  if (bridge.flavour == Flavour::plain) return deliver_to_bridge(exe, bridge, text_message(std::move(message)));
  deliver_to_bridge(exe, bridge, binary_message(frame::encode_data(bridge.stream_id, bridge.seq_to_bridge++, message)));
}

void Hub::executor_message_too_big(ExecutorLink& exe, std::string_view prefix) {
  drop("too_large");
  std::lock_guard lk(exe.mu);
  std::shared_ptr<BridgeLink> bridge;
  if (exe.legacy) {
    if (!exe.streams.empty()) bridge = exe.streams.begin()->second;
  } else if (const auto id = frame::peek_stream_id(prefix)) {
    if (auto it = exe.streams.find(*id); it != exe.streams.end()) bridge = it->second;
  }
  if (!bridge) return;
  end_stream_locked(exe, *bridge, reset::kFrameTooLarge);
  bridge->peer->close(close::kMessageTooBig);
}

void Hub::deliver_to_bridge(ExecutorLink& exe, BridgeLink& bridge, OutMessage m) {
  const auto size = m.data->size();
  const auto queued = bridge.peer->queued_bytes();
  // An empty queue always takes one frame; otherwise the budget is hard (wire-protocol §9).
  if (queued > 0 && queued + size > limits_.bridge_queue_bytes) {
    counters_->slow_consumers.inc();
    log::warn("bridge closed as slow consumer", {{"exe_id", exe.exe_id}, {"stream_id", bridge.stream_id},
                                                  {"queued_bytes", queued}});
    end_stream_locked(exe, bridge, reset::kBridgeOverflow);
    bridge.peer->close(close::kSlowConsumer);
    return;
  }
  counters_->frames_to_bridge.inc();
  counters_->bytes_to_bridge.inc(size);
  bridge.peer->send(std::move(m));
}

// ---------------------------------------------------------------- bridge side

Hub::OpenResult Hub::open_bridge(const BridgeIdentity& who, std::shared_ptr<Peer> peer, std::string first, bool binary) {
  auto exe = find(who.exe_id);
  if (!exe) return refuse(close::kExecutorDisconnected);

  auto link = std::make_shared<BridgeLink>();
  link->who = who;
  link->peer = std::move(peer);
  link->executor = exe;
  link->credit = std::make_shared<FlowCredit>(limits_.stream_inflight_bytes, link->peer);
  if (binary) {
    const auto f = frame::decode(first);
    if (!f) return refuse(close::kMalformedFirstFrame);
    if (f->body != frame::Body::resume) return refuse(close::kFirstFrameNotResume);
    if (f->stream_id.empty()) return refuse(close::kResumeMissingStreamId);
    if (!ids::is_valid_stream_id(f->stream_id)) return refuse(close::kInvalidStreamId);
    if (f->version != 1) return refuse(close::kUnsupportedVersion);
    link->flavour = Flavour::relay;
    link->stream_id = std::string(f->stream_id);
  } else {
    link->flavour = Flavour::plain;
    link->stream_id = "cxg-" + crypto::uuid_v4();
  }

  std::lock_guard lk(exe->mu);
  if (!exe->live) return refuse(close::kExecutorDisconnected);
  if (exe->legacy && !exe->streams.empty()) return refuse(close::kExecutorBusy);
  if (auto it = exe->streams.find(link->stream_id); it != exe->streams.end()) {
    if (it->second->who.turn_id != who.turn_id) return refuse(close::kStreamIdInUse);
    // Same turn: the newcomer takes the stream over; the executor's session is kept.
    auto old = it->second;
    end_stream_locked(*exe, *old, {});
    old->peer->close(close::kStreamReplaced);
  }
  if (exe->streams.size() >= limits_.max_streams_per_executor) return refuse(close::kStreamLimit);

  exe->streams.emplace(link->stream_id, link);
  counters_->streams.add();
  counters_->bridges(link->flavour).add();
  log::debug("bridge attached", {{"exe_id", who.exe_id}, {"stream_id", link->stream_id}, {"turn_id", who.turn_id},
                                 {"flavour", link->flavour == Flavour::relay ? "relay" : "plain"}});
  ReadGate gate = ReadGate::go_on;
  if (link->flavour == Flavour::relay) {
    // Legacy executors know nothing of Resume: it is consumed here.
    if (!exe->legacy) gate = forward_to_executor(*exe, *link, binary_message(std::move(first)));
  } else {
    if (!exe->legacy) forward_to_executor(*exe, *link, binary_message(frame::encode_resume(link->stream_id, 0)));
    gate = plain_bridge_message(*exe, *link, std::move(first), false);
  }
  return {link, 0, {}, gate};
}

ReadGate Hub::bridge_message(BridgeLink& bridge, std::string message, bool binary) {
  auto exe = bridge.executor.lock();
  if (!exe) return ReadGate::go_on;
  std::lock_guard lk(exe->mu);
  if (!bridge.open) return ReadGate::go_on;  // closing: late frames are not forwarded
  if (bridge.flavour == Flavour::relay) return relay_bridge_message(*exe, bridge, std::move(message), binary);
  return plain_bridge_message(*exe, bridge, std::move(message), binary);
}

ReadGate Hub::relay_bridge_message(ExecutorLink& exe, BridgeLink& bridge, std::string message, bool binary) {
  if (!binary) return protocol_violation(exe, bridge, close::kRelayBinaryOnly), ReadGate::go_on;
  const auto f = frame::decode(message);
  if (!f) return protocol_violation(exe, bridge, close::kMalformedFrame), ReadGate::go_on;
  if (f->version != 1) return protocol_violation(exe, bridge, close::kUnsupportedVersion), ReadGate::go_on;
  if (f->stream_id != bridge.stream_id) return drop("foreign_stream"), ReadGate::go_on;

  if (f->body == frame::Body::reset) {
    const std::string reason = f->reason.empty() ? std::string(reset::kBridgeReset) : std::string(f->reason);
    metrics_.counter("cxg_stream_resets", {{"reason", "bridge_reset"}}).inc();
    if (!exe.legacy) {
      auto bytes = f->reason.empty() ? frame::encode_reset(bridge.stream_id, reason) : std::move(message);
      forward_to_executor(exe, bridge, binary_message(std::move(bytes)));
    }
    end_stream_locked(exe, bridge, exe.legacy ? reason : std::string_view{});
    bridge.peer->close(close::kResetByBridge);
    return ReadGate::go_on;
  }
  if (!exe.legacy) return forward_to_executor(exe, bridge, binary_message(std::move(message)));
  if (f->body != frame::Body::data) return drop("control_for_legacy_executor"), ReadGate::go_on;
  return forward_to_executor(exe, bridge, text_message(std::string(f->payload)));
}

ReadGate Hub::plain_bridge_message(ExecutorLink& exe, BridgeLink& bridge, std::string message, bool binary) {
  if (binary) return protocol_violation(exe, bridge, close::kPlainTextOnly), ReadGate::go_on;
  boost::system::error_code ec;
  // Boost's default max_depth (32) would refuse valid JSON the executor accepts: serde_json
  // stops at 128 levels, so anything deeper would be dropped by the executor anyway (§4.2).
  boost::json::parse_options opts;
  opts.max_depth = 128;
  // The document is parsed only to be checked and then dropped: a stack-backed monotonic
  // resource spares it a malloc and a free per JSON value.
  unsigned char scratch[4096];
  boost::json::monotonic_resource scratch_resource(scratch, sizeof scratch);
  boost::json::parse(message, ec, &scratch_resource, opts);
  if (ec) {
    drop("invalid_json_from_bridge");
    // Through the bridge's queue budget like any frame to it: a bridge that sends garbage and
    // never reads would otherwise grow its queue without bound (§9 isolation).
    deliver_to_bridge(exe, bridge, text_message(invalid_json_reply(ec.message())));
    return ReadGate::go_on;
  }
  if (exe.legacy) return forward_to_executor(exe, bridge, text_message(std::move(message)));
  return forward_to_executor(exe, bridge,
                             binary_message(frame::encode_data(bridge.stream_id, bridge.seq_to_executor++, message)));
}

ReadGate Hub::forward_to_executor(ExecutorLink& exe, BridgeLink& bridge, OutMessage m) {
  const auto size = m.data->size();
  m.credit = bridge.credit;
  bridge.credit->add(size);
  counters_->frames_to_executor.inc();
  counters_->bytes_to_executor.inc(size);
  exe.peer->send(std::move(m));
  return bridge.credit->may_continue() ? ReadGate::go_on : ReadGate::pause;
}

void Hub::protocol_violation(ExecutorLink& exe, BridgeLink& bridge, CloseStatus status) {
  end_stream_locked(exe, bridge, reset::kProtocolError);
  bridge.peer->close(status);
}

void Hub::bridge_message_too_big(BridgeLink& bridge) {
  auto exe = bridge.executor.lock();
  if (!exe) return bridge.peer->close(close::kMessageTooBig);
  std::lock_guard lk(exe->mu);
  end_stream_locked(*exe, bridge, reset::kFrameTooLarge);
  bridge.peer->close(close::kMessageTooBig);
}

void Hub::bridge_gone(BridgeLink& bridge, std::string_view reset_reason) {
  auto exe = bridge.executor.lock();
  if (!exe) return;
  std::lock_guard lk(exe->mu);
  end_stream_locked(*exe, bridge, reset_reason);
}

void Hub::end_stream_locked(ExecutorLink& exe, BridgeLink& bridge, std::string_view reset_reason) {
  if (!bridge.open) return;
  bridge.open = false;
  exe.streams.erase(bridge.stream_id);
  counters_->streams.sub();
  counters_->bridges(bridge.flavour).sub();
  if (reset_reason.empty() || !exe.live) return;
  if (exe.legacy) {
    // A legacy connection is one JSON-RPC session: the next bridge needs a fresh one, which
    // the executor gets by reconnecting (wire-protocol.md §6.5).
    exe.live = false;
    exe.peer->close(close::kBridgeLeft, true);
    return;
  }
  // Counted only when a Reset frame actually goes out (legacy executors never get one).
  metrics_.counter("cxg_stream_resets", {{"reason", std::string(reset_reason)}}).inc();
  exe.peer->send(binary_message(frame::encode_reset(bridge.stream_id, reset_reason)));
}

void Hub::close_bridges_where(ExecutorLink& exe, CloseStatus status, std::string_view reset_reason,
                              const std::function<bool(const BridgeLink&)>& pred) {
  std::lock_guard lk(exe.mu);
  std::vector<std::shared_ptr<BridgeLink>> matching;
  for (const auto& [_, b] : exe.streams)
    if (pred(*b)) matching.push_back(b);
  for (auto& b : matching) {
    end_stream_locked(exe, *b, reset_reason);
    b->peer->close(status);
  }
}

// ---------------------------------------------------------------- control

void Hub::shutdown() {
  for (auto& exe : all_executors()) {
    // One critical section per executor (not close_bridges_where + a second lock): a bridge
    // admitted between the two would stay open without its Reset or its 1001 (H2).
    std::lock_guard lk(exe->mu);
    // A legacy executor gets no Reset, and ending its bridge with a reason would close it
    // `1000 bridge left` before the `1001 gateway shutting down` below (H2).
    const auto reason = exe->legacy ? std::string_view{} : reset::kGatewayShutdown;
    std::vector<std::shared_ptr<BridgeLink>> bridges;
    for (const auto& [_, b] : exe->streams) bridges.push_back(b);
    for (auto& b : bridges) {
      end_stream_locked(*exe, *b, reason);
      b->peer->close(close::kShuttingDown);
    }
    exe->live = false;
    exe->peer->close(close::kShuttingDown, true);  // after the Resets queued above
  }
}

bool Hub::executor_connected(const std::string& exe_id) const {
  auto exe = find(exe_id);
  if (!exe) return false;
  std::lock_guard lk(exe->mu);
  return exe->live;
}

bool Hub::legacy_executor_busy(const std::string& exe_id) const {
  auto exe = find(exe_id);
  if (!exe || !exe->legacy) return false;
  std::lock_guard lk(exe->mu);
  return !exe->streams.empty();
}

std::size_t Hub::active_streams(const std::string& exe_id) const {
  auto exe = find(exe_id);
  if (!exe) return 0;
  std::lock_guard lk(exe->mu);
  return exe->streams.size();
}

void Hub::close_executor_deleted(const std::string& exe_id) {
  std::shared_ptr<ExecutorLink> exe;
  {
    std::lock_guard lk(mu_);
    auto it = executors_.find(exe_id);
    if (it == executors_.end()) return;
    exe = it->second;
    executors_.erase(it);
  }
  detach_executor(exe, close::kExecutorDeleted, close::kBridgeExecutorDeleted);
}

void Hub::close_unbound(const std::string& workspace_id, const std::string& exe_id) {
  if (auto exe = find(exe_id))
    close_bridges_where(*exe, close::kUnbound, reset::kExecutorUnbound,
                        [&](const BridgeLink& b) { return b.who.workspace_id == workspace_id; });
}

void Hub::on_turn_revoked(const std::string& turn_id) {
  for (auto& exe : all_executors())
    close_bridges_where(*exe, close::kTurnRevoked, reset::kTurnRevoked,
                        [&](const BridgeLink& b) { return b.who.turn_id == turn_id; });
}

}  // namespace cxg::relay
