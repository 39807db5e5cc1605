#pragma once
// The two sides of the relay as cxg-load plays them, behind an interface free of Beast so that
// only peers.cpp pays for its templates.
//
//  - Executor side (io thread A): websocket clients of the gateway's /codex-exec/{id}, or, in the
//    direct mode, a websocket *server* that bridges (or nginx) connect to. It answers at the
//    frame level as an exec-server would: a stream exists from its first frame (the bridge's
//    Resume), and each stream sinks, echoes or sources Data frames.
//  - Bridge side (io thread B): relay-v1 bridges, one websocket and one stream each: Resume
//    first, then they sink, source, time round trips or run the fan-in sequence check.
//
// Hot paths do not allocate: frames are encoded once per stream, read buffers and echo
// buffers are reused, and Asio recycles its operation memory per thread.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace load {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string str() const { return host + ":" + std::to_string(port); }
};

std::int64_t now_ns();

class ExecutorPeer;

// One stream's bookkeeping shared by its two ends (they run on different io threads).
// For executor→bridge it also carries the benchmark's own flow control: the executor
// source keeps at most `window` frames in flight end to end, because the gateway (by design,
// wire-protocol §9) closes a bridge that falls 16 MiB behind instead of slowing the executor.
struct Flow {
  explicit Flow(std::string id) : stream_id(std::move(id)) {}
  const std::string stream_id;
  std::atomic<std::uint64_t> sent{0};      // frames handed to the websocket by the sender
  std::atomic<std::uint64_t> received{0};  // frames read by the receiver
  std::atomic<bool> stalled{false};        // isolation: bridge stops reading, source ignores window
  std::atomic<std::int64_t> reset_at_ns{0};   // executor side saw a Reset for this stream
  std::atomic<std::int64_t> closed_at_ns{0};  // bridge saw its websocket end
  std::atomic<ExecutorPeer*> source{nullptr};  // executor sourcing this stream (woken on receive)
  std::uint64_t window = 64;  // frames
};

enum class ExecMode { sink, echo, source, fanin };
enum class BridgeMode { sink, source, latency, fanin };

struct WorldConfig {
  ExecMode exec_mode = ExecMode::echo;
  BridgeMode bridge_mode = BridgeMode::sink;
  std::size_t payload_size = 200;  // Data payload bytes (throughput, latency)
  int fanin_window = 4;            // frames a fan-in bridge keeps in flight
  std::size_t latency_reserve = 1 << 22;
};

struct SideCounters {
  std::atomic<int> ready{0};   // handshake done (and Resume sent, for bridges)
  std::atomic<int> failed{0};  // gave up connecting
  std::atomic<int> ended{0};   // websocket ended after being ready
  std::atomic<int> last_http_status{0};
};

// Fan-in sequence check results (payloads carry per-stream sequence numbers).
struct SeqCheck {
  std::atomic<std::uint64_t> checked{0}, lost{0}, duplicated{0}, reordered{0};
};

class World {
 public:
  explicit World(WorldConfig cfg);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Executor side as a websocket server (direct mode; nginx proxies to it too). Returns false
  // when the port cannot be bound.
  bool listen_direct(std::uint16_t port);
  // Executor side as a client of the gateway: `target` is the path+query of the URL that
  // registration returned. `streams_hint` sizes the per-executor stream table.
  void connect_executor(const Endpoint& ep, std::string target);
  // A relay-v1 bridge for `flow` (its stream_id goes into the Resume). Retries a refused
  // upgrade (503 executor not connected yet) for up to 5 s.
  void connect_bridge(const Endpoint& ep, std::string target, Flow* flow);

  SideCounters& executors();
  SideCounters& bridges();
  SeqCheck& to_executor_check();  // bridge→executor direction, checked by the executor side
  SeqCheck& to_bridge_check();    // executor→bridge direction, checked by the bridges

  // Fan-in bridges send nothing until this is called (so that connecting thousands of
  // bridges does not compete with traffic already flowing).
  void start_fanin();
  // Round-trip samples (ns) are kept only while measuring.
  void set_measuring(bool on);
  // Stops both io threads and closes every socket. Idempotent.
  void stop();
  // After stop(): the round-trip samples in ns.
  std::vector<std::uint32_t> take_latency_samples();
  std::uint64_t executor_frames_received() const;  // all streams (for b→e throughput)

  struct Impl;  // public so that the peer classes in peers.cpp can name it

 private:
  std::unique_ptr<Impl> impl_;
};

// A small synchronous HTTP/1.1 client with keep-alive (setup, admin API, registration rate).
struct HttpResponse {
  int status = 0;  // 0: transport error
  std::string body;
};

class HttpClient {
 public:
  explicit HttpClient(Endpoint ep);
  ~HttpClient();
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       const std::string& body = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace load
