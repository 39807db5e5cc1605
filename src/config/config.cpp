#include "cxg/config/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <set>
#include <string_view>

#include "cxg/common/crypto.hpp"
#include "cxg/common/encoding.hpp"
#include "cxg/config/values.hpp"

namespace cxg::config {
namespace {

constexpr const char* kDefaultDatabaseUrl = "sqlite://./cxg.db";

[[noreturn]] void fail(const std::string& var, const std::string& problem) {
  throw ConfigError(var + ": " + problem);
}
[[noreturn]] void require(const std::string& var) { throw ConfigError(var + " is required"); }

enum class Zero { allowed, rejected };

// One place that decides where a value comes from: command-line override, then the
// environment; an empty value counts as unset (compose files often export VAR=).
class Source {
 public:
  Source(const EnvLookup& env, const std::map<std::string, std::string>& overrides)
      : env_(env), overrides_(overrides) {}

  std::optional<std::string> get(const std::string& var) const {
    const auto it = overrides_.find(var);
    std::optional<std::string> value = it != overrides_.end() ? std::optional(it->second) : env_(var);
    if (value && value->empty()) return std::nullopt;
    return value;
  }
  std::string text(const std::string& var, std::string fallback = "") const {
    return get(var).value_or(std::move(fallback));
  }
  // Values below are echoed in errors: none of these variables holds a secret.
  std::chrono::milliseconds duration(const std::string& var, std::chrono::milliseconds fallback, Zero zero) const {
    const auto raw = get(var);
    if (!raw) return fallback;
    const auto value = parse_duration(*raw);
    if (!value) fail(var, "invalid duration \"" + *raw + "\" (expected e.g. 250ms, 30s, 5m, 1h30m)");
    if (zero == Zero::rejected && value->count() == 0) fail(var, "must be greater than 0");
    return *value;
  }
  std::uint64_t size(const std::string& var, std::uint64_t fallback) const {
    const auto raw = get(var);
    if (!raw) return fallback;
    const auto value = parse_size(*raw);
    if (!value) fail(var, "invalid size \"" + *raw + "\" (expected bytes with an optional KiB, MiB or GiB suffix)");
    if (*value == 0) fail(var, "must be greater than 0");
    return *value;
  }
  std::uint64_t count(const std::string& var, std::uint64_t fallback) const {
    const auto raw = get(var);
    if (!raw) return fallback;
    // A count takes no size suffix; parse_size then only does the overflow-checked digits.
    const bool digits_only = std::all_of(raw->begin(), raw->end(), [](char c) { return c >= '0' && c <= '9'; });
    const auto value = digits_only ? parse_size(*raw) : std::nullopt;
    if (!value) fail(var, "invalid number \"" + *raw + "\"");
    if (*value == 0) fail(var, "must be greater than 0");
    return *value;
  }
  bool flag(const std::string& var, bool fallback) const {
    const auto raw = get(var);
    if (!raw) return fallback;
    const auto value = parse_bool(*raw);
    if (!value) fail(var, "invalid boolean \"" + *raw + "\" (expected true/false, 1/0, yes/no, on/off)");
    return *value;
  }

 private:
  const EnvLookup& env_;
  const std::map<std::string, std::string>& overrides_;
};

// ---- small text helpers ------------------------------------------------------------------

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::string strip_trailing_slashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

bool has_scheme(std::string_view url, std::initializer_list<std::string_view> schemes) {
  for (std::string_view scheme : schemes)
    if (url.starts_with(scheme) && url.size() > scheme.size()) return true;
  return false;
}

// A base URL used to build other URLs: must have one of `schemes` and a host; no echo of
// the value, which may carry credentials.
std::string base_url(const Source& src, const std::string& var, std::initializer_list<std::string_view> schemes,
                     const char* expected) {
  const auto raw = src.get(var);
  if (!raw) return {};
  if (!has_scheme(*raw, schemes)) fail(var, std::string("must start with ") + expected + " and name a host");
  return strip_trailing_slashes(*raw);
}

std::string path_join(const std::string& dir, const char* name) {
  return (dir.empty() || dir.back() == '/') ? dir + name : dir + "/" + name;
}

// ---- listener ----------------------------------------------------------------------------

std::uint16_t parse_port(const std::string& var, std::string_view text) {
  const bool digits = !text.empty() && text.size() <= 5 &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const long port = digits ? std::strtol(std::string(text).c_str(), nullptr, 10) : -1;
  if (port < 0 || port > 65535) fail(var, "invalid port \"" + std::string(text) + "\"");
  return static_cast<std::uint16_t>(port);
}

// "host:port", "[v6]:port" or ":port" (all interfaces). Port 0 asks for an ephemeral port.
void parse_listen(const std::string& text, Config& cfg) {
  const std::string var = "CXG_LISTEN";
  std::string_view host, port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      fail(var, "expected host:port or [ipv6]:port");
    host = std::string_view(text).substr(1, close - 1);
    port = std::string_view(text).substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) fail(var, "expected host:port or [ipv6]:port");
    host = std::string_view(text).substr(0, colon);
    port = std::string_view(text).substr(colon + 1);
    if (host.find(':') != std::string_view::npos) fail(var, "an IPv6 host must be written in brackets, e.g. [::1]:6060");
  }
  cfg.listen_host = host.empty() ? "0.0.0.0" : std::string(host);
  cfg.listen_port = parse_port(var, port);
}

