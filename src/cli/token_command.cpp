// `cxg token cap`: mint a cap-token (http-api.md §3.2).
#include "token_command.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cxg/codec/cap_token.hpp"
#include "cxg/common/clock.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/config/config.hpp"
#include "cxg/config/secrets_file.hpp"
#include "cxg/config/values.hpp"

namespace cxg::cli {
namespace {

struct CapOptions {
  std::string workspace, turn, user, ttl = "24h", database;
  bool skip_audit = false;
};

// The key: CXG_CAPTOKEN_HMAC_SECRET, else the secrets file beside the SQLite database.
std::string cap_secret(const CapOptions& o) {
  if (const char* env = std::getenv("CXG_CAPTOKEN_HMAC_SECRET"); env && *env) return env;
  std::string url = o.database;
  if (url.empty()) {
    const char* env = std::getenv("CXG_DATABASE_URL");
    url = env && *env ? env : "sqlite://./cxg.db";
  }
  const auto db = config::parse_database_url(url);
  if (db.kind != config::StoreKind::sqlite)
    throw config::ConfigError("CXG_CAPTOKEN_HMAC_SECRET is required");
  const auto secrets = config::read_secrets_file(db.sqlite_dir);
  const auto it = secrets.find("CXG_CAPTOKEN_HMAC_SECRET");
  if (it == secrets.end() || it->second.empty())
    throw config::ConfigError("CXG_CAPTOKEN_HMAC_SECRET is required (no cxg-secrets.env in " + db.sqlite_dir + ")");
  return it->second;
}

int mint(const CapOptions& o) {
  const auto ttl = config::parse_duration(o.ttl);
  if (!ttl || ttl->count() <= 0) {
    std::cerr << "cxg: --ttl: invalid duration " << o.ttl << '\n';
    return 2;
  }
  try {
    codec::CapClaims c;
    c.workspace_id = o.workspace;
    c.turn_id = o.turn.empty() ? "trn_" + crypto::random_token(12) : o.turn;
    c.user_id = o.user;
    c.iat = SystemClock::instance().now_unix_s();
    c.exp = c.iat + std::chrono::duration_cast<std::chrono::seconds>(*ttl).count();
    c.skip_audit = o.skip_audit;
    std::cout << codec::mint_cap_token(cap_secret(o), c) << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "cxg: " << e.what() << '\n';
    return 2;
  }
}

}  // namespace

void add_token_command(CLI::App& app) {
  auto* token = app.add_subcommand("token", "Mint credentials");
  token->require_subcommand(1);
  auto* cap = token->add_subcommand("cap", "Mint a capability token for bridges and /api/exec-gateway/connected");
  auto o = std::make_shared<CapOptions>();
  cap->add_option("--workspace", o->workspace, "workspace id the token acts for")->required();
  cap->add_option("--turn", o->turn, "turn id (default trn_<random>)");
  cap->add_option("--user", o->user, "user id (optional)");
  cap->add_option("--ttl", o->ttl, "lifetime, e.g. 30m, 24h (default 24h)");
  cap->add_flag("--skip-audit", o->skip_audit, "set skip_audit (no effect in v1)");
  cap->add_option("--database", o->database, "database URL whose cxg-secrets.env holds the key [CXG_DATABASE_URL]");
  cap->footer("The key is CXG_CAPTOKEN_HMAC_SECRET, or the generated one in cxg-secrets.env beside a SQLite database.\n"
              "Example:\n  cxg token cap --workspace ws-1 --ttl 1h");
  cap->callback([o] { throw CLI::RuntimeError(mint(*o)); });
}

}  // namespace cxg::cli
