// The relay hub fed with fuzzed executor and bridge messages through fake peers
// (behaviour.md Z2, Z3; wire-protocol.md §5-§7, §9-§10).
//
// Each input is a script of operations on one fresh Hub: executors attach (relay or legacy),
// bridges open with a fuzzed first message, either side sends fuzzed messages (raw bytes or
// frames built around live stream_ids), sockets go away, queues drain, turns are revoked,
// bindings removed, executors deleted, the hub shuts down. After every operation:
//  - Z2: a bridge's message changes nothing but that bridge and its executor, and what reaches
//    the executor is that bridge's own valid frame (byte for byte), a Data frame wrapping its
//    JSON (plain bridge), its payload as text (legacy executor), or a Reset for its stream;
//  - Z3: an executor's message changes at most the bridge of the stream it names (for a legacy
//    executor: its one bridge), which gets the frame byte for byte (relay) or the payload as
//    UTF-8 text (plain); the executor itself gets at most a Reset for that stream;
//  - operations that target one executor, workspace or turn touch nothing else;
//  - every frame to a relay executor decodes with version 1 and a valid stream_id, legacy
//    executors and plain bridges get text only, relay bridges only frames naming their stream;
//  - close reasons fit a close frame (123 bytes of UTF-8); at most one Reset per stream and
//    exactly one when a bridge leaves a live relay executor (§5.5);
//  - the stream, bridge and executor gauges and active_streams() match what is open.
#include <fuzzer/FuzzedDataProvider.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "cxg/codec/relay_frame.hpp"
#include "cxg/common/ids.hpp"
#include "cxg/metrics/registry.hpp"
#include "cxg/relay/hub.hpp"
#include "fuzz_common.hpp"
#include "relay/links.hpp"

namespace {

using namespace cxg;
using namespace cxg::relay;
namespace frame = codec::relay;

struct Msg {
  std::string bytes;
  bool binary = false;
};
struct Close {
  std::uint16_t code = 0;
  std::string reason;
};

// A websocket as the transport implements it: a closing peer ignores sends; queued bytes
// grow with each send until the writer drains them, which also returns the flow credit.
class FuzzPeer final : public Peer {
 public:
  void send(OutMessage m) override {
    if (!closes.empty()) return;
    queued += m.data->size();
    sent.push_back({*m.data, m.binary});
    if (m.credit) credits.emplace_back(m.credit, m.data->size());
  }
  void close_with(std::uint16_t code, std::string reason, bool) override { closes.push_back({code, std::move(reason)}); }
  std::uint64_t queued_bytes() const override { return queued; }
  void resume_reading() override { ++resumes; }

  void drain() {
    queued = 0;
    auto pending = std::move(credits);
    credits.clear();
    for (auto& [credit, n] : pending) credit->release(n);
  }

  std::vector<Msg> sent;
  std::vector<Close> closes;
  std::uint64_t queued = 0;
  int resumes = 0;
  std::size_t checked_sent = 0, checked_closes = 0;  // how far check_invariants() got
  std::vector<std::pair<std::shared_ptr<FlowCredit>, std::uint64_t>> credits;
};

class NullPresence final : public PresenceRecorder {
 public:
  void connected(const std::string&, const std::string&, bool) override { ++connected_calls; }
  void disconnected(const std::string&, const std::string&) override { ++disconnected_calls; }
  int connected_calls = 0, disconnected_calls = 0;
};

struct ExeSlot {
  std::string exe_id;
  bool legacy = false;
  std::shared_ptr<ExecutorLink> link;
  std::shared_ptr<FuzzPeer> peer;
  bool gone = false;  // executor_gone() called: the transport sends nothing more for it
};

struct BridgeSlot {
  BridgeIdentity who;
  std::size_t exe = 0;  // index into the executor slots
  std::shared_ptr<BridgeLink> link;
  std::shared_ptr<FuzzPeer> peer;
  bool gone = false;
  int resets_to_executor = 0;  // Reset frames for this stream seen on the executor
};

constexpr const char* kExeIds[] = {"exe-a", "exe-b"};
constexpr const char* kTurns[] = {"turn-1", "turn-2", "turn-3"};
constexpr const char* kWorkspaces[] = {"ws-1", "ws-2"};
constexpr std::size_t kMaxExecutors = 8, kMaxBridges = 24, kMaxOps = 96;

bool known_close_code(std::uint16_t c) {
  static const std::set<std::uint16_t> codes{1000, 1001, 1002, 1003, 1007, 1009, 1011, 1013, 4000, 4001, 4002,
                                             4100, 4101, 4102, 4103, 4104, 4105, 4106, 4107, 4108};
  return codes.count(c) != 0;
}

class Script {
 public:
  Script(FuzzedDataProvider& in)
      : in_(in), limits_(pick_limits(in)) {
    metrics::declare_cxg_metrics(reg_, "fuzz");
    hub_ = std::make_unique<Hub>(limits_, reg_, presence_);
  }