void load_listener(const Source& src, Config& cfg) {
  if (const auto listen = src.get("CXG_LISTEN")) {
    parse_listen(*listen, cfg);
  } else if (const auto port = src.get("CXG_PORT")) {
    cfg.listen_host = "0.0.0.0";
    cfg.listen_port = parse_port("CXG_PORT", *port);
  }
  cfg.tls_cert_file = src.text("CXG_TLS_CERT_FILE");
  cfg.tls_key_file = src.text("CXG_TLS_KEY_FILE");
  if (!cfg.tls_cert_file.empty() && cfg.tls_key_file.empty()) require("CXG_TLS_KEY_FILE");
  if (cfg.tls_cert_file.empty() && !cfg.tls_key_file.empty()) require("CXG_TLS_CERT_FILE");
}

// ---- credentials and validators ----------------------------------------------------------

void load_secrets(const Source& src, Config& cfg) {
  cfg.captoken_hmac_secret = src.text("CXG_CAPTOKEN_HMAC_SECRET");
  cfg.internal_shared_secret = src.text("CXG_INTERNAL_SHARED_SECRET");
  cfg.agentserver_internal_secret = src.text("CXG_AGENTSERVER_INTERNAL_SECRET");
  // The fallback keeps edge proxies that verify reference tickets working (http-api §3.1).
  cfg.ws_ticket_secret = src.text("CXG_WS_TICKET_SECRET", cfg.agentserver_internal_secret);
  cfg.ws_ticket_ttl = src.duration("CXG_WS_TICKET_TTL", cfg.ws_ticket_ttl, Zero::rejected);
  cfg.agentserver_internal_url =
      base_url(src, "CXG_AGENTSERVER_INTERNAL_URL", {"http://", "https://"}, "http:// or https://");
  cfg.public_ws_base_url = base_url(src, "CXG_PUBLIC_WS_BASE_URL", {"ws://", "wss://"}, "ws:// or wss://");
  if (cfg.agentserver_internal_secret.empty())
    cfg.warnings.push_back(
        "CXG_AGENTSERVER_INTERNAL_SECRET: empty (dev mode): the admin API answers loopback clients only");
}

ValidatorKind parse_validator(const Source& src, const Config& cfg) {
  const auto name = src.get("CXG_AUTH_VALIDATOR");
  if (!name) return cfg.agentserver_internal_url.empty() ? ValidatorKind::static_tokens : ValidatorKind::agentserver;
  if (*name == "agentserver") return ValidatorKind::agentserver;
  if (*name == "static") return ValidatorKind::static_tokens;
  if (*name == "jwks") return ValidatorKind::jwks;
  fail("CXG_AUTH_VALIDATOR", "must be agentserver, static or jwks");
}

void load_static_tokens(const Source& src, Config& cfg) {
  cfg.static_tokens_file = src.text("CXG_STATIC_TOKENS_FILE");
  if (!cfg.static_tokens_file.empty()) return;
  if (cfg.database.kind == StoreKind::sqlite)
    cfg.static_tokens_file = path_join(cfg.database.sqlite_dir, "cxg-tokens");
  else if (cfg.auth_validator == ValidatorKind::static_tokens)
    require("CXG_STATIC_TOKENS_FILE");
}

