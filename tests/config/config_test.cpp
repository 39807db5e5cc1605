#include "cxg/config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>

namespace cxg::config {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Vars = std::map<std::string, std::string>;

EnvLookup fake_env(Vars vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Config load(const Vars& env, const Vars& overrides = {}, const std::vector<std::string>& names = {}) {
  return load_config(fake_env(env), overrides, names);
}

// The ConfigError message, or "" if loading succeeded.
std::string error_of(const Vars& env, const Vars& overrides = {}) {
  try {
    load(env, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, Defaults) {
  const Config cfg = load({});
  EXPECT_EQ(cfg.listen_host, "0.0.0.0");
  EXPECT_EQ(cfg.listen_port, 6060);
  EXPECT_EQ(cfg.database.kind, StoreKind::sqlite);
  EXPECT_EQ(cfg.database.url, "sqlite://./cxg.db");
  EXPECT_EQ(cfg.database.sqlite_path, "./cxg.db");
  EXPECT_EQ(cfg.database.sqlite_dir, ".");
  EXPECT_EQ(cfg.auth_validator, ValidatorKind::static_tokens);
  EXPECT_EQ(cfg.static_tokens_file, "./cxg-tokens");
  EXPECT_EQ(cfg.captoken_hmac_secret, "");
  EXPECT_EQ(cfg.ws_ticket_secret, "");
  EXPECT_TRUE(cfg.generated_secrets.empty());
  EXPECT_EQ(cfg.ws_ticket_ttl, milliseconds(5min));
  EXPECT_EQ(cfg.auth_cache_ttl, milliseconds(60s));
  EXPECT_EQ(cfg.jwks_refresh, milliseconds(1h));
  EXPECT_EQ(cfg.jwks_leeway, milliseconds(60s));
  EXPECT_EQ(cfg.jwks_user_claim, "https://api.openai.com/auth.chatgpt_account_id");
  EXPECT_FALSE(cfg.register_auto_create);
  EXPECT_TRUE(cfg.allowed_origins.empty());
  EXPECT_EQ(cfg.ping_interval, milliseconds(30s));
  EXPECT_EQ(cfg.idle_timeout, milliseconds(90s));
  EXPECT_EQ(cfg.write_timeout, milliseconds(30s));
  EXPECT_EQ(cfg.first_frame_timeout, milliseconds(10s));
  EXPECT_EQ(cfg.max_bridge_message_bytes, 32u << 20);
  EXPECT_EQ(cfg.max_executor_message_bytes, 64u << 20);
  EXPECT_EQ(cfg.max_streams_per_executor, 64u);
  EXPECT_EQ(cfg.bridge_queue_bytes, 16u << 20);
  EXPECT_EQ(cfg.stream_inflight_bytes, 4u << 20);
  EXPECT_EQ(cfg.revocation_default_ttl, milliseconds(24h));
  EXPECT_EQ(cfg.revocation_prune_interval, milliseconds(10min));
  EXPECT_EQ(cfg.shutdown_timeout, milliseconds(30s));
  EXPECT_EQ(cfg.log_level, "info");
  EXPECT_TRUE(std::regex_match(cfg.replica_id, std::regex(".+-[0-9a-f]{4}"))) << cfg.replica_id;
  EXPECT_EQ(cfg.peer_url, "");
  EXPECT_EQ(cfg.peer_secret, "");
}

TEST(Config, ReplicaIdDefaultsDifferAndExplicitWins) {
  EXPECT_EQ(load({{"CXG_REPLICA_ID", "r1"}}).replica_id, "r1");
  // Random 4-hex suffix: 20 draws are very unlikely to all collide.
  const std::string first = load({}).replica_id;
  bool differs = false;
  for (int i = 0; i < 20 && !differs; ++i) differs = load({}).replica_id != first;
  EXPECT_TRUE(differs);
}

TEST(Config, DevModeWarning) {
  EXPECT_THAT(load({}).warnings, Contains(StartsWith("CXG_AGENTSERVER_INTERNAL_SECRET: empty (dev mode)")));
  EXPECT_THAT(load({{"CXG_AGENTSERVER_INTERNAL_SECRET", "s"}}).warnings,
              Not(Contains(StartsWith("CXG_AGENTSERVER_INTERNAL_SECRET"))));
}

// ---- listener ----------------------------------------------------------------------------

TEST(Config, ListenForms) {
  Config cfg = load({{"CXG_LISTEN", "127.0.0.1:7070"}});
  EXPECT_EQ(cfg.listen_host, "127.0.0.1");
  EXPECT_EQ(cfg.listen_port, 7070);
  cfg = load({{"CXG_LISTEN", "[::1]:6060"}});
  EXPECT_EQ(cfg.listen_host, "::1");
  EXPECT_EQ(cfg.listen_port, 6060);
  cfg = load({{"CXG_LISTEN", ":8080"}});
  EXPECT_EQ(cfg.listen_host, "0.0.0.0");
  EXPECT_EQ(cfg.listen_port, 8080);
  cfg = load({{"CXG_LISTEN", "localhost:0"}});  // ephemeral port, for tests
  EXPECT_EQ(cfg.listen_host, "localhost");
  EXPECT_EQ(cfg.listen_port, 0);
}

TEST(Config, ListenErrors) {
  for (std::string bad : {"6060", "::1:6060", "[::1]6060", "[::1", "host:", "host:65536", "host:abc", "host:-1",
                          "host:123456"})
    EXPECT_THAT(error_of({{"CXG_LISTEN", bad}}), StartsWith("CXG_LISTEN: ")) << bad;
}

TEST(Config, PortFallback) {
  Config cfg = load({{"CXG_PORT", "7000"}});
  EXPECT_EQ(cfg.listen_host, "0.0.0.0");
  EXPECT_EQ(cfg.listen_port, 7000);
  cfg = load({{"CXG_PORT", "7000"}, {"CXG_LISTEN", "127.0.0.1:7001"}});
  EXPECT_EQ(cfg.listen_port, 7001);
  EXPECT_THAT(error_of({{"CXG_PORT", "abc"}}), StartsWith("CXG_PORT: "));
}

TEST(Config, TlsNeedsBothFiles) {
  EXPECT_EQ(error_of({{"CXG_TLS_CERT_FILE", "c.pem"}}), "CXG_TLS_KEY_FILE is required");
  EXPECT_EQ(error_of({{"CXG_TLS_KEY_FILE", "k.pem"}}), "CXG_TLS_CERT_FILE is required");
  const Config cfg = load({{"CXG_TLS_CERT_FILE", "c.pem"}, {"CXG_TLS_KEY_FILE", "k.pem"}});
  EXPECT_EQ(cfg.tls_cert_file, "c.pem");
  EXPECT_EQ(cfg.tls_key_file, "k.pem");
}

// ---- value errors ------------------------------------------------------------------------

TEST(Config, InvalidValueNamesTheVariable) {
  EXPECT_THAT(error_of({{"CXG_PING_INTERVAL", "abc"}}), StartsWith("CXG_PING_INTERVAL: "));
  EXPECT_THAT(error_of({{"CXG_PING_INTERVAL", "abc"}}), HasSubstr("invalid duration"));
  EXPECT_EQ(error_of({{"CXG_PING_INTERVAL", "0"}}), "CXG_PING_INTERVAL: must be greater than 0");
  EXPECT_THAT(error_of({{"CXG_IDLE_TIMEOUT", "-5s"}}), StartsWith("CXG_IDLE_TIMEOUT: "));
  EXPECT_THAT(error_of({{"CXG_WS_TICKET_TTL", "0s"}}), StartsWith("CXG_WS_TICKET_TTL: "));
  EXPECT_THAT(error_of({{"CXG_MAX_BRIDGE_MESSAGE_BYTES", "32MB"}}), StartsWith("CXG_MAX_BRIDGE_MESSAGE_BYTES: "));
  EXPECT_EQ(error_of({{"CXG_BRIDGE_QUEUE_BYTES", "0"}}), "CXG_BRIDGE_QUEUE_BYTES: must be greater than 0");
  EXPECT_THAT(error_of({{"CXG_MAX_STREAMS_PER_EXECUTOR", "1KiB"}}), StartsWith("CXG_MAX_STREAMS_PER_EXECUTOR: "));
  EXPECT_THAT(error_of({{"CXG_MAX_STREAMS_PER_EXECUTOR", "0"}}), StartsWith("CXG_MAX_STREAMS_PER_EXECUTOR: "));
  EXPECT_THAT(error_of({{"CXG_REGISTER_AUTO_CREATE", "maybe"}}), StartsWith("CXG_REGISTER_AUTO_CREATE: "));
  EXPECT_EQ(error_of({{"CXG_LOG_LEVEL", "verbose"}}), "CXG_LOG_LEVEL: must be debug, info, warn or error");
  EXPECT_THAT(error_of({{"CXG_LOG_LEVEL", "warning"}}), StartsWith("CXG_LOG_LEVEL: "));
  EXPECT_THAT(error_of({{"CXG_PUBLIC_WS_BASE_URL", "https://gw.example"}}), StartsWith("CXG_PUBLIC_WS_BASE_URL: "));
}

TEST(Config, ZeroAllowedWhereItMeansSomething) {
  EXPECT_EQ(load({{"CXG_AUTH_CACHE_TTL", "0"}}).auth_cache_ttl, milliseconds(0));
  EXPECT_EQ(load({{"CXG_JWKS_LEEWAY", "0s"}}).jwks_leeway, milliseconds(0));
  EXPECT_EQ(load({{"CXG_SHUTDOWN_TIMEOUT", "0"}}).shutdown_timeout, milliseconds(0));
}

TEST(Config, ParsedValues) {
  const Config cfg = load({{"CXG_PING_INTERVAL", "250ms"},
                           {"CXG_IDLE_TIMEOUT", "1m30s"},
                           {"CXG_MAX_EXECUTOR_MESSAGE_BYTES", "1GiB"},
                           {"CXG_MAX_STREAMS_PER_EXECUTOR", "2"},
                           {"CXG_STREAM_INFLIGHT_BYTES", "65536"},
                           {"CXG_REGISTER_AUTO_CREATE", "yes"},
                           {"CXG_LOG_LEVEL", "debug"},
                           {"CXG_REVOCATION_DEFAULT_TTL", "1h"}});
  EXPECT_EQ(cfg.ping_interval, milliseconds(250));
  EXPECT_EQ(cfg.idle_timeout, milliseconds(90s));
  EXPECT_EQ(cfg.max_executor_message_bytes, 1u << 30);
  EXPECT_EQ(cfg.max_streams_per_executor, 2u);
  EXPECT_EQ(cfg.stream_inflight_bytes, 65536u);
  EXPECT_TRUE(cfg.register_auto_create);
  EXPECT_EQ(cfg.log_level, "debug");
  EXPECT_EQ(cfg.revocation_default_ttl, milliseconds(1h));
}

TEST(Config, EmptyValueCountsAsUnset) {
  const Config cfg = load({{"CXG_PING_INTERVAL", ""}, {"CXG_LISTEN", ""}, {"CXG_LOG_LEVEL", ""}});
  EXPECT_EQ(cfg.ping_interval, milliseconds(30s));
  EXPECT_EQ(cfg.listen_port, 6060);
  EXPECT_EQ(cfg.log_level, "info");
}

TEST(Config, OverridesWinOverEnvironment) {
  const Config cfg = load({{"CXG_LISTEN", "127.0.0.1:1"}, {"CXG_PING_INTERVAL", "abc"}},
                          {{"CXG_LISTEN", "127.0.0.1:2"}, {"CXG_PING_INTERVAL", "5s"}});
  EXPECT_EQ(cfg.listen_port, 2);
  EXPECT_EQ(cfg.ping_interval, milliseconds(5s));
  EXPECT_THAT(error_of({}, {{"CXG_IDLE_TIMEOUT", "x"}}), StartsWith("CXG_IDLE_TIMEOUT: "));
}

TEST(Config, AllowedOriginsAreTrimmed) {
  const Config cfg = load({{"CXG_ALLOWED_ORIGINS", " https://a.example , https://b.example,,\thttps://c.example "}});
  EXPECT_EQ(cfg.allowed_origins,
            (std::vector<std::string>{"https://a.example", "https://b.example", "https://c.example"}));
}

TEST(Config, BaseUrlsLoseTrailingSlash) {
  const Config cfg = load({{"CXG_PUBLIC_WS_BASE_URL", "wss://gw.example:443/"},
                           {"CXG_AGENTSERVER_INTERNAL_URL", "http://agentserver:8080/"}});
  EXPECT_EQ(cfg.public_ws_base_url, "wss://gw.example:443");
  EXPECT_EQ(cfg.agentserver_internal_url, "http://agentserver:8080");
}

// ---- database ----------------------------------------------------------------------------

TEST(DatabaseUrl, SqliteForms) {
  DatabaseLocation db = parse_database_url("sqlite://./cxg.db");
  EXPECT_EQ(db.kind, StoreKind::sqlite);
  EXPECT_EQ(db.sqlite_path, "./cxg.db");
  EXPECT_EQ(db.sqlite_dir, ".");
  db = parse_database_url("sqlite:///var/lib/cxg/cxg.db");
  EXPECT_EQ(db.sqlite_path, "/var/lib/cxg/cxg.db");
  EXPECT_EQ(db.sqlite_dir, "/var/lib/cxg");
  db = parse_database_url("sqlite:///cxg.db");
  EXPECT_EQ(db.sqlite_dir, "/");
  db = parse_database_url("sqlite://data/cxg.db");
  EXPECT_EQ(db.sqlite_path, "data/cxg.db");
  EXPECT_EQ(db.sqlite_dir, "data");
  db = parse_database_url("sqlite://cxg.db");
  EXPECT_EQ(db.sqlite_dir, ".");
  db = parse_database_url("sqlite://:memory:");
  EXPECT_EQ(db.sqlite_path, ":memory:");
  EXPECT_EQ(db.sqlite_dir, ".");
  EXPECT_EQ(db.url, "sqlite://:memory:");
}

TEST(DatabaseUrl, PostgresForms) {
  for (std::string url : {"postgres://u:p@db:5432/cxg", "postgresql://db/cxg?sslmode=require"}) {
    const DatabaseLocation db = parse_database_url(url);
    EXPECT_EQ(db.kind, StoreKind::postgres);
    EXPECT_EQ(db.url, url);
    EXPECT_EQ(db.sqlite_path, "");
  }
}

TEST(DatabaseUrl, ErrorsNameTheVariableAndHideTheValue) {
  for (std::string bad : {"mysql://u:hunter2@db/cxg", "sqlite://", "sqlite:/x.db", "./cxg.db", "POSTGRES://x"}) {
    try {
      parse_database_url(bad);
      ADD_FAILURE() << bad;
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), StartsWith("CXG_DATABASE_URL: "));
      EXPECT_THAT(e.what(), Not(HasSubstr("hunter2")));
    }
  }
  EXPECT_THAT(error_of({{"CXG_DATABASE_URL", "mysql://x"}}), StartsWith("CXG_DATABASE_URL: "));
}

// ---- validators ----------------------------------------------------------------------------

TEST(Config, ValidatorDefaults) {
  EXPECT_EQ(load({}).auth_validator, ValidatorKind::static_tokens);
  EXPECT_EQ(load({{"CXG_AGENTSERVER_INTERNAL_URL", "http://as:8080"}}).auth_validator, ValidatorKind::agentserver);
  EXPECT_EQ(load({{"CXG_AGENTSERVER_INTERNAL_URL", "http://as:8080"}, {"CXG_AUTH_VALIDATOR", "static"}}).auth_validator,
            ValidatorKind::static_tokens);
}

TEST(Config, ValidatorRequirements) {
  EXPECT_EQ(error_of({{"CXG_AUTH_VALIDATOR", "agentserver"}}), "CXG_AGENTSERVER_INTERNAL_URL is required");
  EXPECT_THAT(error_of({{"CXG_AUTH_VALIDATOR", "oauth"}}), StartsWith("CXG_AUTH_VALIDATOR: "));
  EXPECT_THAT(error_of({{"CXG_AUTH_VALIDATOR", "jwks"}}), StartsWith("CXG_JWKS_FILE: "));
  EXPECT_THAT(error_of({{"CXG_AUTH_VALIDATOR", "jwks"}, {"CXG_JWKS_FILE", "k.json"}, {"CXG_JWKS_URL", "https://x"}}),
              StartsWith("CXG_JWKS_URL: "));
  EXPECT_THAT(error_of({{"CXG_AGENTSERVER_INTERNAL_URL", "agentserver:8080"}}),
              StartsWith("CXG_AGENTSERVER_INTERNAL_URL: "));
  const Config jwks = load({{"CXG_AUTH_VALIDATOR", "jwks"}, {"CXG_JWKS_URL", "https://idp/jwks.json"},
                            {"CXG_JWKS_ISSUER", "iss"}, {"CXG_JWKS_AUDIENCE", "aud"}});
  EXPECT_EQ(jwks.auth_validator, ValidatorKind::jwks);
  EXPECT_EQ(jwks.jwks_url, "https://idp/jwks.json");
  EXPECT_EQ(jwks.jwks_issuer, "iss");
  EXPECT_EQ(jwks.jwks_audience, "aud");
}

TEST(Config, StaticTokensFile) {
  EXPECT_EQ(load({{"CXG_DATABASE_URL", "sqlite:///var/lib/cxg/cxg.db"}}).static_tokens_file, "/var/lib/cxg/cxg-tokens");
  EXPECT_EQ(load({{"CXG_DATABASE_URL", "sqlite://:memory:"}}).static_tokens_file, "./cxg-tokens");
  EXPECT_EQ(load({{"CXG_STATIC_TOKENS_FILE", "/etc/cxg/tokens"}}).static_tokens_file, "/etc/cxg/tokens");
  EXPECT_EQ(error_of({{"CXG_DATABASE_URL", "postgres://db/cxg"}}), "CXG_STATIC_TOKENS_FILE is required");
  // With another validator PostgreSQL needs no token file.
  EXPECT_EQ(error_of({{"CXG_DATABASE_URL", "postgres://db/cxg"}, {"CXG_AGENTSERVER_INTERNAL_URL", "http://as"}}), "");
}

// ---- secrets -----------------------------------------------------------------------------

TEST(Config, TicketKeyFallback) {
  EXPECT_EQ(load({{"CXG_AGENTSERVER_INTERNAL_SECRET", "admin"}}).ws_ticket_secret, "admin");
  EXPECT_EQ(load({{"CXG_AGENTSERVER_INTERNAL_SECRET", "admin"}, {"CXG_WS_TICKET_SECRET", "ticket"}}).ws_ticket_secret,
            "ticket");
  EXPECT_EQ(load({{"CXG_WS_TICKET_SECRET", "ticket"}}).ws_ticket_secret, "ticket");
  EXPECT_EQ(load({}).ws_ticket_secret, "");
}

TEST(Config, SecretsAreCopied) {
  const Config cfg = load({{"CXG_CAPTOKEN_HMAC_SECRET", "cap"}, {"CXG_INTERNAL_SHARED_SECRET", "shared"}});
  EXPECT_EQ(cfg.captoken_hmac_secret, "cap");
  EXPECT_EQ(cfg.internal_shared_secret, "shared");
}

// ---- replicas and ignored variables --------------------------------------------------------

TEST(Config, PeerVariablesIgnoredOnSqlite) {
  const Config cfg = load({{"CXG_PEER_URL", "http://r1:6060"}, {"CXG_PEER_SECRET", "peer"}});
  EXPECT_EQ(cfg.peer_url, "");
  EXPECT_EQ(cfg.peer_secret, "");
  EXPECT_THAT(cfg.warnings, Contains(StartsWith("CXG_PEER_URL: ignored")));
  EXPECT_THAT(cfg.warnings, Contains(StartsWith("CXG_PEER_SECRET: ignored")));
}

TEST(Config, PeerOnPostgres) {
  const Vars pg{{"CXG_DATABASE_URL", "postgres://db/cxg"}, {"CXG_AGENTSERVER_INTERNAL_URL", "http://as"}};
  Vars env = pg;
  env["CXG_PEER_URL"] = "http://r1:6060/";
  env["CXG_PEER_SECRET"] = "peer";
  const Config cfg = load(env);
  EXPECT_EQ(cfg.peer_url, "http://r1:6060");
  EXPECT_EQ(cfg.peer_secret, "peer");
  env.erase("CXG_PEER_URL");
  EXPECT_EQ(error_of(env), "CXG_PEER_URL is required");
}

TEST(Config, ReferenceOnlyVariablesWarn) {
  const Vars env{{"CXG_PUBLIC_HTTPS_BASE_URL", "https://x"},
                 {"CXG_NOISE_RELAY_HMAC_KEY", "k"},
                 {"CXG_RELAY_MAX_CONNS", "5"},
                 {"CXG_AUDIT_BUCKET", "b"},
                 {"CXG_RELAYED", "not a prefix match"}};
  std::vector<std::string> names;
  for (const auto& [name, value] : env) names.push_back(name);
  const Config cfg = load(env, {{"CXG_SELF_HTTP_BASE_URL", "http://me"}}, names);
  for (const char* var : {"CXG_PUBLIC_HTTPS_BASE_URL", "CXG_NOISE_RELAY_HMAC_KEY", "CXG_RELAY_MAX_CONNS",
                          "CXG_AUDIT_BUCKET", "CXG_SELF_HTTP_BASE_URL"})
    EXPECT_THAT(cfg.warnings, Contains(std::string(var) + ": ignored (used only by the reference gateway)")) << var;
  EXPECT_THAT(cfg.warnings, Not(Contains(StartsWith("CXG_RELAYED"))));
  // Without the name list, exact names are still found through the lookup.
  EXPECT_THAT(load(env).warnings, Contains(StartsWith("CXG_NOISE_RELAY_HMAC_KEY: ignored")));
}

TEST(Config, ProcessEnvironment) {
  ASSERT_EQ(::setenv("CXG_AUDIT_TEST_ONLY_VAR", "1", 1), 0);
  ASSERT_EQ(::setenv("CXG_TEST_ONLY_PING", "7s", 1), 0);
  EXPECT_EQ(process_env()("CXG_TEST_ONLY_PING"), std::optional<std::string>("7s"));
  EXPECT_EQ(process_env()("CXG_TEST_ONLY_UNSET_VAR"), std::nullopt);
  EXPECT_THAT(process_env_names(), Contains("CXG_AUDIT_TEST_ONLY_VAR"));
  EXPECT_THAT(load_config(process_env(), {}, process_env_names()).warnings,
              Contains(StartsWith("CXG_AUDIT_TEST_ONLY_VAR: ignored")));
  // process_env() without a name list scans the environment itself.
  EXPECT_THAT(load_config(process_env()).warnings, Contains(StartsWith("CXG_AUDIT_TEST_ONLY_VAR: ignored")));
  // Another lookup without a name list cannot know prefix-matched names.
  EXPECT_THAT(load_config(fake_env({{"CXG_AUDIT_X", "1"}})).warnings, Not(Contains(StartsWith("CXG_AUDIT_X"))));
  ::unsetenv("CXG_AUDIT_TEST_ONLY_VAR");
  ::unsetenv("CXG_TEST_ONLY_PING");
}

}  // namespace
}  // namespace cxg::config