  void run() {
    for (std::size_t ops = 0; ops < kMaxOps && in_.remaining_bytes() > 0; ++ops) {
      snapshot();
      switch (in_.ConsumeIntegralInRange(0, 10)) {
        case 0: attach(); break;
        case 1: case 2: open_bridge(); break;
        case 3: case 4: bridge_message(); break;
        case 5: case 6: executor_message(); break;
        case 7: too_big(); break;
        case 8: gone(); break;
        case 9: drain(); break;
        case 10: control(); break;
      }
      check_invariants();
    }
    hub_->shutdown();
    check_invariants();
  }

 private:
  static RelayLimits pick_limits(FuzzedDataProvider& in) {
    static constexpr std::uint64_t kQueue[] = {64, 1024, 16ull << 20};
    static constexpr std::uint64_t kInflight[] = {16, 4096, 4ull << 20};
    static constexpr std::uint64_t kStreams[] = {1, 2, 64};
    RelayLimits l;
    l.bridge_queue_bytes = in.PickValueInArray(kQueue);
    l.stream_inflight_bytes = in.PickValueInArray(kInflight);
    l.max_streams_per_executor = in.PickValueInArray(kStreams);
    return l;
  }

  // ------------------------------------------------------------------ inputs

  std::string pick_stream_id() {
    switch (in_.ConsumeIntegralInRange(0, 3)) {
      case 0: return in_.ConsumeRandomLengthString(140);
      case 1:
        if (!bridges_.empty())
          return bridges_[in_.ConsumeIntegralInRange<std::size_t>(0, bridges_.size() - 1)].link->stream_id;
        [[fallthrough]];
      default: {
        static constexpr const char* kIds[] = {"s1", "s2", "s3", " s4", ""};
        return in_.PickValueInArray(kIds);
      }
    }
  }

  // A message: raw bytes, a frame cxg could build around a (live) stream_id, a valid header
  // followed by fuzzed fields, or JSON-ish text.
  Msg pick_message() {
    Msg m;
    m.binary = true;
    switch (in_.ConsumeIntegralInRange(0, 6)) {
      case 0:
        m.binary = in_.ConsumeBool();
        m.bytes = in_.ConsumeRandomLengthString(2048);
        break;
      case 1: {
        const auto sid = pick_stream_id();
        const auto seq = in_.ConsumeIntegral<std::uint32_t>();
        m.bytes = frame::encode_data(sid, seq, in_.ConsumeRandomLengthString(512));
        break;
      }
      case 2: {
        const auto sid = pick_stream_id();
        m.bytes = frame::encode_reset(sid, in_.ConsumeRandomLengthString(300));
        break;
      }
      case 3: {
        const auto sid = pick_stream_id();
        m.bytes = frame::encode_resume(sid, in_.ConsumeIntegral<std::uint32_t>());
        break;
      }
      case 4: {  // version + stream_id, then whatever the fuzzer adds (unknown fields, bodies...)
        const auto version = in_.ConsumeIntegralInRange<std::uint8_t>(0, 3);
        const auto sid = pick_stream_id();
        m.bytes.push_back('\x08');
        m.bytes.push_back(static_cast<char>(version));
        if (sid.size() < 128) {
          m.bytes.push_back('\x12');
          m.bytes.push_back(static_cast<char>(sid.size()));
          m.bytes += sid;
        }
        m.bytes += in_.ConsumeRandomLengthString(512);
        break;
      }
      case 5: {
        static constexpr const char* kJson[] = {R"({"id":1,"method":"initialize","params":{}})",
                                                R"({"jsonrpc":"2.0","id":2,"result":{}})", "[]", "{", "null",
                                                R"({"method":"initialized"})"};
        m.binary = false;
        m.bytes = in_.PickValueInArray(kJson);
        break;
      }
      default:
        m.binary = false;
        m.bytes = in_.ConsumeRandomLengthString(2048);
        break;
    }
    // The transport only delivers UTF-8 text messages (Beast closes 1007 on anything else).
    if (!m.binary && !ids::is_valid_utf8(m.bytes)) m.binary = true;
    return m;
  }

