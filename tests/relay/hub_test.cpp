// Unit tests for the relay hub (wire-protocol.md §2, §5-§7, §9-§10; behaviour.md F, X, S, L, G,
// E, V2, A7, H2). Each test names the behaviour item it checks. Sockets are FakePeers, so every
// message the hub queues and every close it requests is visible synchronously.
#include "cxg/relay/hub.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <boost/json/parse.hpp>
#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "cxg/codec/relay_frame.hpp"
#include "cxg/common/log.hpp"
#include "cxg/metrics/registry.hpp"
#include "relay/fakes.hpp"
#include "relay/links.hpp"

namespace cxg::relay {
namespace {

namespace frame = codec::relay;
using testing::Closed;
using testing::FakePeer;
using testing::FakePresence;
using testing::Sent;

class QuietLogs : public ::testing::Environment {
 public:
  void SetUp() override { log::init("error"); }
};
[[maybe_unused]] ::testing::Environment* const kQuietLogs = ::testing::AddGlobalTestEnvironment(new QuietLogs);

// ------------------------------------------------------------------ frame building helpers

std::string varint(std::uint64_t v) {
  std::string out;
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7F) | 0x80));
  out.push_back(static_cast<char>(v));
  return out;
}
std::string len_field(std::uint32_t field, std::string_view bytes) {
  return varint(field << 3 | 2) + varint(bytes.size()) + std::string(bytes);
}
std::string varint_field(std::uint32_t field, std::uint64_t v) { return varint(field << 3 | 0) + varint(v); }

std::string header(std::string_view sid, std::uint32_t version = 1) {
  return (version ? varint_field(1, version) : std::string()) + (sid.empty() ? std::string() : len_field(2, sid));
}
std::string heartbeat(std::string_view sid) { return header(sid) + len_field(9, ""); }
std::string ack_frame(std::string_view sid) { return header(sid) + len_field(6, ""); }
std::string handshake(std::string_view sid, std::string_view payload) {
  return header(sid) + len_field(10, len_field(1, payload));
}
std::string resume_v(std::string_view sid, std::uint32_t version) { return header(sid, version) + len_field(7, ""); }
std::string reset_empty_reason(std::string_view sid) { return header(sid) + len_field(8, ""); }

std::string data(std::string_view sid, std::uint32_t seq, std::string_view payload) {
  return frame::encode_data(sid, seq, payload);
}
std::string resume(std::string_view sid, std::uint32_t next = 0) { return frame::encode_resume(sid, next); }
std::string reset(std::string_view sid, std::string_view reason) { return frame::encode_reset(sid, reason); }

// Resets among the messages a (relay) executor received, as "stream:reason".
std::vector<std::string> resets_in(const std::vector<Sent>& sent) {
  std::vector<std::string> out;
  for (const auto& s : sent) {
    if (!s.binary) continue;
    const auto f = frame::decode(s.bytes);
    if (f && f->body == frame::Body::reset) out.push_back(std::string(f->stream_id) + ":" + std::string(f->reason));
  }
  return out;
}
std::vector<std::string> resets_in(const FakePeer& p) { return resets_in(p.sent()); }

// ------------------------------------------------------------------ the environment

BridgeIdentity who(std::string turn = "turn-1", std::string workspace = "ws-1", std::string exe = "exe_1") {
  return {std::move(exe), std::move(workspace), std::move(turn), "user-1"};
}

struct Exe {
  std::shared_ptr<ExecutorLink> link;
  std::shared_ptr<FakePeer> peer;
};

struct Bridge {
  Hub::OpenResult res;
  std::shared_ptr<FakePeer> peer;
  bool admitted() const { return res.link != nullptr; }
  BridgeLink& link() const { return *res.link; }
  const std::string& stream_id() const { return res.link->stream_id; }
};

struct Env {
  metrics::Registry reg;
  FakePresence presence;
  std::unique_ptr<Hub> hub;

  explicit Env(RelayLimits limits = {}) {
    metrics::declare_cxg_metrics(reg, "test");
    hub = std::make_unique<Hub>(limits, reg, presence);
  }
  static RelayLimits limits(std::uint64_t queue, std::uint64_t inflight, std::uint64_t streams) {
    RelayLimits l;
    l.bridge_queue_bytes = queue;
    l.stream_inflight_bytes = inflight;
    l.max_streams_per_executor = streams;
    return l;
  }

  Exe attach(const std::string& exe_id = "exe_1", bool legacy = false) {
    auto peer = std::make_shared<FakePeer>();
    auto link = hub->attach_executor(exe_id, legacy, peer);
    return {link, peer};
  }
  Bridge open(const BridgeIdentity& id, std::string first, bool binary) {
    auto peer = std::make_shared<FakePeer>();
    auto res = hub->open_bridge(id, peer, std::move(first), binary);
    return {std::move(res), peer};
  }
  Bridge open_relay(const std::string& sid, const BridgeIdentity& id = who()) { return open(id, resume(sid), true); }
  Bridge open_plain(const std::string& text, const BridgeIdentity& id = who()) { return open(id, text, false); }

  ReadGate bsend(const Bridge& b, std::string msg, bool binary = true) {
    return hub->bridge_message(b.link(), std::move(msg), binary);
  }
  void xsend(const Exe& e, std::string msg, bool binary = true) { hub->executor_message(*e.link, std::move(msg), binary); }

  std::uint64_t counter(const std::string& name, const metrics::Labels& l = {}) { return reg.counter(name, l).value(); }
  std::int64_t gauge(const std::string& name, const metrics::Labels& l = {}) { return reg.gauge(name, l).value(); }
  std::uint64_t dropped(const std::string& reason) { return counter("cxg_frames_dropped", {{"reason", reason}}); }
  std::uint64_t resets(const std::string& reason) { return counter("cxg_stream_resets", {{"reason", reason}}); }
  std::int64_t streams() { return gauge("cxg_streams_active"); }
  std::int64_t relay_bridges() { return gauge("cxg_bridges_active", {{"flavour", "relay"}}); }
  std::int64_t plain_bridges() { return gauge("cxg_bridges_active", {{"flavour", "plain"}}); }
  std::int64_t executors() { return gauge("cxg_executors_connected"); }
  bool rendered(const std::string& line) { return reg.render().find(line + "\n") != std::string::npos; }
};

void expect_close(const FakePeer& p, std::uint16_t code, std::string_view reason, bool flush = false) {
  ASSERT_TRUE(p.closed()) << "expected close " << code << " " << reason;
  const auto c = p.first_close();
  EXPECT_EQ(c.code, code);
  EXPECT_EQ(c.reason, reason);
  EXPECT_EQ(c.flush, flush);
}
void expect_close(const FakePeer& p, CloseStatus s, bool flush = false) { expect_close(p, s.code, s.reason, flush); }

void expect_refused(const Bridge& b, std::uint16_t code, std::string_view reason) {
  EXPECT_FALSE(b.admitted());
  EXPECT_EQ(b.res.close_code, code);
  EXPECT_EQ(b.res.close_reason, reason);
}

// ================================================================== F. First frame

TEST(Hub, F1_BinaryResumeSelectsRelayAndReachesExecutorUnchanged) {
  Env env;
  auto exe = env.attach();
  auto a = env.open_relay("stream-a");
  auto b = env.open(who(), resume("stream-b", 5), true);
  ASSERT_TRUE(a.admitted() && b.admitted());
  EXPECT_EQ(a.res.gate, ReadGate::go_on);
  EXPECT_EQ(a.link().flavour, Flavour::relay);
  EXPECT_EQ(a.stream_id(), "stream-a");
  EXPECT_EQ(b.stream_id(), "stream-b");
  const auto sent = exe.peer->sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].bytes, resume("stream-a", 0));
  EXPECT_TRUE(sent[0].binary);
  EXPECT_EQ(sent[1].bytes, resume("stream-b", 5));  // next_seq is not interpreted (§5.9)
  EXPECT_TRUE(sent[1].binary);
  EXPECT_EQ(env.relay_bridges(), 2);
  EXPECT_EQ(env.plain_bridges(), 0);
  EXPECT_EQ(env.streams(), 2);
  EXPECT_EQ(env.hub->active_streams("exe_1"), 2u);
  EXPECT_EQ(a.peer->sent_count(), 0u);
  EXPECT_FALSE(a.peer->closed());
}

