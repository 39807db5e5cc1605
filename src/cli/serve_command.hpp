#pragma once
#include <CLI/App.hpp>

namespace cxg::cli {
void add_serve_command(CLI::App& app);
}
