#include "cli_common.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cxg/codec/cap_token.hpp"
#include "cxg/common/clock.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/config/config.hpp"
#include "cxg/config/secrets_file.hpp"
#include "cxg/config/values.hpp"

namespace cxg::cli {

std::string getenv_str(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string GatewayOptions::resolved_url() const {
  if (!url.empty()) return url;
  if (auto env = getenv_str("CXG_URL"); !env.empty()) return env;
  return "http://127.0.0.1:6060";
}

std::string GatewayOptions::resolved_ca_file() const { return ca_file.empty() ? getenv_str("CXG_CA_FILE") : ca_file; }

void add_gateway_options(CLI::App& cmd, GatewayOptions& o) {
  cmd.add_option("--cacert", o.ca_file, "CA bundle (PEM) to trust for an https/wss gateway, besides the system's [CXG_CA_FILE]");
  cmd.add_flag("-k,--insecure", o.insecure, "do not verify the gateway's TLS certificate");
  cmd.add_option("--url,--gateway", o.url, "gateway base URL, http(s):// or ws(s):// [CXG_URL, default http://127.0.0.1:6060]");
  cmd.add_option("--database", o.database,
                 "database URL whose cxg-secrets.env holds locally generated secrets [CXG_DATABASE_URL]");
}

void add_bridge_options(CLI::App& cmd, BridgeOptions& o) {
  add_gateway_options(cmd, o);
  cmd.add_option("--token", o.token, "cap-token for the bridge [CODEX_EXEC_GATEWAY_TOKEN]");
  cmd.add_option("-w,--workspace", o.workspace,
                 "mint a cap-token for this workspace with the gateway's key (CXG_CAPTOKEN_HMAC_SECRET or "
                 "cxg-secrets.env beside the database) instead of using CODEX_EXEC_GATEWAY_TOKEN");
  cmd.add_option("--token-ttl", o.ttl, "lifetime of a locally minted cap-token (default 1h)");
  cmd.add_flag("--relay", o.relay, "speak relay v1 (binary frames) instead of plain JSON-RPC text");
  cmd.add_option("--connect-timeout", o.connect_timeout, "connect + upgrade timeout (default 10s)");
  cmd.add_option("--wait-online", o.wait_online,
                 "keep retrying an offline (503) or busy (409) executor this long; a legacy 0.130 executor "
                 "reconnects about 1 s after each bridge (default 3s, 0 = no retry)");
}

std::string local_secret(const std::string& name, const std::string& database_flag) {
  if (auto env = getenv_str(name.c_str()); !env.empty()) return env;
  std::string url = database_flag;
  if (url.empty()) url = getenv_str("CXG_DATABASE_URL");
  if (url.empty()) url = "sqlite://./cxg.db";
  config::DatabaseLocation db;
  try {
    db = config::parse_database_url(url);
  } catch (const config::ConfigError&) {
    return {};
  }
  if (db.kind != config::StoreKind::sqlite) return {};
  try {
    const auto secrets = config::read_secrets_file(db.sqlite_dir);
    const auto it = secrets.find(name);
    return it == secrets.end() ? std::string() : it->second;
  } catch (const config::ConfigError&) {
    return {};
  }
}

std::chrono::milliseconds parse_duration_flag(const std::string& flag, const std::string& text, int exit_code) {
  const auto d = config::parse_duration(text);
  if (!d || d->count() < 0) throw CliError(flag + ": invalid duration '" + text + "' (e.g. 30s, 5m, 1h30m)", exit_code);
  return *d;
}

std::string resolve_cap_token(const BridgeOptions& o, int exit_code) {
  // Flags first (--token, then --workspace), then the environment.
  if (!o.token.empty()) return o.token;
  if (o.workspace.empty())
    if (auto env = getenv_str("CODEX_EXEC_GATEWAY_TOKEN"); !env.empty()) return env;
  if (o.workspace.empty())
    throw CliError("no cap-token: pass --token, set CODEX_EXEC_GATEWAY_TOKEN, or give --workspace W to mint one "
                   "with the gateway's key (beside a SQLite gateway)",
                   exit_code);
  const std::string key = local_secret("CXG_CAPTOKEN_HMAC_SECRET", o.database);
  if (key.empty())
    throw CliError("cannot mint a cap-token for workspace " + o.workspace +
                       ": CXG_CAPTOKEN_HMAC_SECRET is not set and no cxg-secrets.env was found beside the database "
                       "(--database / CXG_DATABASE_URL)",
                   exit_code);
  const auto ttl = parse_duration_flag("--token-ttl", o.ttl, exit_code);
  codec::CapClaims c;
  c.workspace_id = o.workspace;
  c.turn_id = "trn_" + crypto::random_token(12);
  c.iat = SystemClock::instance().now_unix_s();
  c.exp = c.iat + std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(ttl).count());
  return codec::mint_cap_token(key, c);
}

int run_reporting(int failure_code, const std::function<int()>& body) {
  try {
    return body();
  } catch (const CliError& e) {
    std::cerr << "cxg: " << e.what() << '\n';
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "cxg: " << e.what() << '\n';
    return failure_code;
  }
}

}  // namespace cxg::cli
