// Executor and bridge peers of cxg-load (see peers.hpp). All Beast code lives here.
#include "peers.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "cxg/codec/relay_frame.hpp"

namespace load {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace relay = cxg::codec::relay;
using tcp = asio::ip::tcp;
// Sockets bound to the concrete io_context executor, not the type-erased any_io_executor: with
// the latter every completion was dispatched through an allocated executor_function
// (heaptrack: one malloc per few frames), which the hot path must not do.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using WsStream = websocket::stream<Socket>;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

// Fan-in payloads are `{"s":"<10 digits>","p":"xxx…"}`: the sequence number sits at a fixed
// offset so it can be patched in place before each write and read back without parsing JSON.
constexpr std::size_t kSeqOffset = 6, kSeqDigits = 10;
constexpr std::size_t kFaninSizes[] = {32, 200, 1024, 4096};  // "mixed small frames"

std::string fanin_payload(std::size_t size) {
  std::string p = "{\"s\":\"0000000000\",\"p\":\"";
  p.append(size - p.size() - 2, 'x');
  p += "\"}";
  return p;
}

// `{"x":"aaa…"}` of exactly `size` bytes: a compact JSON payload, as exec-servers send.
std::string filler_payload(std::size_t size) {
  std::string p = "{\"x\":\"";
  if (size > p.size() + 2) p.append(size - p.size() - 2, 'a');
  p += "\"}";
  return p;
}

void write_seq(char* at, std::uint64_t seq) {
  for (std::size_t i = kSeqDigits; i-- > 0; seq /= 10) at[i] = static_cast<char>('0' + seq % 10);
}

std::optional<std::uint64_t> read_seq(std::string_view payload) {
  if (payload.size() < kSeqOffset + kSeqDigits) return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < kSeqDigits; ++i) {
    const char c = payload[kSeqOffset + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// Per-stream in-order, exactly-once check. A gap counts its missing frames as lost; an old
// number counts as duplicated when it repeats the previous one and as reordered otherwise.
void check_seq(SeqCheck& c, std::uint64_t& expect, std::string_view payload) {
  c.checked.fetch_add(1, std::memory_order_relaxed);
  const auto seq = read_seq(payload);
  if (!seq) {
    c.lost.fetch_add(1, std::memory_order_relaxed);  // mangled payload: count it as lost data
    return;
  }
  if (*seq == expect) {
    ++expect;
  } else if (*seq > expect) {
    c.lost.fetch_add(*seq - expect, std::memory_order_relaxed);
    expect = *seq + 1;
  } else if (*seq + 1 == expect) {
    c.duplicated.fetch_add(1, std::memory_order_relaxed);
  } else {
    c.reordered.fetch_add(1, std::memory_order_relaxed);
  }
}

void tune_socket(Socket& s) {
  boost::system::error_code ec;
  s.set_option(tcp::no_delay(true), ec);
}

// Options shared by both sides: binary relay frames, one websocket frame per message, a write
// buffer large enough that a client masks a 64 KiB message in one pass (one syscall).
void tune_ws(WsStream& ws) {
  ws.binary(true);
  ws.auto_fragment(false);
  ws.read_message_max(64u << 20);
  ws.write_buffer_bytes(256 * 1024);
}

std::string host_header(const Endpoint& ep) { return ep.str(); }

}  // namespace

class BridgePeer;

struct World::Impl {
  explicit Impl(WorldConfig c) : cfg(c) {
    if (cfg.bridge_mode == BridgeMode::latency) samples.reserve(cfg.latency_reserve);
    exec_guard.emplace(exec_ioc.get_executor());
    bridge_guard.emplace(bridge_ioc.get_executor());
    exec_thread = std::thread([this] { exec_ioc.run(); });
    bridge_thread = std::thread([this] { bridge_ioc.run(); });
  }
  ~Impl() { stop(); }

  void stop() {
    if (stopped) return;
    stopped = true;
    exec_guard.reset();
    bridge_guard.reset();
    exec_ioc.stop();
    bridge_ioc.stop();
    exec_thread.join();
    bridge_thread.join();
    // Sockets close here; operations still queued die with the io_contexts.
    acceptor.reset();
    executors.clear();
    bridge_peers.clear();
  }

  Flow* flow_for(std::string_view stream_id) {
    std::lock_guard lk(flows_mu);
    const auto it = flows.find(std::string(stream_id));
    return it == flows.end() ? nullptr : it->second;
  }

  WorldConfig cfg;
  // The io_contexts come first so that they outlive every socket below.
  asio::io_context exec_ioc{1};
  asio::io_context bridge_ioc{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> exec_guard, bridge_guard;
  std::thread exec_thread, bridge_thread;
  bool stopped = false;

  SideCounters exec_counters, bridge_counters;
  SeqCheck to_exec, to_bridge;
  std::atomic<bool> measuring{false};
  std::atomic<std::uint64_t> exec_frames{0};
  std::vector<std::uint32_t> samples;  // bridge thread only
  bool fanin_started = false;          // bridge thread only

  std::mutex flows_mu;
  std::unordered_map<std::string, Flow*> flows;  // stream_id → flow, filled before bridges connect

  std::unique_ptr<Acceptor> acceptor;                // exec thread
  std::vector<std::shared_ptr<ExecutorPeer>> executors;   // exec thread
  std::vector<std::shared_ptr<BridgePeer>> bridge_peers;  // bridge thread
};

// ------------------------------------------------------------------------------ executor side

class ExecutorPeer : public std::enable_shared_from_this<ExecutorPeer> {
 public:
  ExecutorPeer(World::Impl& w, Socket socket) : w_(w), ws_(std::move(socket)) { tune_ws(ws_); }

  void start_client(const Endpoint& ep, std::string target) {
    target_ = std::move(target);
    host_ = host_header(ep);
    ws_.next_layer().async_connect(tcp::endpoint(asio::ip::make_address(ep.host), ep.port),
                                   [self = shared_from_this()](beast::error_code ec) {
                                     if (ec) return self->give_up();
                                     tune_socket(self->ws_.next_layer());
                                     self->ws_.async_handshake(self->host_, self->target_,
                                                               [self](beast::error_code ec2) {
                                                                 if (ec2) return self->give_up();
                                                                 self->opened();
                                                               });
                                   });
  }

  void start_server() {
    tune_socket(ws_.next_layer());
    ws_.async_accept([self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->give_up();
      self->opened();
    });
  }

  // Called from the bridge thread when a bridge consumed frames of a stream this peer sources.
  void wake() {
    if (parked_.load(std::memory_order_acquire) && parked_.exchange(false))
      asio::post(ws_.get_executor(), [self = shared_from_this()] { self->pump(); });
  }

 private:
  struct Slot {
    std::string id;
    Flow* flow = nullptr;
    std::string frame;  // pre-encoded Data frame (source mode)
    std::uint64_t expect = 0;
    bool open = true;
  };

  void give_up() { w_.exec_counters.failed.fetch_add(1); }

  void opened() {
    w_.exec_counters.ready.fetch_add(1);
    read();
  }

  void read() {
    ws_.async_read(rbuf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->dead_ = true;
        self->w_.exec_counters.ended.fetch_add(1);
        return;
      }
      const auto data = self->rbuf_.cdata();
      self->on_frame(std::string_view(static_cast<const char*>(data.data()), data.size()));
      self->rbuf_.clear();
      self->read();
    });
  }

  Slot* find(std::string_view id) {
    if (last_ < slots_.size() && slots_[last_].id == id) return &slots_[last_];
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].id == id) return &slots_[(last_ = i)];
    return nullptr;
  }

  Slot& open_stream(std::string_view id) {
    if (Slot* s = find(id)) return *s;
    Slot& s = slots_.emplace_back();
    s.id = std::string(id);
    s.flow = w_.flow_for(id);
    if (w_.cfg.exec_mode == ExecMode::source) {
      s.frame = relay::encode_data(id, 0, filler_payload(w_.cfg.payload_size));
      if (s.flow) s.flow->source.store(this, std::memory_order_release);
    }
    return s;
  }

  void on_frame(std::string_view bytes) {
    const auto f = relay::decode(bytes);
    if (!f) return;
    switch (f->body) {
      case relay::Body::resume:
        open_stream(f->stream_id);
        pump();
        return;
      case relay::Body::reset:
        if (Slot* s = find(f->stream_id)) {
          s->open = false;
          if (s->flow) s->flow->reset_at_ns.store(now_ns());
        }
        return;
      case relay::Body::data: {
        Slot& s = open_stream(f->stream_id);  // the first Data of an unseen stream opens it
        switch (w_.cfg.exec_mode) {
          case ExecMode::sink:
            w_.exec_frames.fetch_add(1, std::memory_order_relaxed);
            if (s.flow) s.flow->received.fetch_add(1, std::memory_order_relaxed);
            return;
          case ExecMode::fanin:
            check_seq(w_.to_exec, s.expect, f->payload);
            [[fallthrough]];
          case ExecMode::echo:
            enqueue_copy(bytes);
            pump();
            return;
          case ExecMode::source:
            return;
        }
        return;
      }
      default:
        return;
    }
  }

  // Echo buffers circulate between queue_ (filled), batch_ (being written) and spare_ (free),
  // keeping their capacity, so echoing allocates nothing once warm.
  void enqueue_copy(std::string_view bytes) {
    std::string s;
    if (!spare_.empty()) {
      s = std::move(spare_.back());
      spare_.pop_back();
    }
    s.assign(bytes);
    queue_.push_back(std::move(s));
  }

  bool window_open(const Slot& s) const {
    if (!s.open || !s.flow) return false;
    if (s.flow->stalled.load(std::memory_order_relaxed)) return true;  // isolation: push regardless
    return s.flow->sent.load(std::memory_order_relaxed) - s.flow->received.load(std::memory_order_acquire) <
           s.flow->window;
  }

  Slot* next_source(bool advance) {
    const std::size_t n = slots_.size();
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (rr_ + k) % n;
      if (window_open(slots_[i])) {
        if (advance) rr_ = i + 1;
        return &slots_[i];
      }
    }
    return nullptr;
  }

  void pump() {
    while (!writing_ && !dead_) {
      if (batch_pos_ < batch_.size()) return write(batch_[batch_pos_++], nullptr);
      if (!batch_.empty()) {
        for (auto& s : batch_) spare_.push_back(std::move(s));
        batch_.clear();
        batch_pos_ = 0;
      }
      if (!queue_.empty()) {
        std::swap(queue_, batch_);
        continue;
      }
      if (w_.cfg.exec_mode != ExecMode::source) return;
      if (Slot* s = next_source(true)) return write(s->frame, s->flow);
      // Every window is full: park until a bridge consumes (wake), re-checking once so that
      // a consumption between the check and the park is not missed.
      parked_.store(true);
      if (!next_source(false)) return;
      if (!parked_.exchange(false)) return;  // a wake is already posted
    }
  }

  void write(const std::string& bytes, Flow* flow) {
    writing_ = true;
    if (flow) flow->sent.fetch_add(1, std::memory_order_relaxed);
    ws_.async_write(asio::buffer(bytes), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec) {
        self->dead_ = true;
        return;
      }
      self->pump();
    });
  }

  World::Impl& w_;
  WsStream ws_;
  std::string host_, target_;
  beast::flat_buffer rbuf_;
  std::vector<Slot> slots_;
  std::size_t last_ = 0, rr_ = 0;
  std::vector<std::string> queue_, batch_, spare_;
  std::size_t batch_pos_ = 0;
  bool writing_ = false, dead_ = false;
  std::atomic<bool> parked_{false};
};

