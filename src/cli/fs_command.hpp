#pragma once
#include <CLI/App.hpp>

namespace cxg::cli {
// `cxg fs ls|cat|get|put|mkdir|rm|stat <exe_id> …` over a bridge (fs/* methods).
void add_fs_command(CLI::App& app);
}
