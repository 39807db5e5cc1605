// Microbenchmarks of the relay hub's routing step, without sockets: a frame handed to the hub
// as the transport hands it (an owned std::string) until the hub queues it on the other
// side's Peer. Peers here only count what they are given, so the figures are the relay core's
// own cost per frame: decode, validation, the stream lookup under the executor's lock,
// metrics, flow credit and the OutMessage allocation.
#include <benchmark/benchmark.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "inputs.hpp"
#include "cxg/codec/relay_frame.hpp"
#include "cxg/common/log.hpp"
#include "cxg/metrics/registry.hpp"
#include "cxg/relay/hub.hpp"
#include "cxg/relay/peer.hpp"
#include "relay/links.hpp"

namespace cxg::bench {
namespace {

namespace frame = codec::relay;

// A websocket that writes instantly: counts what is queued and, like the transport's writer
// once a message is written, releases its flow credit (bridge -> executor). The messages are
// held until drop_held(), called with the timer paused: freeing a written message is the
// transport's cost, not the hub's.
class CountingPeer final : public relay::Peer {
 public:
  void send(relay::OutMessage m) override {
    const auto size = m.data->size();
    bytes_ += size;
    ++messages_;
    if (m.credit) m.credit->release(size);
    held_.push_back(std::move(m.data));
  }
  void close_with(std::uint16_t, std::string, bool) override { ++closes_; }
  std::uint64_t queued_bytes() const override { return 0; }
  void resume_reading() override {}

  void drop_held() { held_.clear(); }
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t messages() const { return messages_; }
  std::uint64_t closes() const { return closes_; }

 private:
  std::uint64_t bytes_ = 0, messages_ = 0, closes_ = 0;
  std::vector<std::shared_ptr<const std::string>> held_;
};

class NoPresence final : public relay::PresenceRecorder {
 public:
  void connected(const std::string&, const std::string&, bool) override {}
  void disconnected(const std::string&, const std::string&) override {}
};

// One executor and one bridge attached to a hub, as after the bridge's first frame.
struct Route {
  metrics::Registry registry;
  NoPresence presence;
  std::unique_ptr<relay::Hub> hub;
  std::shared_ptr<CountingPeer> executor_peer = std::make_shared<CountingPeer>();
  std::shared_ptr<CountingPeer> bridge_peer = std::make_shared<CountingPeer>();
  std::shared_ptr<relay::ExecutorLink> executor;
  std::shared_ptr<relay::BridgeLink> bridge;

  explicit Route(relay::Flavour flavour) {
    log::init("error");  // the hub logs every attach at info
    metrics::declare_cxg_metrics(registry, "bench");
    hub = std::make_unique<relay::Hub>(relay::RelayLimits{}, registry, presence);
    const relay::BridgeIdentity who{"exe_bench", "ws_bench", "trn_bench", "user_bench"};
    executor = hub->attach_executor(who.exe_id, /*legacy=*/false, executor_peer);
    auto opened = flavour == relay::Flavour::relay
                      ? hub->open_bridge(who, bridge_peer, frame::encode_resume(kStreamId, 0), /*binary=*/true)
                      : hub->open_bridge(who, bridge_peer, json_rpc_payload(kSmallPayload), /*binary=*/false);
    bridge = std::move(opened.link);
    if (!bridge) throw std::runtime_error("the hub refused the bridge: " + opened.close_reason);
  }
  const std::string& stream_id() const { return bridge->stream_id; }
};

// Each hub call consumes its message, as the transport's are. The copies it needs are made
// in batches with the timer paused (when the receiving peer also drops what it holds), so the
// timed loop holds only the hub's own work.
class MessagePool {
 public:
  MessagePool(std::string model, CountingPeer& receiver)
      : model_(std::move(model)), receiver_(receiver), pool_(batch_size(model_.size())) {
    refill();
  }

  std::string take(benchmark::State& state) {
    if (next_ == pool_.size()) {
      state.PauseTiming();
      refill();
      state.ResumeTiming();
    }
    return std::move(pool_[next_++]);
  }
  std::size_t message_size() const { return model_.size(); }