// -------------------------------------------------------------------------------- bridge side

class BridgePeer : public std::enable_shared_from_this<BridgePeer> {
 public:
  BridgePeer(World::Impl& w, Endpoint ep, std::string target, Flow* flow)
      : w_(w), ep_(std::move(ep)), target_(std::move(target)), flow_(flow), retry_(w.bridge_ioc.get_executor()) {
    const auto& cfg = w_.cfg;
    resume_ = relay::encode_resume(flow_->stream_id, 0);
    if (cfg.bridge_mode == BridgeMode::source || cfg.bridge_mode == BridgeMode::latency)
      frame_ = relay::encode_data(flow_->stream_id, 0, filler_payload(cfg.payload_size));
    if (cfg.bridge_mode == BridgeMode::fanin)
      for (const auto size : kFaninSizes) fanin_.push_back(relay::encode_data(flow_->stream_id, 0, fanin_payload(size)));
  }

  void start() {
    ws_.emplace(w_.bridge_ioc.get_executor());
    tune_ws(*ws_);
    ws_->next_layer().async_connect(tcp::endpoint(asio::ip::make_address(ep_.host), ep_.port),
                                    [self = shared_from_this()](beast::error_code ec) {
                                      if (ec) return self->retry(0);
                                      tune_socket(self->ws_->next_layer());
                                      self->res_ = {};
                                      self->ws_->async_handshake(self->res_, host_header(self->ep_), self->target_,
                                                                 [self](beast::error_code ec2) {
                                                                   if (ec2) return self->retry(self->res_.result_int());
                                                                   self->send_resume();
                                                                 });
                                    });
  }

