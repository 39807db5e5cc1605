// The HTTP API (http-api.md §1-§2, behaviour.md Z1): api::Router::handle with an in-memory
// SQLite store, a fake validator and a fake relay, fed fuzzed methods, path segments, query
// parameters, headers and bodies. Up to four requests per input share one fresh store, so a
// registration can be followed by a ticket use, a bind by a list, and so on.
//
// Checked for every answer: no exception escapes the router (the transport does not catch
// one); the status is a real one; an error has a body in the shape its caller expects (Codex
// shape for registration, {"error":"<text>"} for /api/*, plain text with a newline otherwise);
// JSON bodies parse; 405 carries Allow; a websocket admission names a valid executor and, for
// bridges, the cap-token's workspace and turn; and no 4xx or 5xx answer changes the store
// (executors, bindings and revocations of every id the request mentions).
#include <fuzzer/FuzzedDataProvider.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>
#include <string>
#include <vector>

#include "cxg/api/router.hpp"
#include "cxg/auth/ticket_issuer.hpp"
#include "cxg/codec/cap_token.hpp"
#include "cxg/codec/ws_ticket.hpp"
#include "cxg/common/ids.hpp"
#include "cxg/store/sqlite_store.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace cxg;
namespace json = boost::json;

constexpr const char* kCapKey = "fuzz-cap-key";
constexpr const char* kSharedSecret = "fuzz-shared-secret";
constexpr const char* kAdminSecret = "fuzz-admin-secret";
constexpr const char* kTicketKey = "fuzz-ticket-key";

// Bearer "good-<user>" is accepted for <user>, "down" is an outage, anything else is refused.
class FakeValidator final : public auth::Validator {
 public:
  auth::ValidationResult validate(const auth::Credential& c) override {
    if (c.value == "down") return {auth::Verdict::unavailable, "", "down", std::nullopt};
    if (c.scheme == auth::Credential::Scheme::bearer && c.value.starts_with("good-") && c.value.size() > 5)
      return {auth::Verdict::accepted, c.value.substr(5), "", std::nullopt};
    return {auth::Verdict::rejected, "", "no", std::nullopt};
  }
  std::string_view name() const override { return "fake"; }
};

// exe-1 is connected (relay), exe-2 is a busy legacy executor, others are offline.
class FakeRelay final : public api::LiveRelay {
 public:
  bool executor_connected(const std::string& id) const override { return id == "exe-1" || id == "exe-2"; }
  bool legacy_executor_busy(const std::string& id) const override { return id == "exe-2"; }
  std::size_t active_streams(const std::string& id) const override { return id == "exe-1" ? 1 : 0; }
  void close_executor_deleted(const std::string&) override {}
  void close_unbound(const std::string&, const std::string&) override {}
};

const std::vector<std::vector<const char*>> kRoutes = {
    {"healthz"},
    {"readyz"},
    {"metrics"},
    {"cloud", "executor", "*", "register"},
    {"cloud", "environment", "*", "register"},
    {"codex-exec", "*"},
    {"bridge", "*"},
    {"api", "codex-exec", "register"},
    {"api", "codex-exec", "executors", "*"},
    {"api", "codex-exec", "workspaces", "*", "executors"},
    {"api", "codex-exec", "workspaces", "*", "executors", "*"},
    {"api", "exec-gateway", "connected"},
    {"api", "exec-gateway", "revoke-turn"},
};
constexpr const char* kIds[] = {"exe-1", "exe-2", "exe-3", "ws-1", "ws-2", "turn-1", "alice", "", "a b", "x\x01"};
constexpr const char* kWords[] = {"api", "codex-exec", "register", "executors", "workspaces", "exec-gateway",
                                  "connected", "revoke-turn", "cloud", "executor", "environment", "bridge",
                                  "healthz", "readyz", "metrics", "exe-1", "ws-1"};
constexpr const char* kMethods[] = {"GET", "POST", "DELETE", "PUT", "HEAD", "get", ""};