  // ------------------------------------------------------------------ operations

  void attach() {
    if (exes_.size() >= kMaxExecutors) return;
    ExeSlot e;
    e.exe_id = in_.PickValueInArray(kExeIds);
    e.legacy = in_.ConsumeBool();
    e.peer = std::make_shared<FuzzPeer>();
    e.link = hub_->attach_executor(e.exe_id, e.legacy, e.peer);
    FUZZ_CHECK(e.link != nullptr);
    exes_.push_back(std::move(e));
    const std::string id = exes_.back().exe_id;
    allow_only([&](const ExeSlot& x) { return x.exe_id == id; }, [&](const BridgeSlot& b) { return exes_[b.exe].exe_id == id; });
  }

  void open_bridge() {
    if (bridges_.size() >= kMaxBridges || exes_.empty()) return;
    BridgeIdentity who{in_.PickValueInArray(kExeIds), in_.PickValueInArray(kWorkspaces), in_.PickValueInArray(kTurns),
                       "user-1"};
    Msg first;
    if (in_.ConsumeBool()) first = {frame::encode_resume(pick_stream_id(), in_.ConsumeIntegral<std::uint32_t>()), true};
    else first = pick_message();
    auto peer = std::make_shared<FuzzPeer>();
    auto res = hub_->open_bridge(who, peer, first.bytes, first.binary);
    if (!res.link) {
      FUZZ_CHECK(res.close_code != 0 && known_close_code(res.close_code));
      FUZZ_CHECK(res.close_reason.size() <= 123 && ids::is_valid_utf8(res.close_reason));
      FUZZ_CHECK(peer->sent.empty() && peer->closes.empty());
      allow_only([](const ExeSlot&) { return false; }, [](const BridgeSlot&) { return false; });
      return;
    }
    FUZZ_CHECK(res.close_code == 0);
    // The bridge belongs to the executor's live connection.
    const auto exe_link = res.link->executor.lock();
    std::size_t idx = exes_.size();
    for (std::size_t i = 0; i < exes_.size(); ++i)
      if (exes_[i].link == exe_link) idx = i;
    FUZZ_CHECK(idx < exes_.size() && !exes_[idx].gone && exes_[idx].exe_id == who.exe_id);
    const ExeSlot& exe = exes_[idx];
    const std::string sid = res.link->stream_id;
    FUZZ_CHECK(ids::is_valid_stream_id(sid));
    if (first.binary) {
      FUZZ_CHECK(res.link->flavour == Flavour::relay);
      const auto f = frame::decode(first.bytes);
      FUZZ_CHECK(f && f->body == frame::Body::resume && f->version == 1 && f->stream_id == sid);
      // §7.1.3: the Resume reaches a relay executor byte for byte (legacy executors never).
      const auto fresh = new_messages(*exe.peer);
      if (!exe.legacy) FUZZ_CHECK(!fresh.empty() && fresh.front().bytes == first.bytes);
    } else {
      FUZZ_CHECK(res.link->flavour == Flavour::plain);
    }
    // Another bridge of the same executor is touched only when it held this stream_id under
    // the same turn (takeover, 4102).
    const std::size_t before = bridges_.size();
    allow_only([&](const ExeSlot& x) { return &x == &exe; },
               [&](const BridgeSlot& b) {
                 return &exes_[b.exe] == &exe && b.link->stream_id == sid && b.who.turn_id == who.turn_id;
               });
    for (std::size_t i = 0; i < before; ++i) {
      const auto& b = bridges_[i];
      if (closes_before(*b.peer) == 0 && !b.peer->closes.empty()) FUZZ_CHECK(b.peer->closes.front().code == 4102);
    }
    bridges_.push_back({who, idx, res.link, peer, false, 0});
    attribute_resets();
  }

