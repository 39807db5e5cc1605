// cxg: the codex-exec gateway and its command-line client.
#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>

#include "cli_common.hpp"
#include "cxg/version.hpp"
#include "exec_command.hpp"
#include "fs_command.hpp"
#include "operator_commands.hpp"
#include "serve_command.hpp"
#include "token_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"cxg — codex-exec gateway: registry and relay for `codex exec-server --remote`, and its client"};
  app.require_subcommand(1);
  app.set_version_flag("--version", cxg::kVersion);
  app.footer(
      "Client commands find the gateway in --url or CXG_URL (default http://127.0.0.1:6060) and a cap-token in\n"
      "--token or CODEX_EXEC_GATEWAY_TOKEN; beside a SQLite gateway `--workspace W` mints one locally.\n"
      "Run `cxg <command> --help` for a command's options and examples.\n"
      "\n"
      "Examples:\n"
      "  cxg serve                                         # gateway on 0.0.0.0:6060, SQLite ./cxg.db\n"
      "  cxg executors create --user alice --workspace ws-1 --name laptop --static-token\n"
      "  cxg executors list --workspace ws-1\n"
      "  cxg exec --workspace ws-1 laptop -- uname -a\n"
      "  cxg fs get --workspace ws-1 laptop /var/log/syslog .\n"
      "  TOKEN=$(cxg token cap --workspace ws-1 --ttl 1h)");
  cxg::cli::add_serve_command(app);
  cxg::cli::add_exec_command(app);
  cxg::cli::add_fs_command(app);
  cxg::cli::add_operator_commands(app);
  cxg::cli::add_token_command(app);
  app.add_subcommand("version", "Print the version")->callback([] { std::cout << "cxg " << cxg::kVersion << '\n'; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    // `cxg exec` passes the remote command's exit codes through: its usage errors are 125.
    const bool exec_cmd = argc > 1 && std::strcmp(argv[1], "exec") == 0;
    if (code != 0 && std::string(e.get_name()) != "RuntimeError")
      return exec_cmd ? cxg::cli::kExitGatewayFailure : cxg::cli::kExitUsage;
    return code;
  }
  return 0;
}