struct World {
  config::Config cfg;
  ManualClock clock;
  std::unique_ptr<store::Store> store;
  FakeValidator validator;
  auth::TicketIssuer tickets{kTicketKey, std::chrono::seconds(300)};
  auth::TicketReplayGuard guard;
  std::unique_ptr<api::TurnRevocations> revocations;
  api::Readiness readiness;
  metrics::Registry metrics;
  FakeRelay relay;
  std::unique_ptr<api::Services> services;
  std::string last_ticket;  // from the last successful registration

  explicit World(FuzzedDataProvider& in) {
    cfg.captoken_hmac_secret = kCapKey;
    cfg.internal_shared_secret = kSharedSecret;
    cfg.agentserver_internal_secret = in.ConsumeBool() ? kAdminSecret : "";
    cfg.ws_ticket_secret = kTicketKey;
    cfg.register_auto_create = in.ConsumeBool();
    if (in.ConsumeBool()) cfg.allowed_origins = {"https://ok.example"};
    if (in.ConsumeBool()) cfg.public_ws_base_url = "wss://gw.example/";
    cfg.max_streams_per_executor = in.ConsumeBool() ? 1 : 64;
    store = store::open_sqlite_store({":memory:", false});
    const auto now = clock.now_unix_ms();
    store->create_executor({"exe-1", "alice", "one", "", ""}, now);
    store->create_executor({"exe-2", "bob", "two", "", ""}, now);
    store->upsert_binding({"ws-1", "exe-1", "laptop", "", true}, now);
    store->revoke_turn("turn-revoked", now + 3'600'000, now);
    revocations = std::make_unique<api::TurnRevocations>(*store, clock);
    revocations->resync();
    readiness.store_probe_succeeded(now);
    readiness.revocations_loaded();
    metrics::declare_cxg_metrics(metrics, "fuzz");
    services.reset(new api::Services{cfg, clock, *store, validator, tickets, guard, *revocations, readiness, metrics, relay});
  }
};

std::string pick_id(FuzzedDataProvider& in) {
  return in.ConsumeBool() ? std::string(in.PickValueInArray(kIds)) : in.ConsumeRandomLengthString(40);
}

std::string cap_token(FuzzedDataProvider& in, const World& w) {
  codec::CapClaims c;
  c.workspace_id = in.ConsumeBool() ? "ws-1" : pick_id(in);
  c.turn_id = in.ConsumeBool() ? "turn-1" : (in.ConsumeBool() ? "turn-revoked" : pick_id(in));
  c.user_id = in.ConsumeBool() ? "alice" : "";
  c.iat = w.clock.now_unix_s();
  c.exp = c.iat + in.ConsumeIntegralInRange<std::int64_t>(-10, 3600);
  return codec::mint_cap_token(in.ConsumeBool() ? kCapKey : "wrong-key", c);
}

std::string authorization(FuzzedDataProvider& in, const World& w) {
  switch (in.ConsumeIntegralInRange(0, 7)) {
    case 0: return "Bearer good-alice";
    case 1: return "Bearer good-bob";
    case 2: return "Bearer down";
    case 3: return "Bearer " + cap_token(in, w);
    case 4: return std::string("Bearer ") + kSharedSecret;
    case 5: return "AgentAssertion good-alice";
    case 6: return "Bearer";
    default: return in.ConsumeRandomLengthString(200);
  }
}

std::string body(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: {  // an object with fuzzed members of the documented names
      json::object o;
      static constexpr const char* kKeys[] = {"exe_id", "name", "description", "is_default", "display_name",
                                              "default_cwd", "turn_id", "exp", "executor_id", "idempotency_id",
                                              "security_profile"};
      const int n = in.ConsumeIntegralInRange(0, 5);
      for (int i = 0; i < n; ++i) {
        const char* key = in.PickValueInArray(kKeys);
        switch (in.ConsumeIntegralInRange(0, 5)) {
          case 0: o[key] = pick_id(in); break;
          case 1: o[key] = in.ConsumeIntegral<std::int64_t>(); break;
          case 2: o[key] = in.ConsumeIntegral<std::uint64_t>(); break;
          case 3: o[key] = in.ConsumeBool(); break;
          case 4: o[key] = nullptr; break;
          default: o[key] = in.ConsumeFloatingPoint<double>(); break;
        }
      }
      return json::serialize(o);
    }
    case 1: return "";
    default: return in.ConsumeRandomLengthString(1024);
  }
}