 private:
  // 503 (executor not registered in the hub yet) and refused connections are retried for 5 s.
  void retry(int status) {
    w_.bridge_counters.last_http_status.store(status);
    if (++attempts_ > 250) {
      w_.bridge_counters.failed.fetch_add(1);
      return;
    }
    retry_.expires_after(std::chrono::milliseconds(20));
    retry_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->start();
    });
  }

  void send_resume() {
    ws_->async_write(asio::buffer(resume_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->ended();
      self->open_ = true;
      self->w_.bridge_counters.ready.fetch_add(1);
      self->read();
      switch (self->w_.cfg.bridge_mode) {
        case BridgeMode::source: return self->write_source();
        case BridgeMode::latency: return self->send_ping();
        case BridgeMode::fanin: return self->w_.fanin_started ? self->pump_fanin() : void();
        case BridgeMode::sink: return;
      }
    });
  }

  void ended() {
    if (dead_) return;
    dead_ = true;
    flow_->closed_at_ns.store(now_ns());
    w_.bridge_counters.ended.fetch_add(1);
  }

  void read() {
    ws_->async_read(rbuf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->ended();
      self->on_message();
      self->rbuf_.clear();
      if (self->flow_->stalled.load(std::memory_order_relaxed)) return;  // isolation: stop reading
      self->read();
    });
  }

  void on_message() {
    switch (w_.cfg.bridge_mode) {
      case BridgeMode::sink:
      case BridgeMode::source:
        flow_->received.fetch_add(1, std::memory_order_release);
        if (auto* src = flow_->source.load(std::memory_order_acquire)) src->wake();
        return;
      case BridgeMode::latency: {
        const auto rtt = now_ns() - sent_at_;
        if (w_.measuring.load(std::memory_order_relaxed) && w_.samples.size() < w_.samples.capacity())
          w_.samples.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(rtt, UINT32_MAX)));
        flow_->received.fetch_add(1, std::memory_order_relaxed);
        return send_ping();
      }
      case BridgeMode::fanin: {
        const auto data = rbuf_.cdata();
        const auto f = relay::decode(std::string_view(static_cast<const char*>(data.data()), data.size()));
        if (!f || f->body != relay::Body::data) return;
        check_seq(w_.to_bridge, expect_, f->payload);
        flow_->received.fetch_add(1, std::memory_order_relaxed);
        --outstanding_;
        return pump_fanin();
      }
    }
  }

  void write_source() {
    ws_->async_write(asio::buffer(frame_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->ended();
      self->flow_->sent.fetch_add(1, std::memory_order_relaxed);
      self->write_source();
    });
  }

  void send_ping() {
    sent_at_ = now_ns();
    ws_->async_write(asio::buffer(frame_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->ended();
    });
  }

 public:
  void kick_fanin() { pump_fanin(); }  // no-op until the Resume went out (open_)

 private:
  // Keeps `fanin_window` frames in flight, cycling through the mixed sizes; each frame's
  // template gets its sequence number patched in place (a template is never rewritten while
  // its write is pending because writes are issued one at a time).
  void pump_fanin() {
    if (!open_ || writing_ || dead_ || outstanding_ >= w_.cfg.fanin_window) return;
    std::string& frame = fanin_[next_seq_ % fanin_.size()];
    const std::size_t payload_size = kFaninSizes[next_seq_ % fanin_.size()];
    write_seq(frame.data() + (frame.size() - payload_size) + kSeqOffset, next_seq_);
    ++next_seq_;
    ++outstanding_;
    writing_ = true;
    ws_->async_write(asio::buffer(frame), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec) return self->ended();
      self->flow_->sent.fetch_add(1, std::memory_order_relaxed);
      self->pump_fanin();
    });
  }

  World::Impl& w_;
  Endpoint ep_;
  std::string target_;
  Flow* flow_;
  asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Executor> retry_;
  int attempts_ = 0;
  std::optional<WsStream> ws_;
  websocket::response_type res_;
  beast::flat_buffer rbuf_;
  std::string resume_, frame_;
  std::vector<std::string> fanin_;
  std::uint64_t next_seq_ = 0, expect_ = 0;
  int outstanding_ = 0;
  bool open_ = false, writing_ = false, dead_ = false;
  std::int64_t sent_at_ = 0;
};