  void bridge_message() {
    BridgeSlot* b = pick_bridge();
    if (!b) return;
    const Msg m = pick_message();
    hub_->bridge_message(*b->link, m.bytes, m.binary);
    ExeSlot& exe = exes_[b->exe];
    // Z2: only this bridge and its executor change.
    allow_only([&](const ExeSlot& x) { return &x == &exe; }, [&](const BridgeSlot& x) { return &x == b; });
    const auto& sid = b->link->stream_id;
    const auto f = frame::decode(m.bytes);
    for (const auto& x : new_messages(*exe.peer)) {
      if (exe.legacy) {
        FUZZ_CHECK(!x.binary);
        if (b->link->flavour == Flavour::plain) FUZZ_CHECK(!m.binary && x.bytes == m.bytes);
        else FUZZ_CHECK(m.binary && f && f->body == frame::Body::data && x.bytes == f->payload);
        continue;
      }
      FUZZ_CHECK(x.binary);
      const auto fx = frame::decode(x.bytes);
      FUZZ_CHECK(fx && fx->version == 1 && fx->stream_id == sid);
      if (fx->body == frame::Body::reset) continue;  // cxg's or the bridge's own Reset
      if (b->link->flavour == Flavour::relay) {
        // Forwarded byte for byte, and only a well-formed v1 frame of this stream.
        FUZZ_CHECK(m.binary && x.bytes == m.bytes && f && f->version == 1 && f->stream_id == sid);
      } else {
        FUZZ_CHECK(!m.binary && fx->body == frame::Body::data && fx->payload == m.bytes);
      }
    }
    if (!exe.legacy) FUZZ_CHECK(exe.peer->closes.size() == closes_before(*exe.peer));
    attribute_resets();
  }

  void executor_message() {
    ExeSlot* e = pick_exe();
    if (!e) return;
    const Msg m = pick_message();
    // Which stream the message names: a valid frame's stream_id, or a legacy executor's one bridge.
    std::optional<std::string> named;
    std::optional<frame::FrameView> f;
    if (!e->legacy) {
      f = frame::decode(m.bytes);
      if (m.binary && f && frame::validate(*f) == frame::Validity::ok) named = std::string(f->stream_id);
    }
    hub_->executor_message(*e->link, m.bytes, m.binary);
    // Z3: at most the named stream's bridge (and for a legacy executor, its own socket).
    allow_only([&](const ExeSlot& x) { return &x == e; },
               [&](const BridgeSlot& x) {
                 if (&exes_[x.exe] != e) return false;
                 return e->legacy || (named && x.link->stream_id == *named);
               });
    for (const auto& x : new_messages(*e->peer)) {
      FUZZ_CHECK(!e->legacy && x.binary && named);
      const auto fx = frame::decode(x.bytes);
      FUZZ_CHECK(fx && fx->body == frame::Body::reset && fx->stream_id == *named);
    }
    if (!e->legacy) FUZZ_CHECK(e->peer->closes.size() == closes_before(*e->peer));
    for (auto& b : bridges_) {
      if (&exes_[b.exe] != e) continue;
      for (const auto& x : new_messages(*b.peer)) {
        if (e->legacy) {
          FUZZ_CHECK(!m.binary);
          if (b.link->flavour == Flavour::plain) {
            FUZZ_CHECK(!x.binary && (x.bytes == m.bytes));
          } else {
            const auto fx = frame::decode(x.bytes);
            FUZZ_CHECK(x.binary && fx && fx->body == frame::Body::data && fx->stream_id == b.link->stream_id &&
                       fx->payload == m.bytes);
          }
        } else if (b.link->flavour == Flavour::relay) {
          FUZZ_CHECK(x.binary && x.bytes == m.bytes);  // X2: byte for byte
        } else {
          FUZZ_CHECK(!x.binary && f && f->body == frame::Body::data && x.bytes == f->payload);
        }
      }
    }
    attribute_resets();
  }

