// `cxg serve`: configuration from CXG_* variables, overridden by flags.
#include "serve_command.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <memory>

#include "cxg/common/log.hpp"
#include "cxg/config/config.hpp"
#include "cxg/config/secrets_file.hpp"
#include "cxg/server/gateway.hpp"

namespace cxg::cli {
namespace {

struct FlagSpec {
  const char* flag;
  const char* variable;
  const char* help;
};

// Every flag is a thin alias of a variable, so there is one validation path for both.
constexpr FlagSpec kServeFlags[] = {
    {"--listen", "CXG_LISTEN", "host:port to listen on (default 0.0.0.0:6060)"},
    {"--database", "CXG_DATABASE_URL", "sqlite://<path> | sqlite://:memory: | postgres://... (default sqlite://./cxg.db)"},
    {"--public-ws-base-url", "CXG_PUBLIC_WS_BASE_URL", "base of the executor websocket URL, e.g. wss://gw.example"},
    {"--validator", "CXG_AUTH_VALIDATOR", "registration validator: agentserver | static | jwks"},
    {"--static-tokens-file", "CXG_STATIC_TOKENS_FILE", "token file for the static validator"},
    {"--jwks-file", "CXG_JWKS_FILE", "JWKS file for the jwks validator"},
    {"--jwks-url", "CXG_JWKS_URL", "JWKS URL for the jwks validator"},
    {"--agentserver-url", "CXG_AGENTSERVER_INTERNAL_URL", "agentserver base URL for the agentserver validator"},
    {"--tls-cert", "CXG_TLS_CERT_FILE", "TLS certificate file (with --tls-key enables TLS)"},
    {"--tls-key", "CXG_TLS_KEY_FILE", "TLS private key file"},
    {"--allowed-origins", "CXG_ALLOWED_ORIGINS", "comma-separated websocket Origin allow-list"},
    {"--register-auto-create", "CXG_REGISTER_AUTO_CREATE", "create unknown executors on registration (true|false)"},
    {"--max-streams-per-executor", "CXG_MAX_STREAMS_PER_EXECUTOR", "bridge streams per executor (default 64)"},
    {"--shutdown-timeout", "CXG_SHUTDOWN_TIMEOUT", "drain budget on SIGTERM (default 30s)"},
    {"--replica-id", "CXG_REPLICA_ID", "replica identity (default <hostname>-<4 hex>)"},
    {"--log-level", "CXG_LOG_LEVEL", "debug | info | warn | error (default info)"},
};

int run_serve(const std::map<std::string, std::string>& overrides) {
  config::Config cfg;
  try {
    cfg = config::load_config(config::process_env(), overrides);
    config::ensure_secrets(cfg);
    log::init(cfg.log_level);
  } catch (const config::ConfigError& e) {
    std::cerr << "cxg: " << e.what() << '\n';
    return 2;
  }
  try {
    return server::run_gateway(std::move(cfg));
  } catch (const std::exception& e) {
    log::error("startup failed", {{"error", e.what()}});
    std::cerr << "cxg: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto* serve = app.add_subcommand("serve", "Run the gateway (configuration from CXG_* variables; flags override them)");
  auto values = std::make_shared<std::map<std::string, std::string>>();
  for (const auto& f : kServeFlags) {
    auto* slot = &(*values)[f.variable];
    serve->add_option(f.flag, *slot, std::string(f.help) + " [" + f.variable + "]");
  }
  serve->footer(
      "Every CXG_* variable of the configuration table in README.md applies; a flag wins over its variable.\n"
      "Examples:\n"
      "  cxg serve                                  # SQLite ./cxg.db, secrets generated on first start\n"
      "  cxg serve --listen 127.0.0.1:7070 --database sqlite:///var/lib/cxg/cxg.db");
  serve->callback([values] {
    std::map<std::string, std::string> overrides;
    for (const auto& [k, v] : *values)
      if (!v.empty()) overrides[k] = v;
    throw CLI::RuntimeError(run_serve(overrides));
  });
}

}  // namespace cxg::cli
