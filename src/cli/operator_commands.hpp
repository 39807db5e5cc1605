#pragma once
#include <CLI/App.hpp>

namespace cxg::cli {
// `cxg executors …`, `cxg bindings …`, `cxg revoke …` (admin and internal HTTP APIs).
void add_operator_commands(CLI::App& app);
}
