#!/usr/bin/env bash
# Configures and builds cxg (Release with debug info) into ./build with Ninja (+ ccache).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build