void load_jwks(const Source& src, Config& cfg) {
  cfg.jwks_file = src.text("CXG_JWKS_FILE");
  cfg.jwks_url = src.text("CXG_JWKS_URL");
  cfg.jwks_refresh = src.duration("CXG_JWKS_REFRESH", cfg.jwks_refresh, Zero::rejected);
  cfg.jwks_leeway = src.duration("CXG_JWKS_LEEWAY", cfg.jwks_leeway, Zero::allowed);
  cfg.jwks_issuer = src.text("CXG_JWKS_ISSUER");
  cfg.jwks_audience = src.text("CXG_JWKS_AUDIENCE");
  cfg.jwks_user_claim = src.text("CXG_JWKS_USER_CLAIM", cfg.jwks_user_claim);
  if (cfg.auth_validator != ValidatorKind::jwks) return;
  if (cfg.jwks_file.empty() && cfg.jwks_url.empty())
    fail("CXG_JWKS_FILE", "CXG_JWKS_FILE or CXG_JWKS_URL is required with CXG_AUTH_VALIDATOR=jwks");
  if (!cfg.jwks_file.empty() && !cfg.jwks_url.empty())
    fail("CXG_JWKS_URL", "set only one of CXG_JWKS_FILE and CXG_JWKS_URL");
}

void load_auth(const Source& src, Config& cfg) {
  cfg.auth_validator = parse_validator(src, cfg);
  if (cfg.auth_validator == ValidatorKind::agentserver && cfg.agentserver_internal_url.empty())
    require("CXG_AGENTSERVER_INTERNAL_URL");
  cfg.auth_cache_ttl = src.duration("CXG_AUTH_CACHE_TTL", cfg.auth_cache_ttl, Zero::allowed);  // 0 = no cache
  load_static_tokens(src, cfg);
  load_jwks(src, cfg);
  cfg.register_auto_create = src.flag("CXG_REGISTER_AUTO_CREATE", cfg.register_auto_create);
}

// ---- websocket limits and timers ---------------------------------------------------------