// ------------------------------------------------------------------------------------ World

namespace {

void accept_loop(World::Impl& w) {
  w.acceptor->async_accept([&w](beast::error_code ec, Socket socket) {
    if (ec) return;  // acceptor closed
    auto peer = std::make_shared<ExecutorPeer>(w, std::move(socket));
    w.executors.push_back(peer);
    peer->start_server();
    accept_loop(w);
  });
}

}  // namespace

World::World(WorldConfig cfg) : impl_(std::make_unique<Impl>(cfg)) {}
World::~World() = default;

bool World::listen_direct(std::uint16_t port) {
  try {
    auto acc = std::make_unique<Acceptor>(impl_->exec_ioc.get_executor());
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    acc->open(ep.protocol());
    acc->set_option(asio::socket_base::reuse_address(true));
    acc->bind(ep);
    acc->listen(4096);
    impl_->acceptor = std::move(acc);
  } catch (const std::exception&) {
    return false;
  }
  asio::post(impl_->exec_ioc, [w = impl_.get()] { accept_loop(*w); });
  return true;
}

void World::connect_executor(const Endpoint& ep, std::string target) {
  asio::post(impl_->exec_ioc, [w = impl_.get(), ep, target = std::move(target)]() mutable {
    auto peer = std::make_shared<ExecutorPeer>(*w, Socket(w->exec_ioc.get_executor()));
    w->executors.push_back(peer);
    peer->start_client(ep, std::move(target));
  });
}