TEST(Hub, F1_ResumeWithUnknownFieldsIsForwardedByteForByte) {
  Env env;
  auto exe = env.attach();
  // Non-canonical: stream_id before version, explicit zero next_seq, a traceparent and field 99.
  const std::string first = len_field(2, "s-1") + varint_field(1, 1) + len_field(7, varint_field(1, 0)) +
                            len_field(11, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") +
                            varint_field(99, 42);
  auto b = env.open(who(), first, true);
  ASSERT_TRUE(b.admitted());
  ASSERT_EQ(exe.peer->sent_count(), 1u);
  EXPECT_EQ(exe.peer->sent()[0].bytes, first);
}

TEST(Hub, F2_TextSelectsPlain_ExecutorGetsResumeThenDataByteForByte) {
  Env env;
  auto exe = env.attach();
  const std::string text = R"({"id":1,"method":"initialize","params":{"clientName":"t","x":"é"}})";
  auto b = env.open_plain(text);
  ASSERT_TRUE(b.admitted());
  EXPECT_EQ(b.res.gate, ReadGate::go_on);
  EXPECT_EQ(b.link().flavour, Flavour::plain);
  const std::string id = b.stream_id();
  EXPECT_TRUE(std::regex_match(id, std::regex("^cxg-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")))
      << id;
  const auto sent = exe.peer->sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(sent[0].binary);
  EXPECT_EQ(sent[0].bytes, frame::encode_resume(id, 0));
  EXPECT_TRUE(sent[1].binary);
  EXPECT_EQ(sent[1].bytes, frame::encode_data(id, 0, text));
  EXPECT_EQ(env.plain_bridges(), 1);
  EXPECT_EQ(env.relay_bridges(), 0);
  EXPECT_EQ(env.streams(), 1);
  // Each plain bridge gets its own stream id.
  auto b2 = env.open_plain(text);
  ASSERT_TRUE(b2.admitted());
  EXPECT_NE(b2.stream_id(), id);
}

TEST(Hub, F3_NonResumeBinaryFirstFrameRefused1002AndExecutorGetsNothing) {
  Env env;
  auto exe = env.attach();
  for (const auto& first : {data("s", 0, "{}"), heartbeat("s"), ack_frame("s"), reset("s", "x"),
                            handshake("s", "hi"), header("s")}) {
    auto b = env.open(who(), first, true);
    expect_refused(b, 1002, "first frame must be Resume");
  }
  EXPECT_EQ(exe.peer->sent_count(), 0u);
  EXPECT_EQ(env.streams(), 0);
  EXPECT_EQ(env.relay_bridges(), 0);
  EXPECT_EQ(env.hub->active_streams("exe_1"), 0u);
}

TEST(Hub, F3_UnparsableFirstFrameRefused1002Malformed) {
  Env env;
  auto exe = env.attach();
  // wire type 3, truncated varint, length past the end, non-UTF-8 stream_id, empty message
  for (const std::string& first : {std::string("\x0b", 1), std::string("\x08", 1), std::string("\x12\x05" "ab", 4),
                                  std::string("\x08\x01\x12\x02\xff\xfe\x3a\x00", 8), std::string("\xff", 1)}) {
    auto b = env.open(who(), first, true);
    expect_refused(b, 1002, "malformed first frame");
  }
  EXPECT_EQ(exe.peer->sent_count(), 0u);
  EXPECT_EQ(env.streams(), 0);
}

TEST(Hub, F3_ResumeWithWrongVersionRefused1002) {
  Env env;
  auto exe = env.attach();
  expect_refused(env.open(who(), resume_v("s", 2), true), 1002, "unsupported relay frame version");
  expect_refused(env.open(who(), resume_v("s", 0), true), 1002, "unsupported relay frame version");
  EXPECT_EQ(exe.peer->sent_count(), 0u);
}

TEST(Hub, F4_EmptyStreamIdRefused1002ResumeMissingStreamId) {
  Env env;
  auto exe = env.attach();
  expect_refused(env.open(who(), resume_v("", 1), true), 1002, "Resume missing stream_id");
  EXPECT_EQ(exe.peer->sent_count(), 0u);
}

TEST(Hub, F4_BadStreamIdsRefused1002InvalidStreamId) {
  Env env;
  auto exe = env.attach();
  for (const std::string& sid : {std::string(129, 'a'), std::string(" s"), std::string("s "), std::string("\ts"),
                                std::string("s\n"), std::string(" ")}) {
    expect_refused(env.open(who(), resume(sid), true), 1002, "invalid stream_id");
  }
  EXPECT_EQ(exe.peer->sent_count(), 0u);
  // 128 bytes is the longest valid stream_id
  auto ok = env.open_relay(std::string(128, 'a'));
  EXPECT_TRUE(ok.admitted());
}

TEST(Hub, F_NoExecutorConnectedRefused4100) {
  Env env;
  expect_refused(env.open_relay("s"), 4100, "executor disconnected");
  expect_refused(env.open_plain("{}"), 4100, "executor disconnected");
  EXPECT_EQ(env.streams(), 0);
  EXPECT_EQ(env.plain_bridges(), 0);
}

// ================================================================== X. Routing

TEST(Hub, X1_RepliesReachOnlyTheirStream) {
  Env env;
  auto exe = env.attach();
  auto a = env.open_relay("A");
  auto b = env.open_relay("B");
  ASSERT_TRUE(a.admitted() && b.admitted());
  ASSERT_EQ(exe.peer->sent_count(), 2u);
  EXPECT_EQ(exe.peer->sent()[0].bytes, resume("A"));
  EXPECT_EQ(exe.peer->sent()[1].bytes, resume("B"));

  EXPECT_EQ(env.bsend(a, data("A", 0, R"({"id":1})")), ReadGate::go_on);
  ASSERT_EQ(exe.peer->sent_count(), 3u);
  EXPECT_EQ(exe.peer->sent()[2].bytes, data("A", 0, R"({"id":1})"));
  env.xsend(exe, data("A", 0, R"({"id":1,"result":{}})"));
  ASSERT_EQ(a.peer->sent_count(), 1u);
  EXPECT_EQ(a.peer->sent()[0].bytes, data("A", 0, R"({"id":1,"result":{}})"));
  EXPECT_EQ(b.peer->sent_count(), 0u);

  // swapped
  EXPECT_EQ(env.bsend(b, data("B", 0, R"({"id":2})")), ReadGate::go_on);
  ASSERT_EQ(exe.peer->sent_count(), 4u);
  EXPECT_EQ(exe.peer->sent()[3].bytes, data("B", 0, R"({"id":2})"));
  env.xsend(exe, data("B", 0, R"({"id":2,"result":{}})"));
  ASSERT_EQ(b.peer->sent_count(), 1u);
  EXPECT_EQ(b.peer->sent()[0].bytes, data("B", 0, R"({"id":2,"result":{}})"));
  EXPECT_EQ(a.peer->sent_count(), 1u);
  EXPECT_FALSE(a.peer->closed());
  EXPECT_FALSE(b.peer->closed());
  EXPECT_EQ(env.counter("cxg_frames", {{"direction", "to_executor"}}), 4u);
  EXPECT_EQ(env.counter("cxg_frames", {{"direction", "to_bridge"}}), 2u);
}

TEST(Hub, X2_RelayFramesByteIdenticalBothWays) {
  Env env;
  auto exe = env.attach();
  auto b = env.open_relay("s-1");
  const std::string body = varint_field(1, 0) + varint_field(3, 1) + len_field(4, R"({"id":7})");
  const std::vector<std::string> frames = {
      data("s-1", 3, R"({"a":[1,2,3]})"),
      // field order reversed, explicit seq 0, ack fields set, trace context, unknown fields
      len_field(5, body) + len_field(2, "s-1") + varint_field(1, 1) + varint_field(3, 9) + varint_field(4, 1),
      header("s-1") + len_field(5, body) + len_field(11, "00-aa-bb-01") + len_field(12, "k=v") +
          varint_field(99, 5) + std::string("\x9d\x06\x01\x02\x03\x04", 6) /* field 99, fixed32 */,
      data("s-1", 0xFFFFFFFFu, std::string(3000, 'x')),
      header("s-1") + len_field(7, varint_field(1, 12)),  // a later Resume
  };
  for (const auto& f : frames) {
    ASSERT_TRUE(frame::decode(f)) << "test frame must be well-formed";
    EXPECT_EQ(env.bsend(b, f), ReadGate::go_on);
    env.xsend(exe, f);
  }
  const auto to_exe = exe.peer->sent();
  const auto to_bridge = b.peer->sent();
  ASSERT_EQ(to_exe.size(), frames.size() + 1);
  ASSERT_EQ(to_bridge.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(to_exe[i + 1].bytes, frames[i]) << i;
    EXPECT_TRUE(to_exe[i + 1].binary);
    EXPECT_EQ(to_bridge[i].bytes, frames[i]) << i;
    EXPECT_TRUE(to_bridge[i].binary);
  }
  EXPECT_FALSE(b.peer->closed());
}

TEST(Hub, X3_TenThousandFramesEachWayInOrderExactlyOnce) {
  Env env;
  auto exe = env.attach();
  auto b = env.open_relay("s");
  constexpr std::uint32_t kN = 10'000;
  for (std::uint32_t i = 0; i < kN; ++i) {
    ASSERT_EQ(env.bsend(b, data("s", i, "{\"n\":" + std::to_string(i) + "}")), ReadGate::go_on);
    env.xsend(exe, data("s", i, "{\"m\":" + std::to_string(i) + "}"));
  }
  const auto to_exe = exe.peer->sent();
  const auto to_bridge = b.peer->sent();
  ASSERT_EQ(to_exe.size(), kN + 1);
  ASSERT_EQ(to_bridge.size(), kN);
  for (std::uint32_t i = 0; i < kN; ++i) {
    ASSERT_EQ(to_exe[i + 1].bytes, data("s", i, "{\"n\":" + std::to_string(i) + "}")) << i;
    ASSERT_EQ(to_bridge[i].bytes, data("s", i, "{\"m\":" + std::to_string(i) + "}")) << i;
  }
  EXPECT_EQ(env.counter("cxg_frames", {{"direction", "to_bridge"}}), kN);
  EXPECT_EQ(env.counter("cxg_frames", {{"direction", "to_executor"}}), kN + 1);
}

TEST(Hub, X4_ForeignStreamIdFromBridgeDroppedCountedBridgeStaysOpen) {
  Env env;
  auto exe = env.attach();
  auto a = env.open_relay("A");
  auto other = env.open_relay("B");
  EXPECT_EQ(env.bsend(a, data("B", 0, "{}")), ReadGate::go_on);  // another live stream's id
  EXPECT_EQ(env.bsend(a, data("nobody", 0, "{}")), ReadGate::go_on);
  EXPECT_EQ(env.bsend(a, reset("B", "evil")), ReadGate::go_on);  // cannot reset a sibling either
  EXPECT_EQ(env.dropped("foreign_stream"), 3u);
  EXPECT_EQ(exe.peer->sent_count(), 2u);  // the two Resumes only
  EXPECT_FALSE(a.peer->closed());
  EXPECT_FALSE(other.peer->closed());
  EXPECT_EQ(env.hub->active_streams("exe_1"), 2u);
  // still open and working
  env.bsend(a, data("A", 0, "{}"));
  EXPECT_EQ(exe.peer->sent().back().bytes, data("A", 0, "{}"));
}

TEST(Hub, X5_ExecutorFrameForUnknownStreamDroppedOthersUnaffected) {
  Env env;
  auto exe = env.attach();
  auto a = env.open_relay("A");
  env.xsend(exe, data("ghost", 0, "{}"));
  env.xsend(exe, reset("ghost", "x"));
  EXPECT_EQ(env.dropped("no_route"), 2u);
  EXPECT_TRUE(env.rendered("cxg_frames_dropped_total{reason=\"no_route\"} 2"));
  EXPECT_EQ(a.peer->sent_count(), 0u);
  env.xsend(exe, data("A", 0, "{}"));
  ASSERT_EQ(a.peer->sent_count(), 1u);
  EXPECT_FALSE(a.peer->closed());
  EXPECT_FALSE(exe.peer->closed());
  // After a bridge leaves, its late frames are no_route as well.
  env.hub->bridge_gone(a.link(), reset::kHarnessDisconnected);
  env.xsend(exe, data("A", 1, "{}"));
  EXPECT_EQ(env.dropped("no_route"), 3u);
  EXPECT_EQ(a.peer->sent_count(), 1u);
}

TEST(Hub, X6_AckHeartbeatHandshakePassToRelayBridgesNeverToPlain) {
  Env env;
  auto exe = env.attach();
  auto r = env.open_relay("R");
  auto p = env.open_plain(R"({"id":1})");
  const std::string pid = p.stream_id();
  for (const auto& f : {ack_frame("R"), heartbeat("R"), handshake("R", std::string("\x00\x01\xfe", 3))}) {
    EXPECT_EQ(env.bsend(r, f), ReadGate::go_on);
    EXPECT_EQ(exe.peer->sent().back().bytes, f);
    env.xsend(exe, f);
    EXPECT_EQ(r.peer->sent().back().bytes, f);
  }
  EXPECT_EQ(r.peer->sent_count(), 3u);
  for (const auto& f : {ack_frame(pid), heartbeat(pid), handshake(pid, "x")}) env.xsend(exe, f);
  EXPECT_EQ(p.peer->sent_count(), 0u);
  EXPECT_FALSE(p.peer->closed());
  EXPECT_EQ(env.dropped("control_for_plain_bridge"), 3u);
  // and the plain bridge still works
  env.xsend(exe, data(pid, 0, R"({"id":1,"result":{}})"));
  ASSERT_EQ(p.peer->sent_count(), 1u);
  EXPECT_FALSE(p.peer->sent()[0].binary);
}

TEST(Hub, X7_SameTurnTakeover_Old4102NoResetLaterFramesToNew) {
  Env env;
  auto exe = env.attach();
  auto old_b = env.open_relay("s", who("turn-1"));
  env.xsend(exe, data("s", 0, "{}"));
  ASSERT_EQ(old_b.peer->sent_count(), 1u);
  auto new_b = env.open_relay("s", who("turn-1"));
  ASSERT_TRUE(new_b.admitted());
  expect_close(*old_b.peer, close::kStreamReplaced, /*flush=*/false);  // queued frames discarded
  ASSERT_EQ(exe.peer->sent_count(), 2u);
  EXPECT_EQ(exe.peer->sent()[1].bytes, resume("s"));
  EXPECT_TRUE(resets_in(*exe.peer).empty());

  env.xsend(exe, data("s", 1, R"({"later":1})"));
  ASSERT_EQ(new_b.peer->sent_count(), 1u);
  EXPECT_EQ(new_b.peer->sent()[0].bytes, data("s", 1, R"({"later":1})"));
  EXPECT_EQ(old_b.peer->sent_count(), 1u);

  // The old bridge's late frames and its socket end are ignored: no Reset, the new one lives.
  EXPECT_EQ(env.bsend(old_b, data("s", 5, "{}")), ReadGate::go_on);
  env.hub->bridge_gone(old_b.link(), reset::kHarnessDisconnected);
  env.hub->bridge_message_too_big(old_b.link());
  EXPECT_EQ(exe.peer->sent_count(), 2u);
  EXPECT_FALSE(new_b.peer->closed());
  EXPECT_EQ(env.streams(), 1);
  EXPECT_EQ(env.relay_bridges(), 1);
  EXPECT_EQ(env.hub->active_streams("exe_1"), 1u);
  env.bsend(new_b, data("s", 0, "{}"));
  EXPECT_EQ(exe.peer->sent().back().bytes, data("s", 0, "{}"));

  env.hub->bridge_gone(new_b.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(resets_in(*exe.peer), std::vector<std::string>{"s:harness_disconnected"});
  EXPECT_EQ(env.streams(), 0);
}

TEST(Hub, X7_TakeoverAdmittedAtTheStreamCap) {
  Env env(Env::limits(16 << 20, 4 << 20, 1));
  auto exe = env.attach();
  auto old_b = env.open_relay("s", who("turn-1"));
  auto new_b = env.open_relay("s", who("turn-1"));
  EXPECT_TRUE(new_b.admitted());
  expect_close(*old_b.peer, close::kStreamReplaced);
  EXPECT_EQ(env.streams(), 1);
}

TEST(Hub, X8_DifferentTurnRefused4107HolderKeepsWorking) {
  Env env;
  auto exe = env.attach();
  auto holder = env.open_relay("s", who("turn-1"));
  auto intruder = env.open_relay("s", who("turn-2"));
  expect_refused(intruder, 4107, "stream_id in use");
  EXPECT_FALSE(holder.peer->closed());
  EXPECT_EQ(exe.peer->sent_count(), 1u);  // only the holder's Resume
  EXPECT_TRUE(resets_in(*exe.peer).empty());
  env.xsend(exe, data("s", 0, "{}"));
  EXPECT_EQ(holder.peer->sent_count(), 1u);
  env.bsend(holder, data("s", 0, "{}"));
  EXPECT_EQ(exe.peer->sent().back().bytes, data("s", 0, "{}"));
  EXPECT_EQ(env.streams(), 1);
  EXPECT_EQ(env.relay_bridges(), 1);
}

TEST(Hub, X9_PlainGetsPayloadAsOneTextMessage_CxgDataSeqCountsFromZero) {
  Env env;
  auto exe = env.attach();
  auto p = env.open_plain(R"({"id":0,"method":"initialize","params":{}})");
  const auto id = p.stream_id();
  EXPECT_EQ(env.bsend(p, R"({"method":"initialized","params":{}})", false), ReadGate::go_on);
  EXPECT_EQ(env.bsend(p, R"({"id":1,"method":"process/start"})", false), ReadGate::go_on);
  EXPECT_EQ(env.bsend(p, R"({"jsonrpc":"2.0","id":2,"method":"x"})", false), ReadGate::go_on);
  const auto sent = exe.peer->sent();
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_EQ(sent[1].bytes, data(id, 0, R"({"id":0,"method":"initialize","params":{}})"));
  EXPECT_EQ(sent[2].bytes, data(id, 1, R"({"method":"initialized","params":{}})"));
  EXPECT_EQ(sent[3].bytes, data(id, 2, R"({"id":1,"method":"process/start"})"));
  EXPECT_EQ(sent[4].bytes, data(id, 3, R"({"jsonrpc":"2.0","id":2,"method":"x"})"));  // jsonrpc kept

  const std::string payload = R"({"id":0,"result":{"sessionId":"6a1f…"}})";
  env.xsend(exe, data(id, 17, payload));
  env.xsend(exe, data(id, 18, R"({"method":"process/output","params":{}})"));
  const auto got = p.peer->sent();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[0].binary);
  EXPECT_EQ(got[0].bytes, payload);
  EXPECT_FALSE(got[1].binary);
  EXPECT_EQ(got[1].bytes, R"({"method":"process/output","params":{}})");
}

TEST(Hub, X10_PlainInvalidJsonAnsweredNotForwardedBridgeOpen) {
  Env env;
  auto exe = env.attach();
  auto p = env.open_plain(R"({"id":0})");
  const auto before = exe.peer->sent_count();
  const std::vector<std::string> bad = {"{not json", "", "{}{}", "{} x", "[1,2", "nul", "{\"a\":1,}"};
  for (const auto& text : bad) {
    EXPECT_EQ(env.bsend(p, text, false), ReadGate::go_on) << text;
  }
  EXPECT_EQ(exe.peer->sent_count(), before);
  EXPECT_FALSE(p.peer->closed());
  const auto replies = p.peer->sent();
  ASSERT_EQ(replies.size(), bad.size());
  for (const auto& r : replies) {
    EXPECT_FALSE(r.binary);
    const auto v = boost::json::parse(r.bytes).as_object();
    EXPECT_EQ(v.size(), 2u);
    EXPECT_EQ(v.at("id").to_number<std::int64_t>(), -1);
    const auto& err = v.at("error").as_object();
    EXPECT_EQ(err.at("code").to_number<std::int64_t>(), -32600);
    const std::string msg(err.at("message").as_string());
    EXPECT_EQ(msg.rfind("invalid JSON: ", 0), 0u) << msg;
    EXPECT_GT(msg.size(), std::string("invalid JSON: ").size()) << "detail expected";
  }
  // exact shape of the reply
  EXPECT_TRUE(std::regex_match(replies[0].bytes,
                               std::regex(R"(^\{"id":-1,"error":\{"code":-32600,"message":"invalid JSON: [^"]+"\}\}$)")))
      << replies[0].bytes;
  // Valid JSON after that continues the seq where it was: invalid messages consume none.
  EXPECT_EQ(env.bsend(p, R"(  {"id":1}  )", false), ReadGate::go_on);
  EXPECT_EQ(exe.peer->sent().back().bytes, data(p.stream_id(), 1, R"(  {"id":1}  )"));
  EXPECT_TRUE(resets_in(*exe.peer).empty());
}

TEST(Hub, X10_InvalidJsonAsFirstMessageLeavesOnlyTheResume) {
  Env env;
  auto exe = env.attach();
  auto p = env.open_plain("hello");
  ASSERT_TRUE(p.admitted());
  ASSERT_EQ(exe.peer->sent_count(), 1u);
  EXPECT_EQ(exe.peer->sent()[0].bytes, resume(p.stream_id()));
  ASSERT_EQ(p.peer->sent_count(), 1u);
  EXPECT_NE(p.peer->sent()[0].bytes.find("invalid JSON: "), std::string::npos);
  EXPECT_FALSE(p.peer->closed());
  env.bsend(p, "{}", false);
  EXPECT_EQ(exe.peer->sent().back().bytes, data(p.stream_id(), 0, "{}"));
}

TEST(Hub, X10_DeeplyNestedValidJsonIsForwarded) {
  // Valid JSON is one JSON document however deep; the executor (serde_json) takes 128 levels.
  Env env;
  auto exe = env.attach();
  auto p = env.open_plain("{}");
  const std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_EQ(env.bsend(p, deep, false), ReadGate::go_on);
  EXPECT_EQ(exe.peer->sent().back().bytes, data(p.stream_id(), 1, deep));
  EXPECT_EQ(p.peer->sent_count(), 0u);
  // deeper than the executor itself accepts: answered like any other invalid JSON
  const std::string too_deep = std::string(200, '[') + std::string(200, ']');
  const auto before = exe.peer->sent_count();
  EXPECT_EQ(env.bsend(p, too_deep, false), ReadGate::go_on);
  EXPECT_EQ(exe.peer->sent_count(), before);
  ASSERT_EQ(p.peer->sent_count(), 1u);
  EXPECT_NE(p.peer->sent()[0].bytes.find("invalid JSON: "), std::string::npos);
  EXPECT_FALSE(p.peer->closed());
}

TEST(Hub, X11_BinaryOnPlainBridgeCloses1003ResetProtocolError) {
  Env env;
  auto exe = env.attach();
  auto p = env.open_plain("{}");
  const auto id = p.stream_id();
  const auto before = exe.peer->sent_count();
  EXPECT_EQ(env.bsend(p, data(id, 0, "{}"), true), ReadGate::go_on);
  expect_close(*p.peer, close::kPlainTextOnly);
  const auto sent = exe.peer->sent();
  ASSERT_EQ(sent.size(), before + 1);  // nothing forwarded, one Reset
  EXPECT_EQ(sent.back().bytes, reset(id, "protocol_error"));
  EXPECT_EQ(env.plain_bridges(), 0);
  EXPECT_EQ(env.streams(), 0);
  // the transport then reports the socket end: no second Reset
  env.hub->bridge_gone(p.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(resets_in(*exe.peer).size(), 1u);
}

TEST(Hub, X11_TextOnRelayBridgeCloses1003ResetProtocolError) {
  Env env;
  auto exe = env.attach();
  auto r = env.open_relay("s");
  EXPECT_EQ(env.bsend(r, R"({"id":1})", false), ReadGate::go_on);
  expect_close(*r.peer, close::kRelayBinaryOnly);
  ASSERT_EQ(exe.peer->sent_count(), 2u);
  EXPECT_EQ(exe.peer->sent()[1].bytes, reset("s", "protocol_error"));
  EXPECT_EQ(env.resets("protocol_error"), 1u);
  env.hub->bridge_gone(r.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(exe.peer->sent_count(), 2u);
}

TEST(Hub, X12_MalformedRelayFrameCloses1002ResetProtocolErrorNotForwarded) {
  Env env;
  auto exe = env.attach();
  const std::vector<std::string> malformed = {
      std::string("\x0b", 1), std::string("\x08", 1), header("s") + std::string("\x2a\x10\x08", 3),
      std::string("\x08\x01\x12\x01s\x42\x03\x0a\x01\xff", 10) /* non-UTF-8 reason */};
  for (std::size_t i = 0; i < malformed.size(); ++i) {
    const std::string sid = "s" + std::to_string(i);
    auto r = env.open_relay(sid);
    const auto before = exe.peer->sent_count();
    env.bsend(r, malformed[i]);
    expect_close(*r.peer, close::kMalformedFrame);
    ASSERT_EQ(exe.peer->sent_count(), before + 1);
    EXPECT_EQ(exe.peer->sent().back().bytes, reset(sid, "protocol_error"));
  }
  EXPECT_EQ(env.streams(), 0);
}

TEST(Hub, X12_WrongVersionAfterResumeCloses1002) {
  Env env;
  auto exe = env.attach();
  auto r = env.open_relay("s");
  const std::string v2 = varint_field(1, 2) + len_field(2, "s") + len_field(5, len_field(4, "{}"));
  env.bsend(r, v2);
  expect_close(*r.peer, close::kUnsupportedVersion);
  ASSERT_EQ(exe.peer->sent_count(), 2u);
  EXPECT_EQ(exe.peer->sent()[1].bytes, reset("s", "protocol_error"));
}

TEST(Hub, X13_HundredOpenCloseCyclesLeaveNothingBehind) {
  Env env;
  auto exe = env.attach();
  auto keep = env.open_relay("keep");  // an unrelated long-lived stream
  for (int i = 0; i < 100; ++i) {
    auto b = (i % 2 == 0) ? env.open_relay("s" + std::to_string(i)) : env.open_plain(R"({"id":1})");
    ASSERT_TRUE(b.admitted()) << i;
    EXPECT_EQ(env.streams(), 2);
    env.xsend(exe, data(b.stream_id(), 0, "{}"));
    env.hub->bridge_gone(b.link(), reset::kHarnessDisconnected);
    env.hub->bridge_gone(b.link(), reset::kHarnessDisconnected);
  }
  EXPECT_EQ(resets_in(*exe.peer).size(), 100u);
  EXPECT_EQ(env.hub->active_streams("exe_1"), 1u);
  env.hub->bridge_gone(keep.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(env.hub->active_streams("exe_1"), 0u);
  EXPECT_EQ(env.streams(), 0);
  EXPECT_EQ(env.relay_bridges(), 0);
  EXPECT_EQ(env.plain_bridges(), 0);
  EXPECT_TRUE(env.rendered("cxg_streams_active 0"));
  EXPECT_TRUE(env.rendered("cxg_bridges_active{flavour=\"relay\"} 0"));
  EXPECT_TRUE(env.rendered("cxg_bridges_active{flavour=\"plain\"} 0"));
  EXPECT_EQ(env.resets("harness_disconnected"), 101u);
  EXPECT_EQ(env.dropped("no_route"), 0u);
}

// ================================================================== S. Stream ends and resets

TEST(Hub, S1_BridgeGoneSendsExactlyOneResetHarnessDisconnected) {
  Env env;
  auto exe = env.attach();
  auto r = env.open_relay("s");
  auto p = env.open_plain("{}");
  env.hub->bridge_gone(r.link(), reset::kHarnessDisconnected);
  env.hub->bridge_gone(r.link(), reset::kHarnessDisconnected);
  env.hub->bridge_gone(p.link(), reset::kHarnessDisconnected);
  env.hub->bridge_gone(p.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(resets_in(*exe.peer),
            (std::vector<std::string>{"s:harness_disconnected", p.stream_id() + ":harness_disconnected"}));
  EXPECT_EQ(exe.peer->sent()[exe.peer->sent_count() - 2].bytes, reset("s", "harness_disconnected"));
  EXPECT_FALSE(exe.peer->closed());
  EXPECT_EQ(env.streams(), 0);
  // late frames from a gone bridge are not forwarded
  EXPECT_EQ(env.bsend(r, data("s", 0, "{}")), ReadGate::go_on);
  EXPECT_EQ(env.bsend(p, "{}", false), ReadGate::go_on);
  EXPECT_EQ(resets_in(*exe.peer).size(), 2u);
  EXPECT_EQ(exe.peer->sent_count(), 2u + 1u + 2u);  // Resume s, Resume+Data plain, 2 Resets
}

TEST(Hub, S3_ExecutorResetReachesRelayBridgeThenClose1000Flushed) {
  Env env;
  auto exe = env.attach();
  auto r = env.open_relay("s");
  auto sibling = env.open_relay("t");
  const auto rst = reset("s", "executor_says_bye");
  env.xsend(exe, rst);
  ASSERT_EQ(r.peer->sent_count(), 1u);
  EXPECT_EQ(r.peer->sent()[0].bytes, rst);
  EXPECT_TRUE(r.peer->sent()[0].binary);
  ASSERT_EQ(r.peer->closes().size(), 1u);
  expect_close(*r.peer, 1000, "stream reset by executor", /*flush=*/true);
  EXPECT_EQ(r.peer->sent_after_close(), 0);
  // no Reset back, route dropped, later bridge frames not forwarded
  EXPECT_TRUE(resets_in(*exe.peer).empty());
  const auto before = exe.peer->sent_count();
  EXPECT_EQ(env.bsend(r, data("s", 0, "{}")), ReadGate::go_on);
  env.hub->bridge_gone(r.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(exe.peer->sent_count(), before);
  env.xsend(exe, data("s", 0, "{}"));
  EXPECT_EQ(env.dropped("no_route"), 1u);
  EXPECT_FALSE(sibling.peer->closed());
  EXPECT_EQ(env.streams(), 1);
  EXPECT_EQ(env.resets("executor_reset"), 1u);
}

TEST(Hub, S3_ExecutorResetClosesPlainBridgeWithReason) {
  Env env;
  auto exe = env.attach();
  auto p = env.open_plain("{}");
  env.xsend(exe, reset(p.stream_id(), "session_gone"));
  EXPECT_EQ(p.peer->sent_count(), 0u);  // a plain bridge gets only the close
  expect_close(*p.peer, 1000, "stream reset by executor: session_gone", true);
  const auto before = exe.peer->sent_count();
  env.bsend(p, "{}", false);
  env.hub->bridge_gone(p.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(exe.peer->sent_count(), before);
  EXPECT_EQ(env.plain_bridges(), 0);
}

TEST(Hub, S3_PlainCloseReasonTruncatedTo123Bytes) {
  Env env;
  auto exe = env.attach();
  auto p = env.open_plain("{}");
  env.xsend(exe, reset(p.stream_id(), std::string(120, 'r') + "é" + std::string(100, 'z')));
  const auto c = p.peer->first_close();
  EXPECT_EQ(c.code, 1000);
  EXPECT_LE(c.reason.size(), 123u);
  EXPECT_EQ(c.reason.rfind("stream reset by executor: rrr", 0), 0u);
  // 26 bytes of prefix + 97 'r' = 123 exactly
  EXPECT_EQ(c.reason, "stream reset by executor: " + std::string(97, 'r'));
}

TEST(Hub, S3_ExecutorResetOnSlowBridgeSendsNoResetBack) {
  // §5.5: no Reset goes to the executor for a stream it reset itself, even if the bridge is
  // over its queue budget when the executor's Reset arrives.
  Env env(Env::limits(1000, 4 << 20, 64));
  auto exe = env.attach();
  auto r = env.open_relay("s");
  r.peer->set_queued_bytes(999);
  env.xsend(exe, reset("s", "bye"));
  expect_close(*r.peer, close::kSlowConsumer);  // the queue budget still holds
  EXPECT_EQ(r.peer->sent_count(), 0u);
  EXPECT_TRUE(resets_in(*exe.peer).empty());
  EXPECT_EQ(env.streams(), 0);
}

TEST(Hub, S4_BridgeResetReachesExecutorOnceUnchangedClose1000) {
  Env env;
  auto exe = env.attach();
  auto r = env.open_relay("s");
  // non-canonical bytes with an unknown field: must arrive unchanged
  const std::string rst = len_field(2, "s") + varint_field(1, 1) + len_field(8, len_field(1, "client_done")) +
                          varint_field(50, 1);
  EXPECT_EQ(env.bsend(r, rst), ReadGate::go_on);
  ASSERT_EQ(exe.peer->sent_count(), 2u);
  EXPECT_EQ(exe.peer->sent()[1].bytes, rst);
  expect_close(*r.peer, close::kResetByBridge);
  env.hub->bridge_gone(r.link(), reset::kHarnessDisconnected);
  env.bsend(r, rst);
  EXPECT_EQ(exe.peer->sent_count(), 2u);
  EXPECT_EQ(env.streams(), 0);
  EXPECT_EQ(env.resets("bridge_reset"), 1u);
}

TEST(Hub, S4_EmptyBridgeResetReasonArrivesAsBridgeReset) {
  Env env;
  auto exe = env.attach();
  auto r = env.open_relay("s");
  env.bsend(r, reset_empty_reason("s"));
  ASSERT_EQ(exe.peer->sent_count(), 2u);
  EXPECT_EQ(exe.peer->sent()[1].bytes, reset("s", "bridge_reset"));
  expect_close(*r.peer, 1000, "stream reset by bridge");
  env.hub->bridge_gone(r.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(exe.peer->sent_count(), 2u);
}

TEST(Hub, S5_ExecutorGoneClosesEveryBridge4100AndRecordsPresence) {
  Env env;
  auto exe = env.attach();
  auto a = env.open_relay("a");
  auto b = env.open_plain("{}");
  auto other_exe = env.attach("exe_2");
  auto c = env.open_relay("a", who("turn-1", "ws-1", "exe_2"));
  ASSERT_EQ(env.presence.connected_calls().size(), 2u);
  const auto conn_id = env.presence.connected_calls()[0].conn_id;
  EXPECT_EQ(env.executors(), 2);

  env.hub->executor_gone(*exe.link);
  expect_close(*a.peer, close::kExecutorDisconnected);
  expect_close(*b.peer, close::kExecutorDisconnected);
  EXPECT_FALSE(c.peer->closed());
  ASSERT_EQ(env.presence.disconnected_calls().size(), 1u);
  EXPECT_EQ(env.presence.disconnected_calls()[0].exe_id, "exe_1");
  EXPECT_EQ(env.presence.disconnected_calls()[0].conn_id, conn_id);
  EXPECT_FALSE(env.hub->executor_connected("exe_1"));
  EXPECT_TRUE(env.hub->executor_connected("exe_2"));
  EXPECT_EQ(env.hub->active_streams("exe_1"), 0u);
  EXPECT_EQ(env.streams(), 1);
  EXPECT_EQ(env.executors(), 1);
  EXPECT_EQ(env.relay_bridges(), 1);
  EXPECT_EQ(env.plain_bridges(), 0);
  // nothing is sent to a gone executor; the bridges' own ends are no-ops
  const auto before = exe.peer->sent_count();
  env.hub->bridge_gone(a.link(), reset::kHarnessDisconnected);
  env.hub->bridge_gone(b.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(env.bsend(a, data("a", 0, "{}")), ReadGate::go_on);
  EXPECT_EQ(exe.peer->sent_count(), before);
  // new bridges are refused
  expect_refused(env.open_relay("z"), 4100, "executor disconnected");
}

// ================================================================== L. Backpressure and limits

TEST(Hub, L1_SlowBridgeGets4106AndResetWhileSiblingKeepsFlowing) {
  Env env(Env::limits(/*queue=*/1000, 4 << 20, 64));
  auto exe = env.attach();
  auto a = env.open_relay("A");
  auto b = env.open_relay("B");
  a.peer->set_queued_bytes(900);
  env.xsend(exe, data("A", 0, std::string(50, 'x')));  // 900 + ~60 fits
  EXPECT_EQ(a.peer->sent_count(), 1u);
  EXPECT_FALSE(a.peer->closed());
  env.xsend(exe, data("B", 0, "{}"));
  env.xsend(exe, data("A", 1, std::string(200, 'x')));  // 900 + ~210 > 1000
  expect_close(*a.peer, close::kSlowConsumer);
  EXPECT_EQ(a.peer->sent_count(), 1u);
  EXPECT_EQ(resets_in(*exe.peer), std::vector<std::string>{"A:bridge_overflow"});
  EXPECT_EQ(env.counter("cxg_slow_consumer_closes"), 1u);
  EXPECT_EQ(env.resets("bridge_overflow"), 1u);
  for (std::uint32_t i = 1; i <= 10; ++i) {
    env.xsend(exe, data("A", 1 + i, std::string(200, 'x')));
    env.xsend(exe, data("B", i, "{}"));
  }
  EXPECT_EQ(b.peer->sent_count(), 11u);
  EXPECT_FALSE(b.peer->closed());
  EXPECT_EQ(env.dropped("no_route"), 10u);
  EXPECT_EQ(resets_in(*exe.peer).size(), 1u);
  EXPECT_FALSE(exe.peer->closed());
  env.hub->bridge_gone(a.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(resets_in(*exe.peer).size(), 1u);
  EXPECT_EQ(env.streams(), 1);
}

TEST(Hub, L1_EmptyQueueAlwaysTakesOneFrame) {
  Env env(Env::limits(/*queue=*/1000, 64 << 20, 64));
  auto exe = env.attach();
  auto a = env.open_relay("A");
  const auto big = data("A", 0, std::string(5000, 'x'));
  env.xsend(exe, big);
  ASSERT_EQ(a.peer->sent_count(), 1u);
  EXPECT_EQ(a.peer->sent()[0].bytes, big);
  EXPECT_FALSE(a.peer->closed());
  // exactly at the budget is still within it
  const auto small = data("A", 1, "{}");
  a.peer->set_queued_bytes(1000 - small.size());
  env.xsend(exe, small);
  EXPECT_EQ(a.peer->sent_count(), 2u);
  EXPECT_FALSE(a.peer->closed());
  a.peer->set_queued_bytes(1000 - small.size() + 1);
  env.xsend(exe, small);
  expect_close(*a.peer, close::kSlowConsumer);
}

TEST(Hub, L1_SlowPlainBridgeGets4106) {
  Env env(Env::limits(100, 4 << 20, 64));
  auto exe = env.attach();
  auto p = env.open_plain("{}");
  p.peer->set_queued_bytes(90);
  env.xsend(exe, data(p.stream_id(), 0, std::string(20, ' ') + "{}"));
  expect_close(*p.peer, close::kSlowConsumer);
  EXPECT_EQ(resets_in(*exe.peer), std::vector<std::string>{p.stream_id() + ":bridge_overflow"});
}

TEST(Hub, L1_InvalidJsonRepliesRespectTheQueueBudget) {
  // A plain bridge that sends garbage and never reads must not grow its queue without bound.
  Env env(Env::limits(200, 4 << 20, 64));
  auto exe = env.attach();
  auto p = env.open_plain("{}");
  auto sibling = env.open_plain("{}");
  env.bsend(p, "x", false);
  ASSERT_EQ(p.peer->sent_count(), 1u);  // an empty queue takes the reply
  p.peer->set_queued_bytes(150);
  env.bsend(p, "x", false);
  expect_close(*p.peer, close::kSlowConsumer);
  EXPECT_EQ(p.peer->sent_count(), 1u);
  EXPECT_EQ(resets_in(*exe.peer), std::vector<std::string>{p.stream_id() + ":bridge_overflow"});
  EXPECT_FALSE(sibling.peer->closed());
}

TEST(Hub, L2_InflightAboveLimitPausesAndReleaseResumesOnce) {
  Env env(Env::limits(16 << 20, /*inflight=*/100, 64));
  auto exe = env.attach();
  auto a = env.open_relay("A");
  auto b = env.open_relay("B");
  EXPECT_EQ(a.res.gate, ReadGate::go_on);
  const auto msg = data("A", 0, std::string(45, 'x'));  // ~55 bytes
  ASSERT_LT(resume("A").size() + msg.size(), 100u);
  ASSERT_GT(resume("A").size() + 2 * msg.size(), 100u);
  EXPECT_EQ(env.bsend(a, msg), ReadGate::go_on);
  EXPECT_EQ(env.bsend(a, msg), ReadGate::pause);
  // the sibling stream has its own credit
  EXPECT_EQ(env.bsend(b, data("B", 0, "{}")), ReadGate::go_on);
  EXPECT_EQ(a.link().credit->inflight(), resume("A").size() + 2 * msg.size());

  // The executor's writer releases what it wrote.
  std::vector<OutMessage> a_outs;
  for (auto& m : exe.peer->outs())
    if (m.credit == a.link().credit) a_outs.push_back(m);
  ASSERT_EQ(a_outs.size(), 3u);
  a_outs[0].credit->release(a_outs[0].data->size());  // still above the limit
  EXPECT_EQ(a.peer->resumes(), 0);
  a_outs[1].credit->release(a_outs[1].data->size());
  EXPECT_EQ(a.peer->resumes(), 1);
  a_outs[2].credit->release(a_outs[2].data->size());
  EXPECT_EQ(a.peer->resumes(), 1);
  EXPECT_EQ(a.link().credit->inflight(), 0u);
  EXPECT_EQ(b.peer->resumes(), 0);

  // pausing again works the same way
  EXPECT_EQ(env.bsend(a, msg), ReadGate::go_on);
  EXPECT_EQ(env.bsend(a, msg), ReadGate::pause);
  auto outs = exe.peer->outs();
  outs[outs.size() - 1].credit->release(msg.size());
  EXPECT_EQ(a.peer->resumes(), 2);
}

TEST(Hub, L2_NoResumeWithoutAPause) {
  Env env(Env::limits(16 << 20, 100, 64));
  auto exe = env.attach();
  auto a = env.open_relay("A");
  EXPECT_EQ(env.bsend(a, data("A", 0, "{}")), ReadGate::go_on);
  for (auto& m : exe.peer->outs()) m.credit->release(m.data->size());
  EXPECT_EQ(a.peer->resumes(), 0);
}

TEST(Hub, L2_LargePlainFirstMessagePausesAtOpen) {
  Env env(Env::limits(16 << 20, 100, 64));
  auto exe = env.attach();
  auto p = env.open_plain("[\"" + std::string(200, 'x') + "\"]");
  ASSERT_TRUE(p.admitted());
  EXPECT_EQ(p.res.gate, ReadGate::pause);
  for (auto& m : exe.peer->outs()) {
    ASSERT_TRUE(m.credit);
    m.credit->release(m.data->size());
  }
  EXPECT_EQ(p.peer->resumes(), 1);
}

TEST(Hub, L2_LargeResumePausesAtOpen) {
  Env env(Env::limits(16 << 20, 10, 64));
  auto exe = env.attach();
  auto r = env.open_relay("a-stream-id-longer-than-ten");
  EXPECT_EQ(r.res.gate, ReadGate::pause);
}

TEST(Hub, L3_BridgeMessageTooBigCloses1009ResetFrameTooLarge) {
  Env env;
  auto exe = env.attach();
  auto a = env.open_relay("A");
  auto b = env.open_plain("{}");
  env.hub->bridge_message_too_big(a.link());
  expect_close(*a.peer, close::kMessageTooBig);
  EXPECT_EQ(exe.peer->sent().back().bytes, reset("A", "frame_too_large"));
  EXPECT_FALSE(exe.peer->closed());
  env.hub->bridge_message_too_big(b.link());
  expect_close(*b.peer, 1009, "message too big");
  EXPECT_EQ(exe.peer->sent().back().bytes, reset(b.stream_id(), "frame_too_large"));
  EXPECT_EQ(resets_in(*exe.peer).size(), 2u);
  env.hub->bridge_gone(a.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(resets_in(*exe.peer).size(), 2u);
  EXPECT_FALSE(exe.peer->closed());
  EXPECT_TRUE(env.hub->executor_connected("exe_1"));
  EXPECT_EQ(env.resets("frame_too_large"), 2u);
  EXPECT_EQ(env.streams(), 0);
}

TEST(Hub, L4_ExecutorMessageTooBigClosesOnlyThatBridge1009) {
  Env env;
  auto exe = env.attach();
  auto a = env.open_relay("A");
  auto b = env.open_relay("B");
  const auto big = data("A", 0, std::string(100'000, 'x'));
  env.hub->executor_message_too_big(*exe.link, std::string_view(big).substr(0, 64));
  expect_close(*a.peer, close::kMessageTooBig);
  EXPECT_EQ(a.peer->sent_count(), 0u);
  EXPECT_FALSE(b.peer->closed());
  EXPECT_FALSE(exe.peer->closed());
  EXPECT_EQ(resets_in(*exe.peer), std::vector<std::string>{"A:frame_too_large"});
  EXPECT_EQ(env.dropped("too_large"), 1u);
  env.xsend(exe, data("B", 0, "{}"));
  EXPECT_EQ(b.peer->sent_count(), 1u);
  EXPECT_EQ(env.streams(), 1);
}

TEST(Hub, L4_UnreadablePrefixClosesNoBridge) {
  Env env;
  auto exe = env.attach();
  auto a = env.open_relay("A");
  const auto big = data("A", 0, std::string(100'000, 'x'));
  env.hub->executor_message_too_big(*exe.link, std::string_view(big).substr(0, 4));  // stream_id cut
  env.hub->executor_message_too_big(*exe.link, std::string_view(data("ghost", 0, "{}")));  // no route
  env.hub->executor_message_too_big(*exe.link, std::string_view(len_field(5, "x") + len_field(2, "A")));
  EXPECT_FALSE(a.peer->closed());
  EXPECT_FALSE(exe.peer->closed());
  EXPECT_TRUE(resets_in(*exe.peer).empty());
  EXPECT_EQ(env.dropped("too_large"), 3u);
}

TEST(Hub, L5_StreamCapRefuses1013UntilOneLeaves) {
  Env env(Env::limits(16 << 20, 4 << 20, /*streams=*/2));
  auto exe = env.attach();
  auto a = env.open_relay("A");
  auto b = env.open_plain("{}");
  ASSERT_TRUE(a.admitted() && b.admitted());
  EXPECT_EQ(env.hub->active_streams("exe_1"), 2u);
  const auto before = exe.peer->sent_count();
  expect_refused(env.open_relay("C"), 1013, "stream limit reached");
  expect_refused(env.open_plain("{}"), 1013, "stream limit reached");
  EXPECT_EQ(exe.peer->sent_count(), before);  // a refused bridge sends nothing (B11)
  EXPECT_EQ(env.hub->active_streams("exe_1"), 2u);
  EXPECT_EQ(env.streams(), 2);
  env.hub->bridge_gone(a.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(env.hub->active_streams("exe_1"), 1u);
  auto c = env.open_relay("C");
  EXPECT_TRUE(c.admitted());
  EXPECT_EQ(env.hub->active_streams("exe_1"), 2u);
  EXPECT_EQ(env.hub->active_streams("nope"), 0u);
}

TEST(Hub, L5_CapIsPerExecutor) {
  Env env(Env::limits(16 << 20, 4 << 20, 1));
  env.attach("exe_1");
  env.attach("exe_2");
  EXPECT_TRUE(env.open_relay("s", who("t", "w", "exe_1")).admitted());
  EXPECT_TRUE(env.open_relay("s", who("t", "w", "exe_2")).admitted());
  expect_refused(env.open_relay("x", who("t", "w", "exe_1")), 1013, "stream limit reached");
}

// ================================================================== E. Eviction and presence

TEST(Hub, E1_E2_NewestWins) {
  Env env;
  auto first = env.attach("exe_1");
  auto a = env.open_relay("A");
  auto b = env.open_plain("{}");
  const auto first_sent = first.peer->sent_count();
  auto second = env.attach("exe_1");
  expect_close(*first.peer, close::kReplaced);
  EXPECT_EQ(first.peer->first_close().reason, "replaced by newer connection");
  expect_close(*a.peer, 4101, "executor replaced");
  expect_close(*b.peer, close::kExecutorReplaced);
  EXPECT_FALSE(second.peer->closed());
  EXPECT_EQ(env.counter("cxg_executor_evictions"), 1u);
  EXPECT_TRUE(env.rendered("cxg_executor_evictions_total 1"));
  const auto conns = env.presence.connected_calls();
  ASSERT_EQ(conns.size(), 2u);
  EXPECT_EQ(conns[0].exe_id, "exe_1");
  EXPECT_EQ(conns[1].exe_id, "exe_1");
  EXPECT_NE(conns[0].conn_id, conns[1].conn_id);
  EXPECT_FALSE(conns[0].legacy);
  EXPECT_TRUE(resets_in(*first.peer).empty());  // the old socket is closing: no Resets
  EXPECT_TRUE(resets_in(*second.peer).empty());
  EXPECT_EQ(env.streams(), 0);
  EXPECT_EQ(env.relay_bridges(), 0);
  EXPECT_EQ(env.plain_bridges(), 0);

  // The old socket's end does not take the new one down (E3).
  env.hub->executor_gone(*first.link);
  EXPECT_TRUE(env.hub->executor_connected("exe_1"));
  ASSERT_EQ(env.presence.disconnected_calls().size(), 1u);
  EXPECT_EQ(env.presence.disconnected_calls()[0].conn_id, conns[0].conn_id);
  EXPECT_EQ(env.executors(), 1);
  // the new connection serves
  auto c = env.open_relay("A");
  ASSERT_TRUE(c.admitted());
  EXPECT_EQ(second.peer->sent().back().bytes, resume("A"));
  EXPECT_EQ(first.peer->sent_count(), first_sent);
  EXPECT_EQ(first.peer->sent_after_close(), 0);
  env.xsend(second, data("A", 0, "{}"));
  EXPECT_EQ(c.peer->sent_count(), 1u);
  // late frames on the old link route nowhere
  env.xsend(first, data("A", 1, "{}"));
  EXPECT_EQ(c.peer->sent_count(), 1u);
  // late ends of the replaced bridges do nothing
  env.hub->bridge_gone(a.link(), reset::kHarnessDisconnected);
  EXPECT_TRUE(resets_in(*second.peer).empty());
  EXPECT_EQ(env.streams(), 1);
}

TEST(Hub, E5_CloseExecutorDeleted) {
  Env env;
  auto exe = env.attach();
  auto a = env.open_relay("A");
  auto b = env.open_plain("{}");
  env.hub->close_executor_deleted("exe_1");
  expect_close(*exe.peer, 4002, "executor deleted");
  expect_close(*a.peer, 4104, "executor deleted");
  expect_close(*b.peer, close::kBridgeExecutorDeleted);
  EXPECT_TRUE(resets_in(*exe.peer).empty());
  EXPECT_FALSE(env.hub->executor_connected("exe_1"));
  EXPECT_EQ(env.hub->active_streams("exe_1"), 0u);
  EXPECT_EQ(env.streams(), 0);
  expect_refused(env.open_relay("C"), 4100, "executor disconnected");
  env.hub->executor_gone(*exe.link);
  EXPECT_EQ(env.presence.disconnected_calls().size(), 1u);
  EXPECT_EQ(env.executors(), 0);
  env.hub->close_executor_deleted("exe_1");  // unknown now: no-op
  env.hub->close_executor_deleted("never");
}

// ================================================================== A7, V2

TEST(Hub, A7_CloseUnboundClosesOnlyThatWorkspacesBridges) {
  Env env;
  auto exe = env.attach("exe_1");
  auto exe2 = env.attach("exe_2");
  auto w1a = env.open_relay("a", who("t1", "ws-1", "exe_1"));
  auto w1b = env.open_plain("{}", who("t2", "ws-1", "exe_1"));
  auto w2 = env.open_relay("c", who("t3", "ws-2", "exe_1"));
  auto w1_other_exe = env.open_relay("d", who("t4", "ws-1", "exe_2"));
  env.hub->close_unbound("ws-1", "exe_1");
  expect_close(*w1a.peer, 4105, "executor unbound from workspace");
  expect_close(*w1b.peer, close::kUnbound);
  EXPECT_FALSE(w2.peer->closed());
  EXPECT_FALSE(w1_other_exe.peer->closed());
  auto rs = resets_in(*exe.peer);
  std::sort(rs.begin(), rs.end());
  std::vector<std::string> want = {"a:executor_unbound", w1b.stream_id() + ":executor_unbound"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(rs, want);
  EXPECT_TRUE(resets_in(*exe2.peer).empty());
  EXPECT_FALSE(exe.peer->closed());
  EXPECT_EQ(env.hub->active_streams("exe_1"), 1u);
  EXPECT_EQ(env.resets("executor_unbound"), 2u);
  env.hub->bridge_gone(w1a.link(), reset::kHarnessDisconnected);
  EXPECT_EQ(resets_in(*exe.peer).size(), 2u);
  env.hub->close_unbound("ws-1", "nope");  // unknown executor: no-op
}

TEST(Hub, V2_TurnRevokedClosesThatTurnsBridges4103) {
  Env env;
  auto exe = env.attach("exe_1");
  auto exe2 = env.attach("exe_2");
  auto x1 = env.open_relay("a", who("bad", "ws-1", "exe_1"));
  auto x2 = env.open_plain("{}", who("bad", "ws-1", "exe_2"));
  auto ok = env.open_relay("b", who("good", "ws-1", "exe_1"));
  static_cast<auth::TurnRevocationListener&>(*env.hub).on_turn_revoked("bad");
  expect_close(*x1.peer, 4103, "turn revoked");
  expect_close(*x2.peer, close::kTurnRevoked);
  EXPECT_FALSE(ok.peer->closed());
  EXPECT_EQ(resets_in(*exe.peer), std::vector<std::string>{"a:turn_revoked"});
  EXPECT_EQ(resets_in(*exe2.peer), std::vector<std::string>{x2.stream_id() + ":turn_revoked"});
  env.xsend(exe, data("b", 0, "{}"));
  EXPECT_EQ(ok.peer->sent_count(), 1u);
  EXPECT_EQ(env.streams(), 1);
  env.hub->on_turn_revoked("bad");
  env.hub->on_turn_revoked("unknown");
  EXPECT_EQ(resets_in(*exe.peer).size(), 1u);
}

// ================================================================== G. Legacy JSON executors

TEST(Hub, G1_RelayBridgeOnLegacyExecutor) {
  Env env;
  auto exe = env.attach("exe_1", /*legacy=*/true);
  ASSERT_TRUE(env.presence.connected_calls().at(0).legacy);
  auto r = env.open_relay("s");
  ASSERT_TRUE(r.admitted());
  EXPECT_EQ(exe.peer->sent_count(), 0u);  // the Resume is consumed
  EXPECT_EQ(env.bsend(r, data("s", 9, R"({"id":1,"method":"initialize"})")), ReadGate::go_on);
  EXPECT_EQ(env.bsend(r, heartbeat("s")), ReadGate::go_on);
  EXPECT_EQ(env.bsend(r, ack_frame("s")), ReadGate::go_on);
  EXPECT_EQ(env.bsend(r, handshake("s", "x")), ReadGate::go_on);
  EXPECT_EQ(env.bsend(r, data("s", 10, R"({"method":"initialized"})")), ReadGate::go_on);
  const auto to_exe = exe.peer->sent();
  ASSERT_EQ(to_exe.size(), 2u);
  EXPECT_FALSE(to_exe[0].binary);
  EXPECT_EQ(to_exe[0].bytes, R"({"id":1,"method":"initialize"})");
  EXPECT_FALSE(to_exe[1].binary);
  EXPECT_EQ(to_exe[1].bytes, R"({"method":"initialized"})");
  EXPECT_EQ(env.dropped("control_for_legacy_executor"), 3u);

  env.xsend(exe, R"({"id":1,"result":{}})", false);
  env.xsend(exe, R"({"method":"n"})", false);
  env.xsend(exe, R"({"id":2,"result":{}})", false);
  const auto to_bridge = r.peer->sent();
  ASSERT_EQ(to_bridge.size(), 3u);
  EXPECT_EQ(to_bridge[0].bytes, data("s", 0, R"({"id":1,"result":{}})"));
  EXPECT_EQ(to_bridge[1].bytes, data("s", 1, R"({"method":"n"})"));
  EXPECT_EQ(to_bridge[2].bytes, data("s", 2, R"({"id":2,"result":{}})"));
  for (const auto& m : to_bridge) EXPECT_TRUE(m.binary);
  // binary from a legacy executor is dropped
  env.xsend(exe, data("s", 0, "{}"), true);
  EXPECT_EQ(r.peer->sent_count(), 3u);
  EXPECT_EQ(env.dropped("binary_from_legacy_executor"), 1u);
}

TEST(Hub, G2_PlainBridgeOnLegacyExecutorPassesTextUnchanged) {
  Env env;
  auto exe = env.attach("exe_1", true);
  const std::string first = R"({"id":1,"method":"initialize","params":{"clientName":"x"}})";
  auto p = env.open_plain(first);
  ASSERT_TRUE(p.admitted());
  EXPECT_EQ(env.bsend(p, R"({"jsonrpc":"2.0","method":"initialized"})", false), ReadGate::go_on);
  const auto to_exe = exe.peer->sent();
  ASSERT_EQ(to_exe.size(), 2u);
  EXPECT_EQ(to_exe[0].bytes, first);
  EXPECT_FALSE(to_exe[0].binary);
  EXPECT_EQ(to_exe[1].bytes, R"({"jsonrpc":"2.0","method":"initialized"})");
  env.xsend(exe, R"({"id":1,"result":{"sessionId":"x"}})", false);
  ASSERT_EQ(p.peer->sent_count(), 1u);
  EXPECT_EQ(p.peer->sent()[0].bytes, R"({"id":1,"result":{"sessionId":"x"}})");
  EXPECT_FALSE(p.peer->sent()[0].binary);
}

TEST(Hub, G3_G4_LegacyExecutorNeverGetsBinaryOrReset_ClosedWhenBridgeLeaves) {
  Env env;
  auto exe = env.attach("exe_1", true);
  auto r = env.open_relay("s");
  env.bsend(r, data("s", 0, "{}"));
  env.hub->bridge_gone(r.link(), reset::kHarnessDisconnected);
  for (const auto& m : exe.peer->sent()) EXPECT_FALSE(m.binary) << "legacy executor got binary";
  EXPECT_EQ(exe.peer->sent_count(), 1u);
  expect_close(*exe.peer, 1000, "bridge left", /*flush=*/true);
  EXPECT_FALSE(env.hub->executor_connected("exe_1"));  // it must reconnect for a fresh session
  EXPECT_FALSE(env.hub->legacy_executor_busy("exe_1"));
  expect_refused(env.open_relay("t"), 4100, "executor disconnected");
  EXPECT_EQ(env.streams(), 0);
  // It reconnects; a new bridge works.
  env.hub->executor_gone(*exe.link);
  auto again = env.attach("exe_1", true);
  auto p = env.open_plain(R"({"id":1,"method":"initialize"})");
  ASSERT_TRUE(p.admitted());
  EXPECT_EQ(again.peer->sent().at(0).bytes, R"({"id":1,"method":"initialize"})");
}

TEST(Hub, G3_G4_EveryWayABridgeLeavesClosesLegacyExecutorWithoutBinary) {
  using Leave = std::function<void(Env&, Exe&, Bridge&)>;
  const std::vector<std::pair<std::string, Leave>> ways = {
      {"bridge reset",
       [](Env& env, Exe&, Bridge& b) { env.bsend(b, reset("s", "done")); }},
      {"text on relay", [](Env& env, Exe&, Bridge& b) { env.bsend(b, "{}", false); }},
      {"malformed", [](Env& env, Exe&, Bridge& b) { env.bsend(b, std::string("\x0b", 1)); }},
      {"too big", [](Env& env, Exe&, Bridge& b) { env.hub->bridge_message_too_big(b.link()); }},
      {"exec too big", [](Env& env, Exe& e, Bridge&) { env.hub->executor_message_too_big(*e.link, "{\"x"); }},
      {"revoked", [](Env& env, Exe&, Bridge&) { env.hub->on_turn_revoked("turn-1"); }},
      {"unbound", [](Env& env, Exe&, Bridge&) { env.hub->close_unbound("ws-1", "exe_1"); }},
      {"slow", [](Env& env, Exe& e, Bridge& b) {
         b.peer->set_queued_bytes(1);
         env.xsend(e, std::string(2000, ' ') + "{}", false);
       }},
  };
  for (const auto& [name, leave] : ways) {
    SCOPED_TRACE(name);
    Env env(Env::limits(1000, 4 << 20, 64));
    auto exe = env.attach("exe_1", true);
    auto b = env.open_relay("s");
    ASSERT_TRUE(b.admitted());
    leave(env, exe, b);
    EXPECT_TRUE(b.peer->closed());
    for (const auto& m : exe.peer->sent()) EXPECT_FALSE(m.binary);
    expect_close(*exe.peer, 1000, "bridge left", true);
    EXPECT_EQ(env.streams(), 0);
    EXPECT_FALSE(env.hub->legacy_executor_busy("exe_1"));
  }
}

TEST(Hub, G5_SecondBridgeOnLegacyExecutorRefused4108) {
  Env env;
  env.attach("exe_1", true);
  env.attach("exe_r", false);
  EXPECT_FALSE(env.hub->legacy_executor_busy("exe_1"));
  auto first = env.open_plain("{}");
  ASSERT_TRUE(first.admitted());
  EXPECT_TRUE(env.hub->legacy_executor_busy("exe_1"));
  expect_refused(env.open_plain("{}"), 4108, "executor busy");
  expect_refused(env.open_relay("s"), 4108, "executor busy");
  expect_refused(env.open_relay(first.stream_id()), 4108, "executor busy");  // no takeover either
  EXPECT_FALSE(first.peer->closed());
  EXPECT_EQ(env.hub->active_streams("exe_1"), 1u);
  // a relay executor is never "legacy busy"
  auto r = env.open_relay("s", who("t", "w", "exe_r"));
  ASSERT_TRUE(r.admitted());
  EXPECT_FALSE(env.hub->legacy_executor_busy("exe_r"));
  EXPECT_FALSE(env.hub->legacy_executor_busy("unknown"));
}

TEST(Hub, G_LegacyExecutorTextWithoutBridgeIsNoRoute) {
  Env env;
  auto exe = env.attach("exe_1", true);
  env.xsend(exe, "{}", false);
  EXPECT_EQ(env.dropped("no_route"), 1u);
  EXPECT_FALSE(exe.peer->closed());
}

// ================================================================== H2. Shutdown

TEST(Hub, H2_ShutdownResetsEveryStreamAndCloses1001) {
  Env env;
  auto e1 = env.attach("exe_1");
  auto e2 = env.attach("exe_2");
  auto idle = env.attach("exe_3");
  auto a = env.open_relay("a", who("t", "w", "exe_1"));
  auto b = env.open_plain("{}", who("t", "w", "exe_1"));
  auto c = env.open_relay("c", who("t", "w", "exe_2"));
  env.hub->shutdown();
  for (auto* p : {a.peer.get(), b.peer.get(), c.peer.get()}) expect_close(*p, 1001, "gateway shutting down");
  expect_close(*e1.peer, 1001, "gateway shutting down", /*flush=*/true);
  expect_close(*e2.peer, close::kShuttingDown, true);
  expect_close(*idle.peer, close::kShuttingDown, true);
  auto r1 = resets_in(*e1.peer);
  std::sort(r1.begin(), r1.end());
  std::vector<std::string> want = {"a:gateway_shutdown", b.stream_id() + ":gateway_shutdown"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(r1, want);
  EXPECT_EQ(resets_in(*e2.peer), std::vector<std::string>{"c:gateway_shutdown"});
  EXPECT_EQ(e1.peer->sent_after_close(), 0);  // the Resets were queued before the close
  EXPECT_EQ(env.streams(), 0);
  EXPECT_EQ(env.relay_bridges(), 0);
  EXPECT_EQ(env.plain_bridges(), 0);
  EXPECT_FALSE(env.hub->executor_connected("exe_1"));
  // the sockets' ends afterwards change nothing
  env.hub->bridge_gone(a.link(), reset::kHarnessDisconnected);
  for (auto* e : {&e1, &e2, &idle}) env.hub->executor_gone(*e->link);
  EXPECT_EQ(resets_in(*e1.peer).size(), 2u);
  EXPECT_EQ(env.executors(), 0);
  EXPECT_EQ(env.presence.disconnected_calls().size(), 3u);
}

TEST(Hub, H2_ShutdownClosesLegacyExecutor1001) {
  Env env;
  auto exe = env.attach("exe_1", true);
  auto b = env.open_relay("s");
  env.hub->shutdown();
  expect_close(*b.peer, close::kShuttingDown);
  expect_close(*exe.peer, close::kShuttingDown, true);
  for (const auto& m : exe.peer->sent()) EXPECT_FALSE(m.binary);
  EXPECT_EQ(env.streams(), 0);
}

TEST(Hub, H2_ShutdownRacingNewBridgesLeavesNoneOpen) {
  for (int round = 0; round < 20; ++round) {
    Env env(Env::limits(16 << 20, 4 << 20, 1u << 20));
    auto exe = env.attach();
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<Bridge> opened;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; !stop.load() && i < 2000; ++i) {
          auto b = env.open_relay("s" + std::to_string(t) + "-" + std::to_string(i));
          std::lock_guard lk(mu);
          opened.push_back(std::move(b));
        }
      });
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (round % 5)));
    env.hub->shutdown();
    stop.store(true);
    for (auto& th : threads) th.join();
    std::size_t admitted = 0;
    for (const auto& b : opened) {
      if (!b.admitted()) {
        EXPECT_EQ(b.res.close_code, 4100);
        continue;
      }
      ++admitted;
      ASSERT_TRUE(b.peer->closed()) << "bridge " << b.stream_id() << " left open by shutdown";
      EXPECT_EQ(b.peer->first_close().code, 1001);
    }
    EXPECT_EQ(resets_in(*exe.peer).size(), admitted);
    EXPECT_EQ(env.streams(), 0);
    EXPECT_EQ(env.hub->active_streams("exe_1"), 0u);
  }
}

// ================================================================== T5 and other drops

TEST(Hub, T5_ExecutorSideDropsCountedByReasonSocketStaysOpen) {
  Env env;
  auto exe = env.attach();
  auto a = env.open_relay("A");
  env.xsend(exe, data("A", 0, "{}"), /*binary=*/false);  // text on a relay executor socket
  env.xsend(exe, std::string("\x0b", 1));                // malformed
  env.xsend(exe, std::string("\x08\x01\x12", 3));        // truncated
  env.xsend(exe, varint_field(1, 2) + len_field(2, "A") + len_field(5, len_field(4, "{}")));  // version 2
  env.xsend(exe, len_field(2, "A") + len_field(5, len_field(4, "{}")));                       // version 0
  env.xsend(exe, varint_field(1, 1) + len_field(5, len_field(4, "{}")));                      // empty stream_id
  env.xsend(exe, data("zzz", 0, "{}"));                                                       // no route
  EXPECT_EQ(env.dropped("text_from_relay_executor"), 1u);
  EXPECT_EQ(env.dropped("malformed"), 2u);
  EXPECT_EQ(env.dropped("bad_version"), 2u);
  EXPECT_EQ(env.dropped("bad_stream_id"), 1u);
  EXPECT_EQ(env.dropped("no_route"), 1u);
  const auto text = env.reg.render();
  EXPECT_NE(text.find("cxg_frames_dropped_total{reason=\"malformed\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cxg_frames_dropped_total{reason=\"bad_version\"} 2\n"), std::string::npos);
  EXPECT_EQ(a.peer->sent_count(), 0u);
  EXPECT_FALSE(a.peer->closed());
  EXPECT_FALSE(exe.peer->closed());
  EXPECT_EQ(exe.peer->sent_count(), 1u);  // just the Resume: drops are silent
  env.xsend(exe, data("A", 0, "{}"));
  EXPECT_EQ(a.peer->sent_count(), 1u);
}

TEST(Hub, T5_InvalidExecutorFramesNeverEndAStream) {
  Env env;
  auto exe = env.attach();
  auto a = env.open_relay("A");
  env.xsend(exe, header("A"));                // no body
  env.xsend(exe, reset_empty_reason("A"));    // invalid Reset
  EXPECT_EQ(env.dropped("no_body"), 1u);
  EXPECT_EQ(env.dropped("empty_reset_reason"), 1u);
  EXPECT_FALSE(a.peer->closed());
  EXPECT_EQ(env.streams(), 1);
}

TEST(Hub, WP7_2_PlainBridgeNonUtf8PayloadFromExecutorCloses1007ResetProtocolError) {
  Env env;
  auto exe = env.attach();
  auto p = env.open_plain("{}");
  auto other = env.open_plain("{}");
  env.xsend(exe, data(p.stream_id(), 0, std::string("{\"a\":\"\xff\"}", 9)));
  expect_close(*p.peer, 1007, "invalid payload from executor");
  EXPECT_EQ(p.peer->sent_count(), 0u);
  EXPECT_EQ(resets_in(*exe.peer), std::vector<std::string>{p.stream_id() + ":protocol_error"});
  EXPECT_FALSE(other.peer->closed());
  EXPECT_FALSE(exe.peer->closed());
  // a relay bridge gets such bytes unchanged: cxg does not look into relay payloads
  auto r = env.open_relay("r");
  const auto raw = data("r", 0, std::string("\xff", 1));
  env.xsend(exe, raw);
  EXPECT_EQ(r.peer->sent().at(0).bytes, raw);
}

TEST(Hub, ByteAndFrameCountersFollowTraffic) {
  Env env;
  auto exe = env.attach();
  auto r = env.open_relay("s");
  const auto d = data("s", 0, "{}");
  env.bsend(r, d);
  env.xsend(exe, d);
  EXPECT_EQ(env.counter("cxg_bytes", {{"direction", "to_executor"}}), resume("s").size() + d.size());
  EXPECT_EQ(env.counter("cxg_bytes", {{"direction", "to_bridge"}}), d.size());
  EXPECT_EQ(env.counter("cxg_frames", {{"direction", "to_executor"}}), 2u);
  EXPECT_EQ(env.counter("cxg_frames", {{"direction", "to_bridge"}}), 1u);
}

TEST(Hub, ExecutorsGaugeFollowsConnections) {
  Env env;
  auto a = env.attach("exe_1");
  auto b = env.attach("exe_2");
  EXPECT_EQ(env.executors(), 2);
  EXPECT_TRUE(env.rendered("cxg_executors_connected 2"));
  env.hub->executor_gone(*a.link);
  env.hub->executor_gone(*b.link);
  EXPECT_EQ(env.executors(), 0);
  EXPECT_FALSE(env.hub->executor_connected("exe_1"));
}

// ================================================================== concurrency

TEST(Hub, Stress_ConcurrentExecutorAndBridgeTrafficKeepsGaugesConsistent) {
  Env env(Env::limits(16 << 20, 1 << 20, 64));
  auto exe = env.attach();
  constexpr int kStreams = 8;
  constexpr int kCycles = 40;
  constexpr int kFramesPerCycle = 20;
  std::atomic<bool> stop{false};
  std::atomic<int> admitted{0};

  std::thread executor([&] {
    std::uint32_t seq = 0;
    while (!stop.load()) {
      for (int s = 0; s < kStreams; ++s) env.xsend(exe, data("s" + std::to_string(s), seq, "{}"));
      ++seq;
      if (seq % 64 == 0) std::this_thread::yield();
    }
  });
  std::thread chaos([&] {
    int i = 0;
    while (!stop.load()) {
      if (++i % 50 == 0) env.hub->on_turn_revoked("turn-3");
      (void)env.hub->active_streams("exe_1");
      (void)env.hub->executor_connected("exe_1");
      (void)env.reg.render();
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> bridges;
  for (int t = 0; t < kStreams; ++t) {
    bridges.emplace_back([&, t] {
      const std::string sid = "s" + std::to_string(t);
      for (int c = 0; c < kCycles; ++c) {
        const bool plain = (t % 3 == 2) && (c % 2 == 0);
        auto b = plain ? env.open_plain("{}", who("turn-" + std::to_string(t)))
                       : env.open_relay(sid, who("turn-" + std::to_string(t)));
        if (!b.admitted()) continue;
        admitted.fetch_add(1);
        for (int f = 0; f < kFramesPerCycle; ++f) {
          if (plain) env.bsend(b, "{\"f\":" + std::to_string(f) + "}", false);
          else env.bsend(b, data(sid, f, "{}"));
          if (f == kFramesPerCycle / 2 && c % 7 == 3) env.hub->bridge_message_too_big(b.link());
        }
        env.hub->bridge_gone(b.link(), reset::kHarnessDisconnected);
      }
    });
  }
  for (auto& th : bridges) th.join();
  stop.store(true);
  executor.join();
  chaos.join();

  EXPECT_EQ(admitted.load(), kStreams * kCycles);
  EXPECT_EQ(env.hub->active_streams("exe_1"), 0u);
  EXPECT_EQ(env.streams(), 0);
  EXPECT_EQ(env.relay_bridges(), 0);
  EXPECT_EQ(env.plain_bridges(), 0);
  // every stream ended exactly once with exactly one Reset
  EXPECT_EQ(resets_in(*exe.peer).size(), static_cast<std::size_t>(kStreams * kCycles));
  EXPECT_EQ(env.resets("harness_disconnected") + env.resets("frame_too_large") + env.resets("turn_revoked"),
            static_cast<std::uint64_t>(kStreams * kCycles));
  env.hub->executor_gone(*exe.link);
  EXPECT_EQ(env.executors(), 0);
}

TEST(Hub, Stress_EvictionsRacingBridges) {
  Env env;
  constexpr int kThreads = 4;
  std::atomic<bool> stop{false};
  std::vector<Exe> all;
  std::mutex all_mu;
  std::thread reconnect([&] {
    for (int i = 0; i < 200; ++i) {
      auto e = env.attach();
      std::lock_guard lk(all_mu);
      all.push_back(e);
      if (all.size() >= 2) env.hub->executor_gone(*all[all.size() - 2].link);
    }
    stop.store(true);
  });
  std::vector<std::thread> bridges;
  for (int t = 0; t < kThreads; ++t)
    bridges.emplace_back([&, t] {
      int n = 0;
      while (!stop.load() || n < 10) {
        auto b = env.open_relay("s" + std::to_string(t), who("turn-" + std::to_string(t)));
        ++n;
        if (!b.admitted()) continue;
        env.bsend(b, data("s" + std::to_string(t), 0, "{}"));
        env.hub->bridge_gone(b.link(), reset::kHarnessDisconnected);
      }
    });
  reconnect.join();
  for (auto& th : bridges) th.join();
  EXPECT_EQ(env.streams(), 0);
  EXPECT_EQ(env.relay_bridges(), 0);
  EXPECT_EQ(env.executors(), 1);
  EXPECT_EQ(env.counter("cxg_executor_evictions"), 199u);
  EXPECT_TRUE(env.hub->executor_connected("exe_1"));
  env.hub->executor_gone(*all.back().link);
  EXPECT_EQ(env.executors(), 0);
  EXPECT_FALSE(env.hub->executor_connected("exe_1"));
  EXPECT_EQ(env.presence.disconnected_calls().size(), 200u);
}

}  // namespace
}  // namespace cxg::relay
