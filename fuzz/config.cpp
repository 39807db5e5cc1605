// The configuration parser (http-api.md §5): load_config() with a fuzzed environment. The
// input is `NAME=VALUE` lines (environment) and `!NAME=VALUE` lines (command-line overrides).
// A bad value must end in ConfigError naming a CXG_ variable and never quoting a secret (each
// secret gets a marker prefix, which no message may contain); any other exception is a bug. An accepted configuration keeps every documented bound.
#include <map>
#include <string>
#include <vector>

#include "cxg/config/config.hpp"
#include "fuzz_common.hpp"

namespace config = cxg::config;

namespace {

constexpr std::string_view kMarker = "\x7fsecret:";

bool is_secret_var(const std::string& name) { return name.ends_with("_SECRET") || name == "CXG_NOISE_RELAY_HMAC_KEY"; }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::map<std::string, std::string> env, overrides;
  std::vector<std::string> names;
  std::string_view text = cxg::fuzz::as_view(data, size);
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    const bool is_override = line.starts_with('!');
    if (is_override) line.remove_prefix(1);
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(line.substr(0, eq)), value(line.substr(eq + 1));
    // Names and non-secret values are echoed in errors: keep the marker unambiguous.
    if (name.find('\x7f') != std::string::npos || value.find('\x7f') != std::string::npos) return 0;
    if (is_secret_var(name) && !value.empty()) value = std::string(kMarker) + value;  // secrets are opaque text
    if (is_override) {
      overrides[name] = value;
    } else {
      env[name] = value;
      names.push_back(name);
    }
  }
  const config::EnvLookup lookup = [&](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };

  config::Config cfg;
  try {
    cfg = config::load_config(lookup, overrides, names);
  } catch (const config::ConfigError& e) {
    const std::string what = e.what();
    FUZZ_CHECK(what.starts_with("CXG_"));
    FUZZ_CHECK(what.find(kMarker) == std::string::npos);
    return 0;
  }

  using std::chrono::milliseconds;
  for (const milliseconds d : {cfg.ws_ticket_ttl, cfg.jwks_refresh, cfg.ping_interval, cfg.idle_timeout,
                               cfg.write_timeout, cfg.first_frame_timeout, cfg.revocation_default_ttl,
                               cfg.revocation_prune_interval})
    FUZZ_CHECK(d.count() > 0);
  for (const milliseconds d : {cfg.auth_cache_ttl, cfg.jwks_leeway, cfg.shutdown_timeout}) FUZZ_CHECK(d.count() >= 0);
  for (const std::uint64_t n : {cfg.max_bridge_message_bytes, cfg.max_executor_message_bytes, cfg.max_streams_per_executor,
                                cfg.bridge_queue_bytes, cfg.stream_inflight_bytes})
    FUZZ_CHECK(n > 0);
  FUZZ_CHECK(!cfg.listen_host.empty());
  FUZZ_CHECK(!cfg.database.url.empty());
  if (cfg.database.kind == config::StoreKind::sqlite) FUZZ_CHECK(!cfg.database.sqlite_path.empty() && !cfg.database.sqlite_dir.empty());
  FUZZ_CHECK(cfg.log_level == "debug" || cfg.log_level == "info" || cfg.log_level == "warn" || cfg.log_level == "error");
  FUZZ_CHECK(!cfg.replica_id.empty());
  if (cfg.auth_validator == config::ValidatorKind::jwks) FUZZ_CHECK(cfg.jwks_file.empty() != cfg.jwks_url.empty());
  if (cfg.auth_validator == config::ValidatorKind::agentserver) FUZZ_CHECK(!cfg.agentserver_internal_url.empty());
  if (cfg.auth_validator == config::ValidatorKind::static_tokens) FUZZ_CHECK(!cfg.static_tokens_file.empty());
  FUZZ_CHECK(cfg.tls_cert_file.empty() == cfg.tls_key_file.empty());
  for (const auto& w : cfg.warnings) FUZZ_CHECK(w.find(kMarker) == std::string::npos);
  // The database URL parser on its own, with the same contract.
  try {
    const auto db = config::parse_database_url(cfg.database.url);
    FUZZ_CHECK(db.kind == cfg.database.kind && db.sqlite_path == cfg.database.sqlite_path);
  } catch (const config::ConfigError&) {
    FUZZ_CHECK(false);  // it was accepted a moment ago
  }
  return 0;
}
