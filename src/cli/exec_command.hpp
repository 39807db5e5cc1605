#pragma once
#include <CLI/App.hpp>

namespace cxg::cli {
// `cxg exec [options] <exe_id> -- <argv…>` (wire-protocol §8.4).
void add_exec_command(CLI::App& app);
}
