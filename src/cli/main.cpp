// cxg: the codex-exec gateway and its command-line client.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cxg/version.hpp"
#include "serve_command.hpp"
#include "token_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"cxg — codex-exec gateway: registry and relay for `codex exec-server --remote`"};
  app.require_subcommand(1);
  app.set_version_flag("--version", cxg::kVersion);
  cxg::cli::add_serve_command(app);
  cxg::cli::add_token_command(app);
  app.add_subcommand("version", "Print the version")->callback([] { std::cout << "cxg " << cxg::kVersion << '\n'; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
