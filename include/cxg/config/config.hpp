#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cxg::config {

using std::chrono::milliseconds;

// "<VAR>: <problem>" or "<VAR> is required"; startup prints it and exits non-zero.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class StoreKind { sqlite, postgres };
enum class ValidatorKind { agentserver, static_tokens, jwks };

struct DatabaseLocation {
  StoreKind kind = StoreKind::sqlite;
  std::string url;          // as configured
  std::string sqlite_path;  // ":memory:" or a filesystem path (sqlite only)
  // Directory holding cxg-secrets.env / cxg-tokens beside the database (sqlite only; "." for :memory:).
  std::string sqlite_dir;
};

struct Config {
  // Listener
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 6060;
  std::string tls_cert_file, tls_key_file;

  DatabaseLocation database;

  // Secrets (after zero-configuration generation they are never empty, except
  // agentserver_internal_secret, whose emptiness means dev mode).
  std::string captoken_hmac_secret;
  std::string internal_shared_secret;
  std::string agentserver_internal_secret;
  std::string agentserver_internal_url;
  std::string ws_ticket_secret;  // effective ticket key (falls back to agentserver secret)
  milliseconds ws_ticket_ttl{std::chrono::minutes(5)};
  std::vector<std::string> generated_secrets;  // names of the variables generated this start

  std::string public_ws_base_url;

  ValidatorKind auth_validator = ValidatorKind::static_tokens;
  milliseconds auth_cache_ttl{std::chrono::seconds(60)};
  std::string static_tokens_file;
  std::string jwks_file, jwks_url;
  milliseconds jwks_refresh{std::chrono::hours(1)};
  milliseconds jwks_leeway{std::chrono::seconds(60)};
  std::string jwks_issuer, jwks_audience;
  std::string jwks_user_claim = "https://api.openai.com/auth.chatgpt_account_id";
  bool register_auto_create = false;

  std::vector<std::string> allowed_origins;

  milliseconds ping_interval{std::chrono::seconds(30)};
  milliseconds idle_timeout{std::chrono::seconds(90)};
  milliseconds write_timeout{std::chrono::seconds(30)};
  milliseconds first_frame_timeout{std::chrono::seconds(10)};
  std::uint64_t max_bridge_message_bytes = 32ull << 20;
  std::uint64_t max_executor_message_bytes = 64ull << 20;
  std::uint64_t max_streams_per_executor = 64;
  std::uint64_t bridge_queue_bytes = 16ull << 20;
  std::uint64_t stream_inflight_bytes = 4ull << 20;

  milliseconds revocation_default_ttl{std::chrono::hours(24)};
  milliseconds revocation_prune_interval{std::chrono::minutes(10)};

  milliseconds shutdown_timeout{std::chrono::seconds(30)};
  std::string log_level = "info";

  std::string replica_id;
  std::string peer_url, peer_secret;

  // Warnings to log once logging is up (ignored reference-only variables, peer on sqlite...).
  std::vector<std::string> warnings;
};

// Reads CXG_* variables through `getenv` (injectable for tests); `overrides` maps a
// variable name to a value given on the command line and wins over the environment.
// A variable set to "" counts as unset. Secret generation is not done here (see
// secrets_file.hpp): fields stay empty.
// `env_names` lists the names of the set variables; it is only used to warn about the
// prefix-matched reference-only variables (CXG_RELAY_*, CXG_AUDIT_*), which a lookup
// function cannot enumerate. With process_env() and no list, the process environment's
// names are used automatically.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
Config load_config(const EnvLookup& getenv, const std::map<std::string, std::string>& overrides = {},
                   const std::vector<std::string>& env_names = {});
EnvLookup process_env();
std::vector<std::string> process_env_names();

// Parses CXG_DATABASE_URL; throws ConfigError naming CXG_DATABASE_URL.
DatabaseLocation parse_database_url(const std::string& url);

}  // namespace cxg::config