 private:
  static std::size_t batch_size(std::size_t message_bytes) {
    constexpr std::size_t kBatchBytes = 1u << 20, kMaxBatch = 1024;
    return std::max<std::size_t>(16, std::min(kMaxBatch, kBatchBytes / message_bytes));
  }
  static void keep_freed_heap() {
#if defined(__GLIBC__)
    // Freeing a whole batch leaves a large free top chunk that glibc would give back to the
    // kernel, and the next refill would fault it in again page by page: the untimed part
    // then took ~40x the timed one. Keeping it makes refills a malloc and a memcpy each.
    static const bool kept = mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1;
    (void)kept;
#endif
  }
  void refill() {
    keep_freed_heap();
    receiver_.drop_held();
    for (auto& m : pool_) m = model_;
    next_ = 0;
  }

  std::string model_;
  CountingPeer& receiver_;
  std::vector<std::string> pool_;
  std::size_t next_ = 0;
};

void payload_sizes(benchmark::internal::Benchmark* b) {
  b->Arg(kSmallPayload)->Arg(kMediumPayload)->Arg(kLargePayload);
}

// bytes/s counts the frames handed to the hub; the check fails the benchmark if the hub did
// not deliver one message per frame (a refused route would otherwise look very fast).
void report(benchmark::State& state, std::size_t in_bytes, const CountingPeer& receiver, const CountingPeer& sender,
            std::uint64_t delivered_before) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(in_bytes));
  if (receiver.messages() - delivered_before != static_cast<std::uint64_t>(state.iterations()) ||
      receiver.closes() != 0 || sender.closes() != 0)
    state.SkipWithError("the hub did not deliver every frame");
}

// An executor's Data frame routed to a relay-v1 bridge (forwarded byte for byte).
void BM_Hub_ExecutorToRelayBridge(benchmark::State& state) {
  Route route(relay::Flavour::relay);
  MessagePool frames(frame::encode_data(route.stream_id(), 41, json_rpc_payload(state.range(0))), *route.bridge_peer);
  const auto before = route.bridge_peer->messages();
  for (auto _ : state) route.hub->executor_message(*route.executor, frames.take(state), /*binary=*/true);
  report(state, frames.message_size(), *route.bridge_peer, *route.executor_peer, before);
}
BENCHMARK(BM_Hub_ExecutorToRelayBridge)->Apply(payload_sizes);

// A relay-v1 bridge's Data frame routed to the executor (forwarded byte for byte, with credit).
void BM_Hub_RelayBridgeToExecutor(benchmark::State& state) {
  Route route(relay::Flavour::relay);
  MessagePool frames(frame::encode_data(route.stream_id(), 7, json_rpc_payload(state.range(0))), *route.executor_peer);
  const auto before = route.executor_peer->messages();
  for (auto _ : state) {
    auto gate = route.hub->bridge_message(*route.bridge, frames.take(state), /*binary=*/true);
    benchmark::DoNotOptimize(gate);
  }
  report(state, frames.message_size(), *route.executor_peer, *route.bridge_peer, before);
}
BENCHMARK(BM_Hub_RelayBridgeToExecutor)->Apply(payload_sizes);

// An executor's Data frame to a plain bridge: the payload checked as UTF-8, sent as text.
void BM_Hub_ExecutorToPlainBridge(benchmark::State& state) {
  Route route(relay::Flavour::plain);
  MessagePool frames(frame::encode_data(route.stream_id(), 41, json_rpc_payload(state.range(0))), *route.bridge_peer);
  const auto before = route.bridge_peer->messages();
  for (auto _ : state) route.hub->executor_message(*route.executor, frames.take(state), /*binary=*/true);
  report(state, frames.message_size(), *route.bridge_peer, *route.executor_peer, before);
}
BENCHMARK(BM_Hub_ExecutorToPlainBridge)->Apply(payload_sizes);

// A plain bridge's JSON text to the executor: checked as JSON, wrapped in a new Data frame.
void BM_Hub_PlainBridgeToExecutor(benchmark::State& state) {
  Route route(relay::Flavour::plain);
  MessagePool texts(json_rpc_payload(state.range(0)), *route.executor_peer);
  const auto before = route.executor_peer->messages();
  for (auto _ : state) {
    auto gate = route.hub->bridge_message(*route.bridge, texts.take(state), /*binary=*/false);
    benchmark::DoNotOptimize(gate);
  }
  report(state, texts.message_size(), *route.executor_peer, *route.bridge_peer, before);
}
BENCHMARK(BM_Hub_PlainBridgeToExecutor)->Apply(payload_sizes);

}  // namespace
}  // namespace cxg::bench
