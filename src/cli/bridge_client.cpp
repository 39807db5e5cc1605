#include "bridge_client.hpp"

#include <cstdio>
#include <cstdlib>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "cli_common.hpp"
#include "cxg/codec/relay_frame.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/common/ids.hpp"

namespace cxg::cli {

namespace json = boost::json;
using transport::WsClosed;
using transport::WsConnectError;
using transport::WsMessage;

std::string json_brief(const json::value& v, std::size_t max) {
  std::string s = json::serialize(v);
  if (s.size() > max) s = s.substr(0, max) + "…";
  return s;
}

namespace {

std::string one_line(std::string s, std::size_t max = 300) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.size() > max) s = s.substr(0, max) + "…";
  return s;
}

// A refused upgrade (http-api §2.4): status + plain-text body → what the user should know.
std::string refusal_message(const BridgeTarget& t, const std::string& url, int status, const std::string& raw_body) {
  const std::string body = one_line(raw_body);
  const std::string http = "(HTTP " + std::to_string(status) + (body.empty() ? "" : " " + body) + ")";
  const std::string exe = "executor " + t.exe_id;
  switch (status) {
    case 401:
      if (body == "token expired") return "auth rejected: the cap-token has expired " + http + "; mint a new one";
      if (body == "turn revoked") return "auth rejected: the cap-token's turn has been revoked " + http;
      if (body == "missing Bearer") return "auth rejected: no usable cap-token was sent " + http;
      return "auth rejected: the gateway does not accept this cap-token " + http +
             "; it was minted with another key or is malformed";
    case 403:
      if (body == "exe_id not in workspace") return exe + " is not bound to the cap-token's workspace " + http;
      return "bridge forbidden " + http;
    case 503: return exe + " is offline: no exec-server is connected for it " + http;
    case 409: return exe + " is busy: a legacy (0.130) executor serves one bridge at a time " + http;
    case 429: return exe + " has too many open streams " + http;
    case 400: return "gateway rejected the request " + http;
    case 404: return "no bridge endpoint at " + url + " " + http + "; is --url/CXG_URL a cxg gateway?";
    default: return "gateway refused the bridge " + http;
  }
}

}  // namespace

std::unique_ptr<BridgeClient> BridgeClient::open(const BridgeTarget& t, std::chrono::milliseconds wait_online) {
  if (!ids::is_valid_exe_id(t.exe_id))
    throw CliError("invalid executor id '" + t.exe_id + "' (expected [A-Za-z0-9_-]{1,256})", t.failure_code);
  const auto base = transport::websocket_base_url(t.gateway_url);
  if (!base) throw CliError("invalid gateway URL '" + t.gateway_url + "' (expected http(s):// or ws(s)://)", t.failure_code);
  const std::string url = *base + "/bridge/" + t.exe_id;
  transport::WsClientOptions opts;
  opts.headers.emplace_back("Authorization", "Bearer " + t.cap_token);
  opts.connect_timeout = t.connect_timeout;
  // Executors push output without flow control, and a bridge that stops reading is closed by
  // the gateway (4106 slow consumer) once its 16 MiB queue is full: buffer here instead, so a
  // briefly stalled stdout (`cxg exec … | less`) costs memory rather than the run.
  opts.max_queued_bytes = std::size_t{512} << 20;
  opts.tls_ca_file = t.ca_file;
  opts.tls_verify = !t.insecure;
  const auto give_up = std::chrono::steady_clock::now() + wait_online;
  auto ws = transport::WsClient::connect(url, opts);
  while (!ws && ws.error().kind == WsConnectError::Kind::refused && (ws.error().status == 503 || ws.error().status == 409) &&
         std::chrono::steady_clock::now() + std::chrono::milliseconds(200) < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ws = transport::WsClient::connect(url, opts);
  }
  if (!ws) {
    const WsConnectError& e = ws.error();
    switch (e.kind) {
      case WsConnectError::Kind::refused:
        throw CliError(refusal_message(t, url, e.status, e.body), t.failure_code);
      case WsConnectError::Kind::bad_url:
        throw CliError("invalid gateway URL: " + e.message, t.failure_code);
      case WsConnectError::Kind::timeout:
        throw CliError("gateway unreachable at " + *base + ": " + e.message, t.failure_code);
      case WsConnectError::Kind::unreachable:
        throw CliError("gateway unreachable at " + *base + ": " + e.message, t.failure_code);
      case WsConnectError::Kind::protocol:
        throw CliError("bridge upgrade failed at " + url + ": " + e.message, t.failure_code);
    }
  }
  return std::unique_ptr<BridgeClient>(new BridgeClient(t, std::move(*ws)));
}

BridgeClient::BridgeClient(BridgeTarget target, std::unique_ptr<transport::WsClient> ws)
    : target_(std::move(target)), ws_(std::move(ws)) {
  if (target_.relay) {
    stream_id_ = crypto::uuid_v4();
    ws_->send_binary(codec::relay::encode_resume(stream_id_, 0));
  }
}

BridgeClient::~BridgeClient() = default;

namespace {
// CXG_DEBUG_RPC=1: every JSON-RPC message in and out on stderr (long ones shortened).
const bool kDebugRpc = [] {
  const char* v = std::getenv("CXG_DEBUG_RPC");
  return v && *v && std::string_view(v) != "0";
}();
void debug_rpc(const char* dir, std::string_view text) {
  if (!kDebugRpc) return;
  std::string s(text.substr(0, 400));
  if (text.size() > 400) s += "…(" + std::to_string(text.size()) + " bytes)";
  std::fprintf(stderr, "[rpc %s] %s\n", dir, s.c_str());
}
}  // namespace

