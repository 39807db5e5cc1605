#pragma once
#include <CLI/App.hpp>

namespace cxg::cli {
void add_token_command(CLI::App& app);
}