  void too_big() {
    if (in_.ConsumeBool()) {
      BridgeSlot* b = pick_bridge();
      if (!b) return;
      hub_->bridge_message_too_big(*b->link);
      ExeSlot& exe = exes_[b->exe];
      allow_only([&](const ExeSlot& x) { return &x == &exe; }, [&](const BridgeSlot& x) { return &x == b; });
    } else {
      ExeSlot* e = pick_exe();
      if (!e) return;
      const Msg prefix = pick_message();
      const auto named = frame::peek_stream_id(prefix.bytes);
      hub_->executor_message_too_big(*e->link, prefix.bytes);
      allow_only([&](const ExeSlot& x) { return &x == e; },
                 [&](const BridgeSlot& x) {
                   return &exes_[x.exe] == e && (e->legacy || (named && x.link->stream_id == *named));
                 });
      if (!e->legacy) FUZZ_CHECK(e->peer->closes.size() == closes_before(*e->peer));
    }
    attribute_resets();
  }

  void gone() {
    if (in_.ConsumeBool()) {
      BridgeSlot* b = pick_bridge();
      if (!b) return;
      static constexpr const char* kReasons[] = {"harness_disconnected", "", "bridge_overflow", "frame_too_large"};
      const std::string reason = in_.PickValueInArray(kReasons);
      ExeSlot& exe = exes_[b->exe];
      const bool was_open = b->link->open;
      const bool exe_live = exe.link->live;
      const int resets_before = b->resets_to_executor;
      hub_->bridge_gone(*b->link, reason);
      b->gone = true;
      FUZZ_CHECK(!b->link->open);
      allow_only([&](const ExeSlot& x) { return &x == &exe; }, [&](const BridgeSlot& x) { return &x == b; });
      attribute_resets();
      // §5.5: a bridge leaving a live relay executor is Reset exactly once.
      if (was_open && exe_live && !exe.legacy && !reason.empty()) FUZZ_CHECK(b->resets_to_executor == resets_before + 1);
      if (!was_open || reason.empty()) FUZZ_CHECK(b->resets_to_executor == resets_before);
    } else {
      ExeSlot* e = pick_exe();
      if (!e) return;
      hub_->executor_gone(*e->link);
      e->gone = true;
      // §5.8: its bridges are closed 4100 (unless already closing); nothing else changes.
      allow_only([&](const ExeSlot& x) { return &x == e; }, [&](const BridgeSlot& x) { return &exes_[x.exe] == e; });
      FUZZ_CHECK(new_messages(*e->peer).empty());
      for (auto& b : bridges_) {
        if (&exes_[b.exe] != e) continue;
        FUZZ_CHECK(!b.link->open);
        if (closes_before(*b.peer) == 0 && !b.gone) FUZZ_CHECK(!b.peer->closes.empty() && b.peer->closes[0].code == 4100);
      }
      attribute_resets();
    }
  }

