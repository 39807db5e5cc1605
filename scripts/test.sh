#!/usr/bin/env bash
# The whole test suite: dependencies, build, unit tests, integration tests against the real
# `cxg serve`, and interop tests against real `codex exec-server` releases from npm; then the
# hardening runs: every libFuzzer target briefly (scripts/fuzz.sh) and the sanitizer builds
# (scripts/sanitize.sh: the unit and integration tests under ASan+UBSan, then under TSan).
#   CXG_FUZZ_SECONDS   fuzzing time per target (default 20; 0 only replays the seed corpora)
#   CXG_SANITIZERS     all (default), asan, tsan or none
set -euo pipefail
cd "$(dirname "$0")/.."
stage() { echo "==== $1 (at ${SECONDS}s)"; }
stage "dependencies"
./scripts/install-deps.sh
stage "build"
./scripts/build.sh
if tests/interop/fetch_codex.sh; then
  export CXG_INTEROP=1
else
  echo "warning: no Codex release could be fetched from npm; interop tests will be skipped" >&2
fi
stage "unit, integration and interop tests"
ctest --test-dir build --output-on-failure --timeout 900 -j "$(nproc)"
# Microbenchmarks (bench/micro): a short run so that they keep working; the figures go to the
# log only, nothing is compared against thresholds.
stage "microbenchmarks"
build/bench/micro/cxg-micro-bench --benchmark_min_time=0.05
stage "fuzzing"
./scripts/fuzz.sh "${CXG_FUZZ_SECONDS:-20}"
if [[ "${CXG_SANITIZERS:-all}" != none ]]; then
  stage "sanitizers"
  ./scripts/sanitize.sh "${CXG_SANITIZERS:-all}"
fi
stage "done"