std::vector<std::string> split_origins(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = trim(list.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

void load_transport(const Source& src, Config& cfg) {
  cfg.allowed_origins = split_origins(src.text("CXG_ALLOWED_ORIGINS"));
  cfg.ping_interval = src.duration("CXG_PING_INTERVAL", cfg.ping_interval, Zero::rejected);
  cfg.idle_timeout = src.duration("CXG_IDLE_TIMEOUT", cfg.idle_timeout, Zero::rejected);
  cfg.write_timeout = src.duration("CXG_WRITE_TIMEOUT", cfg.write_timeout, Zero::rejected);
  cfg.first_frame_timeout = src.duration("CXG_FIRST_FRAME_TIMEOUT", cfg.first_frame_timeout, Zero::rejected);
  cfg.max_bridge_message_bytes = src.size("CXG_MAX_BRIDGE_MESSAGE_BYTES", cfg.max_bridge_message_bytes);
  cfg.max_executor_message_bytes = src.size("CXG_MAX_EXECUTOR_MESSAGE_BYTES", cfg.max_executor_message_bytes);
  cfg.max_streams_per_executor = src.count("CXG_MAX_STREAMS_PER_EXECUTOR", cfg.max_streams_per_executor);
  cfg.bridge_queue_bytes = src.size("CXG_BRIDGE_QUEUE_BYTES", cfg.bridge_queue_bytes);
  cfg.stream_inflight_bytes = src.size("CXG_STREAM_INFLIGHT_BYTES", cfg.stream_inflight_bytes);
}

// ---- revocation, lifecycle, replicas -----------------------------------------------------

void load_lifecycle(const Source& src, Config& cfg) {
  cfg.revocation_default_ttl = src.duration("CXG_REVOCATION_DEFAULT_TTL", cfg.revocation_default_ttl, Zero::rejected);
  cfg.revocation_prune_interval =
      src.duration("CXG_REVOCATION_PRUNE_INTERVAL", cfg.revocation_prune_interval, Zero::rejected);
  // 0 is allowed: drain without waiting.
  cfg.shutdown_timeout = src.duration("CXG_SHUTDOWN_TIMEOUT", cfg.shutdown_timeout, Zero::allowed);
  cfg.log_level = src.text("CXG_LOG_LEVEL", cfg.log_level);
  if (cfg.log_level != "debug" && cfg.log_level != "info" && cfg.log_level != "warn" && cfg.log_level != "error")
    fail("CXG_LOG_LEVEL", "must be debug, info, warn or error");
}

std::string default_replica_id() {
  char host[HOST_NAME_MAX + 1] = {};
  std::string name = gethostname(host, sizeof host) == 0 && host[0] ? host : "cxg";
  // The suffix keeps two processes on one host (or a restarted one) distinct.
  return name + "-" + encoding::hex_encode(crypto::random_bytes(2));
}

void load_replica(const Source& src, Config& cfg) {
  cfg.replica_id = src.text("CXG_REPLICA_ID");
  if (cfg.replica_id.empty()) cfg.replica_id = default_replica_id();
  const auto url = base_url(src, "CXG_PEER_URL", {"http://", "https://", "ws://", "wss://"},
                            "http://, https://, ws:// or wss://");
  const auto secret = src.text("CXG_PEER_SECRET");
  if (cfg.database.kind == StoreKind::sqlite) {
    // SQLite means a single replica: there is no peer to talk to.
    for (const char* var : {"CXG_PEER_URL", "CXG_PEER_SECRET"})
      if (src.get(var)) cfg.warnings.push_back(std::string(var) + ": ignored with SQLite (single replica)");
    return;
  }
  if (!secret.empty() && url.empty()) require("CXG_PEER_URL");
  if (secret.empty() && !url.empty()) cfg.warnings.push_back("CXG_PEER_URL: ignored without CXG_PEER_SECRET");
  cfg.peer_url = secret.empty() ? "" : url;
  cfg.peer_secret = secret;
}

// ---- reference-only variables ------------------------------------------------------------

bool is_reference_only(std::string_view var) {
  static constexpr std::string_view kNames[] = {"CXG_PUBLIC_HTTPS_BASE_URL", "CXG_SELF_HTTP_BASE_URL",
                                                "CXG_NOISE_RELAY_HMAC_KEY"};
  static constexpr std::string_view kPrefixes[] = {"CXG_RELAY_", "CXG_AUDIT_"};
  if (std::find(std::begin(kNames), std::end(kNames), var) != std::end(kNames)) return true;
  return std::any_of(std::begin(kPrefixes), std::end(kPrefixes), [&](auto p) { return var.starts_with(p); });
}

void warn_reference_only(const Source& src, const std::map<std::string, std::string>& overrides,
                         const std::vector<std::string>& env_names, Config& cfg) {
  std::set<std::string> candidates(env_names.begin(), env_names.end());
  for (const auto& [name, value] : overrides) candidates.insert(name);
  // Exact names are found through the lookup even when the caller passed no name list.
  for (const char* name : {"CXG_PUBLIC_HTTPS_BASE_URL", "CXG_SELF_HTTP_BASE_URL", "CXG_NOISE_RELAY_HMAC_KEY"})
    candidates.insert(name);
  for (const auto& name : candidates)
    if (is_reference_only(name) && src.get(name))
      cfg.warnings.push_back(name + ": ignored (used only by the reference gateway)");
}

// A named type (not a lambda) so load_config can recognise it inside the EnvLookup.
struct ProcessEnvLookup {
  std::optional<std::string> operator()(const std::string& name) const {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  }
};

}  // namespace

DatabaseLocation parse_database_url(const std::string& url) {
  constexpr std::string_view kSqlite = "sqlite://";
  DatabaseLocation db;
  db.url = url;
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    db.kind = StoreKind::postgres;  // handed to libpq unchanged
    return db;
  }
  // The URL is never echoed: a mistyped PostgreSQL URL may carry a password.
  if (!url.starts_with(kSqlite)) fail("CXG_DATABASE_URL", "expected sqlite://, postgres:// or postgresql://");
  db.kind = StoreKind::sqlite;
  db.sqlite_path = url.substr(kSqlite.size());
  if (db.sqlite_path.empty()) fail("CXG_DATABASE_URL", "missing SQLite path (e.g. sqlite://./cxg.db)");
  if (db.sqlite_path == ":memory:") {
    db.sqlite_dir = ".";
    return db;
  }
  const auto slash = db.sqlite_path.rfind('/');
  db.sqlite_dir = slash == std::string::npos ? "." : slash == 0 ? "/" : db.sqlite_path.substr(0, slash);
  return db;
}

Config load_config(const EnvLookup& getenv, const std::map<std::string, std::string>& overrides,
                   const std::vector<std::string>& env_names) {
  const Source src(getenv, overrides);
  // With the real environment the names can be listed here, so callers need not pass them.
  const bool reads_process_env = getenv.target<ProcessEnvLookup>() != nullptr;
  const auto names = env_names.empty() && reads_process_env ? process_env_names() : env_names;
  Config cfg;
  // Table order of http-api §5, so the first problem reported is the topmost one.
  load_listener(src, cfg);
  cfg.database = parse_database_url(src.text("CXG_DATABASE_URL", kDefaultDatabaseUrl));
  load_secrets(src, cfg);
  load_auth(src, cfg);
  load_transport(src, cfg);
  load_lifecycle(src, cfg);
  load_replica(src, cfg);
  warn_reference_only(src, overrides, names, cfg);
  return cfg;
}

EnvLookup process_env() { return ProcessEnvLookup{}; }

std::vector<std::string> process_env_names() {
  std::vector<std::string> names;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string_view kv(*entry);
    names.emplace_back(kv.substr(0, kv.find('=')));
  }
  return names;
}

}  // namespace cxg::config