api::Request make_request(FuzzedDataProvider& in, const World& w) {
  api::Request r;
  r.method = in.ConsumeBool() ? std::string(in.PickValueInArray(kMethods)) : in.ConsumeRandomLengthString(10);
  if (in.ConsumeIntegralInRange(0, 4) != 0) {
    for (const char* s : kRoutes[in.ConsumeIntegralInRange<std::size_t>(0, kRoutes.size() - 1)])
      r.segments.emplace_back(std::string_view(s) == "*" ? pick_id(in) : std::string(s));
  } else {
    const int n = in.ConsumeIntegralInRange(0, 7);
    for (int i = 0; i < n; ++i)
      r.segments.emplace_back(in.ConsumeBool() ? std::string(in.PickValueInArray(kWords)) : in.ConsumeRandomLengthString(30));
  }
  r.target = "/";
  for (const auto& s : r.segments) r.target += s + "/";
  const int params = in.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < params; ++i) {
    static constexpr const char* kParams[] = {"token", "mode", "role", "x"};
    const std::string key = in.PickValueInArray(kParams);
    std::string value;
    switch (in.ConsumeIntegralInRange(0, 4)) {
      case 0: value = w.last_ticket; break;
      case 1: value = codec::mint_ws_ticket(kTicketKey, r.segments.size() > 1 ? r.segments[1] : "exe-1",
                                            w.clock.now_unix_s() + in.ConsumeIntegralInRange(-5, 300)); break;
      case 2: value = cap_token(in, w); break;
      case 3: value = in.ConsumeBool() ? "json" : "relay"; break;
      default: value = in.ConsumeRandomLengthString(100); break;
    }
    r.query.emplace_back(key, value);
  }
  if (in.ConsumeBool()) r.headers.add("Authorization", authorization(in, w));
  if (in.ConsumeBool()) r.headers.add("X-Internal-Secret", in.ConsumeBool() ? kAdminSecret : in.ConsumeRandomLengthString(30));
  if (in.ConsumeBool()) r.headers.add("X-User-Id", in.ConsumeBool() ? "alice" : pick_id(in));
  if (in.ConsumeBool()) r.headers.add("ChatGPT-Account-ID", in.ConsumeRandomLengthString(30));
  if (in.ConsumeBool()) r.headers.add("Host", in.ConsumeRandomLengthString(40));
  if (in.ConsumeBool()) r.headers.add("X-Forwarded-For", in.ConsumeRandomLengthString(60));
  if (in.ConsumeBool()) r.headers.add("X-Forwarded-Proto", in.ConsumeBool() ? "https" : "http");
  if (in.ConsumeBool()) r.headers.add("User-Agent", in.ConsumeRandomLengthString(120));
  if (in.ConsumeBool()) r.headers.add("Origin", in.ConsumeBool() ? "https://ok.example" : in.ConsumeRandomLengthString(30));
  r.peer_ip = "127.0.0.1";
  r.peer_is_loopback = in.ConsumeBool();
  r.is_websocket_upgrade = in.ConsumeBool();
  r.body = body(in);
  return r;
}

// Everything the store holds about the ids a request mentions.
std::string state_of(World& w, const api::Request& r) {
  std::set<std::string> ids{"exe-1", "exe-2", "exe-3", "ws-1", "ws-2", "turn-1"};
  for (const auto& s : r.segments) ids.insert(s);
  boost::system::error_code ec;
  const auto v = json::parse(r.body, ec);
  if (!ec && v.is_object())
    for (const auto& [k, x] : v.as_object())
      if (x.is_string()) ids.insert(std::string(x.as_string()));
  const auto now = w.clock.now_unix_ms();
  std::string out;
  for (const auto& id : ids) {
    if (const auto e = w.store->get_executor(id, now)) {
      out += "E|" + e->exe_id + "|" + e->user_id + "|" + e->display_name + "|" + e->description + "|" + e->default_cwd + "|" +
             std::to_string(e->registered_at) + "|" + std::to_string(e->last_seen_at.value_or(-1)) + "|" + e->client_ip +
             "|" + e->client_ua + "|" + e->codex_version + "|" + e->os + "|" + e->protocol + "\n";
    }
    for (const auto& b : w.store->list_bindings(id, now))
      out += "B|" + b.binding.workspace_id + "|" + b.binding.exe_id + "|" + b.binding.name + "|" + b.binding.description +
             "|" + (b.binding.is_default ? "1" : "0") + "\n";
  }
  for (const auto& rv : w.store->load_revocations(now))
    out += "R|" + rv.turn_id + "|" + std::to_string(rv.expires_at) + "\n";
  return out;
}