  void drain() {
    const std::size_t n = exes_.size() + bridges_.size();
    if (n == 0) return;
    const std::size_t i = in_.ConsumeIntegralInRange<std::size_t>(0, n - 1);
    if (i < exes_.size()) exes_[i].peer->drain();
    else bridges_[i - exes_.size()].peer->drain();
    allow_only([](const ExeSlot&) { return false; }, [](const BridgeSlot&) { return false; });
  }

  void control() {
    switch (in_.ConsumeIntegralInRange(0, 3)) {
      case 0: {
        const std::string ws = in_.PickValueInArray(kWorkspaces);
        const std::string id = in_.PickValueInArray(kExeIds);
        hub_->close_unbound(ws, id);
        allow_only([&](const ExeSlot& x) { return x.exe_id == id; },
                   [&](const BridgeSlot& b) { return exes_[b.exe].exe_id == id && b.who.workspace_id == ws; });
        break;
      }
      case 1: {
        const std::string turn = in_.PickValueInArray(kTurns);
        hub_->on_turn_revoked(turn);
        allow_only([&](const ExeSlot&) { return true; }, [&](const BridgeSlot& b) { return b.who.turn_id == turn; });
        break;
      }
      case 2: {
        const std::string id = in_.PickValueInArray(kExeIds);
        hub_->close_executor_deleted(id);
        allow_only([&](const ExeSlot& x) { return x.exe_id == id; }, [&](const BridgeSlot& b) { return exes_[b.exe].exe_id == id; });
        break;
      }
      default:
        hub_->shutdown();
        break;
    }
    attribute_resets();
  }

  // ------------------------------------------------------------------ bookkeeping

  BridgeSlot* pick_bridge() {
    std::vector<BridgeSlot*> live;
    for (auto& b : bridges_)
      if (!b.gone) live.push_back(&b);
    if (live.empty()) return nullptr;
    return live[in_.ConsumeIntegralInRange<std::size_t>(0, live.size() - 1)];
  }
  ExeSlot* pick_exe() {
    std::vector<ExeSlot*> live;
    for (auto& e : exes_)
      if (!e.gone) live.push_back(&e);
    if (live.empty()) return nullptr;
    return live[in_.ConsumeIntegralInRange<std::size_t>(0, live.size() - 1)];
  }

  void snapshot() {
    before_.clear();
    for (const auto& e : exes_) before_[e.peer.get()] = {e.peer->sent.size(), e.peer->closes.size()};
    for (const auto& b : bridges_) before_[b.peer.get()] = {b.peer->sent.size(), b.peer->closes.size()};
  }
  std::size_t sent_before(const FuzzPeer& p) const {
    auto it = before_.find(&p);
    return it == before_.end() ? 0 : it->second.first;
  }
  std::size_t closes_before(const FuzzPeer& p) const {
    auto it = before_.find(&p);
    return it == before_.end() ? 0 : it->second.second;
  }
  std::span<const Msg> new_messages(const FuzzPeer& p) const {
    return std::span<const Msg>(p.sent).subspan(sent_before(p));
  }
  bool changed(const FuzzPeer& p) const {
    return p.sent.size() != sent_before(p) || p.closes.size() != closes_before(p);
  }

  // Every peer outside the allowed sets is exactly as it was before the operation.
  void allow_only(const std::function<bool(const ExeSlot&)>& exe_ok, const std::function<bool(const BridgeSlot&)>& bridge_ok) {
    for (const auto& e : exes_)
      if (!exe_ok(e)) FUZZ_CHECK(!changed(*e.peer));
    for (const auto& b : bridges_)
      if (!bridge_ok(b)) FUZZ_CHECK(!changed(*b.peer));
  }

  // New Reset frames on each relay executor are charged to the newest bridge of that stream.
  void attribute_resets() {
    for (std::size_t i = 0; i < exes_.size(); ++i) {
      const auto& e = exes_[i];
      if (e.legacy) continue;
      for (const auto& x : new_messages(*e.peer)) {
        const auto f = frame::decode(x.bytes);
        if (!f || f->body != frame::Body::reset) continue;
        BridgeSlot* owner = nullptr;
        for (auto& b : bridges_)
          if (b.exe == i && b.link->stream_id == f->stream_id) owner = &b;
        FUZZ_CHECK(owner != nullptr);  // cxg never Resets a stream no bridge of it opened
        ++owner->resets_to_executor;
        FUZZ_CHECK(owner->resets_to_executor <= 1);  // §5.5: exactly one Reset per stream
      }
    }
    snapshot();  // charged once
  }

