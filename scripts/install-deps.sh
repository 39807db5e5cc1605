#!/usr/bin/env bash
# Installs what cxg needs to build, test and benchmark on Debian 12 (run as root).
set -euo pipefail
packages=(
  g++ cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev llvm  # libFuzzer + sanitizer runtimes (scripts/fuzz.sh), llvm-symbolizer
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev
  libspdlog-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-cryptography python3-websockets
  postgresql sqlite3 curl ca-certificates
)
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