void World::connect_bridge(const Endpoint& ep, std::string target, Flow* flow) {
  {
    std::lock_guard lk(impl_->flows_mu);
    impl_->flows[flow->stream_id] = flow;
  }
  asio::post(impl_->bridge_ioc, [w = impl_.get(), ep, target = std::move(target), flow]() mutable {
    auto peer = std::make_shared<BridgePeer>(*w, ep, std::move(target), flow);
    w->bridge_peers.push_back(peer);
    peer->start();
  });
}

SideCounters& World::executors() { return impl_->exec_counters; }
SideCounters& World::bridges() { return impl_->bridge_counters; }
SeqCheck& World::to_executor_check() { return impl_->to_exec; }
SeqCheck& World::to_bridge_check() { return impl_->to_bridge; }
void World::start_fanin() {
  asio::post(impl_->bridge_ioc, [w = impl_.get()] {
    w->fanin_started = true;
    for (auto& b : w->bridge_peers) b->kick_fanin();
  });
}

void World::set_measuring(bool on) { impl_->measuring.store(on); }
void World::stop() { impl_->stop(); }
std::vector<std::uint32_t> World::take_latency_samples() { return std::move(impl_->samples); }
std::uint64_t World::executor_frames_received() const { return impl_->exec_frames.load(); }

// ------------------------------------------------------------------------------- HttpClient

struct HttpClient::Impl {
  Endpoint ep;
  asio::io_context ioc{1};
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(Endpoint ep) : impl_(std::make_unique<Impl>()) { impl_->ep = std::move(ep); }
HttpClient::~HttpClient() = default;

HttpResponse HttpClient::request(const std::string& method, const std::string& target,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 const std::string& body) {
  auto& m = *impl_;
  // A kept-alive connection the server closed meanwhile fails once; the retry reconnects.
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (!m.stream) {
        m.stream.emplace(m.ioc);
        m.stream->connect(tcp::endpoint(asio::ip::make_address(m.ep.host), m.ep.port));
        m.stream->socket().set_option(tcp::no_delay(true));
        m.buffer.clear();
      }
      http::request<http::string_body> req{http::string_to_verb(method), target, 11};
      req.set(http::field::host, m.ep.str());
      for (const auto& [k, v] : headers) req.set(k, v);
      req.body() = body;
      req.keep_alive(true);
      req.prepare_payload();
      http::write(*m.stream, req);
      http::response<http::string_body> res;
      http::read(*m.stream, m.buffer, res);
      HttpResponse out{static_cast<int>(res.result_int()), std::move(res.body())};
      if (!res.keep_alive()) m.stream.reset();
      return out;
    } catch (const std::exception&) {
      m.stream.reset();
    }
  }
  return {};
}

}  // namespace load