  void check_invariants() {
    std::int64_t open_relay = 0, open_plain = 0, attached = 0;
    for (const auto& b : bridges_) {
      if (b.link->open) ++(b.link->flavour == Flavour::relay ? open_relay : open_plain);
      for (; b.peer->checked_sent < b.peer->sent.size(); ++b.peer->checked_sent) {
        const auto& m = b.peer->sent[b.peer->checked_sent];
        if (b.link->flavour == Flavour::plain) {
          FUZZ_CHECK(!m.binary && ids::is_valid_utf8(m.bytes));
        } else {
          const auto f = frame::decode(m.bytes);
          FUZZ_CHECK(m.binary && f && f->stream_id == b.link->stream_id);
        }
      }
      check_closes(*b.peer);
    }
    for (std::size_t i = 0; i < exes_.size(); ++i) {
      const auto& e = exes_[i];
      if (!e.gone) ++attached;
      for (; e.peer->checked_sent < e.peer->sent.size(); ++e.peer->checked_sent) {
        const auto& m = e.peer->sent[e.peer->checked_sent];
        if (e.legacy) {
          FUZZ_CHECK(!m.binary);  // §6.6: never a Reset or a binary frame
        } else {
          const auto f = frame::decode(m.bytes);
          FUZZ_CHECK(m.binary && f && f->version == 1 && ids::is_valid_stream_id(f->stream_id));
        }
      }
      check_closes(*e.peer);
      std::size_t open_here = 0;
      for (const auto& b : bridges_)
        if (b.exe == i && b.link->open) ++open_here;
      std::lock_guard lk(e.link->mu);
      FUZZ_CHECK(e.link->streams.size() == open_here);
      if (e.legacy) FUZZ_CHECK(open_here <= 1);
      FUZZ_CHECK(open_here <= limits_.max_streams_per_executor);
    }
    FUZZ_CHECK(reg_.gauge("cxg_bridges_active", {{"flavour", "relay"}}).value() == open_relay);
    FUZZ_CHECK(reg_.gauge("cxg_bridges_active", {{"flavour", "plain"}}).value() == open_plain);
    FUZZ_CHECK(reg_.gauge("cxg_streams_active").value() == open_relay + open_plain);
    FUZZ_CHECK(reg_.gauge("cxg_executors_connected").value() == attached);
    for (const char* id : kExeIds) {
      // The hub's live connection for an id is the newest attached one, unless it went away.
      std::size_t expected = 0;
      for (std::size_t i = 0; i < exes_.size(); ++i)
        if (exes_[i].exe_id == id) expected = exes_[i].link->streams.size();
      if (!hub_->executor_connected(id)) continue;
      FUZZ_CHECK(hub_->active_streams(id) == expected);
    }
  }

  static void check_closes(FuzzPeer& p) {
    for (; p.checked_closes < p.closes.size(); ++p.checked_closes) {
      const auto& c = p.closes[p.checked_closes];
      FUZZ_CHECK(known_close_code(c.code));
      FUZZ_CHECK(c.reason.size() <= 123 && ids::is_valid_utf8(c.reason));
    }
  }

  FuzzedDataProvider& in_;
  const RelayLimits limits_;
  metrics::Registry reg_;
  NullPresence presence_;
  std::unique_ptr<Hub> hub_;
  std::vector<ExeSlot> exes_;
  std::vector<BridgeSlot> bridges_;
  std::map<const FuzzPeer*, std::pair<std::size_t, std::size_t>> before_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Script script(in);
  script.run();
  return 0;
}