bool is_registration(const api::Request& r) {
  return r.segments.size() == 4 && r.segments[0] == "cloud" && r.segments[3] == "register";
}

void check_response(const api::Request& req, const api::RouteResult& res, World& w) {
  FUZZ_CHECK(!res.route.empty());
  if (res.admission) {
    const auto& a = *res.admission;
    FUZZ_CHECK(req.method == "GET" && req.is_websocket_upgrade);
    FUZZ_CHECK(ids::is_valid_exe_id(a.exe_id));
    if (a.kind == api::WebsocketAdmission::Kind::bridge) {
      FUZZ_CHECK(res.route == "bridge_ws");
      FUZZ_CHECK(!a.workspace_id.empty() && !a.turn_id.empty() && a.turn_id != "turn-revoked");
      FUZZ_CHECK(w.store->binding_exists(a.workspace_id, a.exe_id));
    } else {
      FUZZ_CHECK(res.route == "executor_ws");
    }
    return;
  }
  const auto& r = res.response;
  FUZZ_CHECK(r.status >= 200 && r.status <= 599);
  if (r.status == 405) FUZZ_CHECK(r.headers.find("Allow") != nullptr);
  if (!r.body.empty() || r.status >= 400) FUZZ_CHECK(!r.content_type.empty());
  if (r.content_type.starts_with("application/json")) {
    boost::system::error_code ec;
    const auto v = json::parse(r.body, ec);
    if (ec) std::fprintf(stderr, "%s %s -> %d, body not JSON (%s): %s\n", req.method.c_str(), req.target.c_str(), r.status,
                         ec.message().c_str(), r.body.c_str());
    FUZZ_CHECK(!ec);
    if (r.status >= 400) {
      FUZZ_CHECK(v.is_object());
      const auto* err = v.as_object().if_contains("error");
      FUZZ_CHECK(err != nullptr && v.as_object().size() == 1);
      if (is_registration(req)) {
        FUZZ_CHECK(err->is_object() && err->as_object().if_contains("code") && err->as_object().if_contains("message"));
      } else {
        FUZZ_CHECK(err->is_string() && !err->as_string().empty());
      }
    }
  } else if (r.status >= 400) {
    FUZZ_CHECK(r.content_type == "text/plain; charset=utf-8");
    FUZZ_CHECK(r.body.size() > 1 && r.body.back() == '\n');
  }
  // JSON routes answer malformed or wrongly typed bodies with 400 in their own shape.
  if (r.status == 400 && is_registration(req)) FUZZ_CHECK(r.content_type.starts_with("application/json"));
  // Remember a registration's ticket for the next request (`...?token=<ticket>[&mode=json]`).
  if (r.status == 200 && is_registration(req)) {
    const auto v = json::parse(r.body);
    const std::string url(v.as_object().at("url").as_string());
    const auto at = url.find("?token=");
    FUZZ_CHECK(at != std::string::npos);
    w.last_ticket = url.substr(at + 7, url.find('&', at) - at - 7);
    FUZZ_CHECK(codec::verify_ws_ticket(kTicketKey, w.last_ticket, req.segments[2], w.clock.now_unix_s()).error ==
               codec::TicketError::none);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  World w(in);
  api::Router router(*w.services);
  for (int i = 0; i < 4 && in.remaining_bytes() > 0; ++i) {
    const api::Request req = make_request(in, w);
    const std::string before = state_of(w, req);
    const auto res = router.handle(req);  // must not throw
    check_response(req, res, w);
    // Z1: a refused request changes nothing.
    if (!res.admission && res.response.status >= 400) FUZZ_CHECK(state_of(w, req) == before);
    w.clock.advance_ms(in.ConsumeIntegralInRange(0, 2000));
  }
  return 0;
}
