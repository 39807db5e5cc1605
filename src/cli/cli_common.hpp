#pragma once
// Pieces shared by the client commands (exec, fs, executors, bindings, revoke): where the
// gateway is, which credentials to use, exit codes and one-line error reporting.
#include <CLI/App.hpp>
#include <chrono>
#include <stdexcept>
#include <string>

namespace cxg::cli {

// `cxg exec` / `cxg fs`: a gateway, connection or protocol failure (wire-protocol §8.4).
inline constexpr int kExitGatewayFailure = 125;
// Operator commands: a usage or API failure.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Thrown by client commands with a message ready for stderr ("cxg: " is prepended) and the
// process exit code.
class CliError : public std::runtime_error {
 public:
  CliError(std::string message, int exit_code) : std::runtime_error(std::move(message)), code_(exit_code) {}
  int exit_code() const { return code_; }

 private:
  int code_;
};

// Options of every command that talks to a gateway.
struct GatewayOptions {
  std::string url;       // --url, else CXG_URL, else http://127.0.0.1:6060
  std::string database;  // --database, else CXG_DATABASE_URL (secrets file lookup)
  std::string ca_file;   // --cacert, else CXG_CA_FILE: extra CA bundle for https/wss
  bool insecure = false; // --insecure: no TLS certificate verification
  std::string resolved_url() const;
  std::string resolved_ca_file() const;
};
void add_gateway_options(CLI::App& cmd, GatewayOptions& o);

// Options of the bridge commands (exec, fs).
struct BridgeOptions : GatewayOptions {
  std::string token;      // --token, else CODEX_EXEC_GATEWAY_TOKEN
  std::string workspace;  // --workspace: mint a cap-token locally when no token is given
  std::string ttl = "1h";
  bool relay = false;
  std::string connect_timeout = "10s";
  std::string wait_online = "3s";  // retry 503 (offline) and 409 (busy) this long
};
void add_bridge_options(CLI::App& cmd, BridgeOptions& o);

// A cap-token for the bridge: --token; else, with --workspace, one minted with the local key;
// else CODEX_EXEC_GATEWAY_TOKEN. Throws CliError(…, exit_code).
std::string resolve_cap_token(const BridgeOptions& o, int exit_code);

// A secret: the environment variable `name`, else the secrets file beside the SQLite database
// (--database / CXG_DATABASE_URL / sqlite://./cxg.db). Empty when neither has it.
std::string local_secret(const std::string& name, const std::string& database_flag);

// Parses a duration like 30s, 5m, 1h30m; throws CliError(flag + ": invalid duration", code).
std::chrono::milliseconds parse_duration_flag(const std::string& flag, const std::string& text, int exit_code);

std::string getenv_str(const char* name);

// Runs `body` and maps CliError / exceptions to "cxg: <message>" on stderr and an exit code.
int run_reporting(int failure_code, const std::function<int()>& body);

}  // namespace cxg::cli
