#pragma once
// The composition root of `cxg serve`: builds the store, validators, services, router and
// listener from a Config, runs them, and drains on SIGTERM/SIGINT.
#include "cxg/config/config.hpp"

namespace cxg::server {

// Blocks until shutdown. Returns the process exit code (0 after a clean drain).
// Startup failures throw std::runtime_error with an operator-facing message.
int run_gateway(config::Config cfg);

}  // namespace cxg::server
