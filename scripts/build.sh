#!/usr/bin/env bash
# Configures and builds cxg (Release with debug info) into ./build with Ninja (+ ccache).
# The benchmarks (bench/: microbenchmarks and the load tool) are built too, so that CI keeps
# them compiling; pass -DCXG_BUILD_BENCH=OFF to leave them out.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCXG_BUILD_BENCH=ON "$@" >/dev/null
cmake --build build