void BridgeClient::send_json(const json::object& msg) {
  std::string text = json::serialize(msg);
  debug_rpc(">", text);
  std::lock_guard lk(send_mu_);
  if (target_.relay)
    ws_->send_binary(codec::relay::encode_data(stream_id_, out_seq_++, text));
  else
    ws_->send_text(std::move(text));
}

std::int64_t BridgeClient::send_request(const std::string& method, json::object params) {
  std::int64_t id;
  {
    std::lock_guard lk(send_mu_);
    id = next_id_++;
  }
  json::object msg;
  msg["id"] = id;
  msg["method"] = method;
  msg["params"] = std::move(params);
  send_json(msg);
  return id;
}

void BridgeClient::send_notification(const std::string& method, json::object params) {
  json::object msg;
  msg["method"] = method;
  msg["params"] = std::move(params);
  send_json(msg);
}

std::string BridgeClient::describe_close(const WsClosed& c) const {
  std::string s;
  if (c.code != 0) {
    s = "gateway closed the bridge with " + std::to_string(c.code) + (c.reason.empty() ? "" : " " + one_line(c.reason));
  } else {
    s = "the connection to the gateway ended without a close frame" + (c.error.empty() ? "" : " (" + c.error + ")");
  }
  if (!reset_reason_.empty()) s += " [stream reset: " + reset_reason_ + "]";
  return s;
}

std::optional<json::object> BridgeClient::decode(WsMessage& m) {
  std::string_view payload;
  if (target_.relay) {
    if (!m.binary) return std::nullopt;
    auto frame = codec::relay::decode(m.data);
    if (!frame || frame->stream_id != stream_id_) return std::nullopt;
    if (frame->body == codec::relay::Body::reset) {
      reset_reason_ = std::string(frame->reason);
      return std::nullopt;
    }
    if (frame->body != codec::relay::Body::data) return std::nullopt;
    payload = frame->payload;
  } else {
    if (m.binary) return std::nullopt;
    payload = m.data;
  }
  debug_rpc("<", payload);
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object())
    throw CliError("protocol error: the executor sent a message that is not a JSON object: " +
                       one_line(std::string(payload.substr(0, 200))),
                   target_.failure_code);
  return std::move(v.as_object());
}

std::optional<json::object> BridgeClient::next(std::chrono::milliseconds timeout) {
  if (!backlog_.empty()) {
    auto m = std::move(backlog_.front());
    backlog_.pop_front();
    return m;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto ev = ws_->receive(std::max(left, std::chrono::milliseconds(0)));
    if (!ev) return std::nullopt;
    if (auto* closed = std::get_if<WsClosed>(&*ev)) {
      if (closing_) return std::nullopt;
      throw CliError("connection lost: " + describe_close(*closed), target_.failure_code);
    }
    if (auto obj = decode(std::get<WsMessage>(*ev))) return obj;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
  }
}

json::value BridgeClient::call(const std::string& method, json::object params, std::chrono::milliseconds timeout,
                               const std::function<void()>& tick) {
  const std::int64_t id = send_request(method, std::move(params));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::deque<json::object> kept;
  auto restore = [&] {
    for (auto& m : kept) backlog_.push_back(std::move(m));
  };
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      restore();
      throw CliError(method + ": no answer from the executor within " + std::to_string(timeout.count() / 1000) + " s",
                     target_.failure_code);
    }
    std::optional<json::object> m;
    // Messages kept by an earlier call() come first, but they never hold this call's answer.
    {
      auto ev = ws_->receive(tick ? std::min(left, std::chrono::milliseconds(100)) : left);
      if (tick) tick();
      if (!ev) continue;
      if (auto* closed = std::get_if<WsClosed>(&*ev)) {
        restore();
        throw CliError("connection lost during " + method + ": " + describe_close(*closed), target_.failure_code);
      }
      m = decode(std::get<WsMessage>(*ev));
    }
    if (!m) continue;
    const auto* idv = m->if_contains("id");
    if (idv && idv->is_int64() && idv->as_int64() == id && !m->contains("method")) {
      restore();
      if (const auto* err = m->if_contains("error")) {
        std::int64_t code = 0;
        std::string message = json_brief(*err);
        if (err->is_object()) {
          if (const auto* c = err->as_object().if_contains("code"); c && c->is_int64()) code = c->as_int64();
          if (const auto* s = err->as_object().if_contains("message"); s && s->is_string()) message = std::string(s->as_string());
        }
        throw RpcFailure(method, code, message);
      }
      if (const auto* r = m->if_contains("result")) return *r;
      return json::value();
    }
    kept.push_back(std::move(*m));
  }
}

std::string BridgeClient::initialize(const std::string& client_name) {
  json::value res;
  try {
    res = call("initialize", json::object{{"clientName", client_name}}, std::chrono::seconds(10));
  } catch (const RpcFailure& f) {
    throw CliError("initialize was refused by the executor: " + f.message + " (" + std::to_string(f.code) + ")",
                   target_.failure_code);
  }
  send_notification("initialized", json::object{});
  if (res.is_object())
    if (const auto* s = res.as_object().if_contains("sessionId"); s && s->is_string()) return std::string(s->as_string());
  return {};
}

void BridgeClient::close(const std::string& reason) {
  closing_ = true;
  ws_->close(1000, reason, std::chrono::milliseconds(2000));
}

}  // namespace cxg::cli
