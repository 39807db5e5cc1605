#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, -DCXG_FUZZ=ON) into ./build-fuzz and runs each
# one for N seconds (default 60) against its seed corpus fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh [seconds]        every target, N seconds each; 0 = replay the seeds only
#   CXG_FUZZ_TARGETS="relay_hub jwt" only these targets
#   CXG_FUZZ_JOBS=1                  targets run side by side (default: number of cores)
#
# Any crash, sanitizer report, failed property (FUZZ_CHECK), leak, or input slower than 10 s
# fails the run; the input that did it is saved in build-fuzz/artifacts/<target>/ and can be
# replayed with `build-fuzz/fuzz/fuzz_<target> <file>`. What a run discovers accumulates in
# build-fuzz/corpus/<target>/ (never in the seed directories), so later runs continue from it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: $0 [seconds]" >&2; exit 2; }
jobs="${CXG_FUZZ_JOBS:-$(nproc)}"
build=build-fuzz

command -v clang++ >/dev/null || { echo "clang++ not found: run ./scripts/install-deps.sh" >&2; exit 1; }
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" \
  -DCMAKE_CXX_COMPILER=clang++ -DCXG_FUZZ=ON -DCXG_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target fuzzers

all_targets=$(sed -n 's/^cxg_fuzzer(\([a-z_]*\) .*/\1/p' fuzz/CMakeLists.txt)
targets="${CXG_FUZZ_TARGETS:-$all_targets}"

# Targets that take JSON share one dictionary; the others have their own or none.
dict_of() {
  case "$1" in
    registration | cap_token | jwt | jwks | api_router) echo fuzz/dict/json.dict ;;
    relay_hub) echo fuzz/dict/relay_frame.dict ;;
    *) [[ -f "fuzz/dict/$1.dict" ]] && echo "fuzz/dict/$1.dict" || true ;;
  esac
}

# Temporary files of the file-parser targets go to a private directory (tmpfs if there is one).
tmp_parent=/tmp
[[ -d /dev/shm && -w /dev/shm ]] && tmp_parent=/dev/shm
work_tmp=$(mktemp -d "$tmp_parent/cxg-fuzz.XXXXXX")
status_dir=$(mktemp -d)
trap 'rm -rf "$work_tmp" "$status_dir"' EXIT

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
symbolizer=$(command -v llvm-symbolizer || true)
[[ -n "$symbolizer" ]] && export ASAN_SYMBOLIZER_PATH="$symbolizer"

run_one() {
  local t="$1" bin="$build/fuzz/fuzz_$1" corpus="$build/corpus/$1" artifacts="$build/artifacts/$1/"
  local log="$build/logs/$1.log" dict rc=0
  mkdir -p "$corpus" "$artifacts" "$build/logs" "$work_tmp/$t"
  local args=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -print_funcs=0 "-artifact_prefix=$artifacts")
  dict=$(dict_of "$t")
  [[ -n "$dict" ]] && args+=("-dict=$dict")
  [[ "$t" == relay_hub || "$t" == api_router ]] && args+=(-max_len=8192)
  if ((seconds == 0)); then
    args+=(-runs=0)
  else
    args+=("-max_total_time=$seconds")
  fi
  local seeds=()
  [[ -d "fuzz/corpus/$t" ]] && seeds+=("fuzz/corpus/$t")
  local start=$SECONDS
  TMPDIR="$work_tmp/$t" "$bin" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  local runs cov
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  printf '%-14s %s  %8s runs  %-10s corpus %4s  %3ss\n' "$t" "$([[ $rc == 0 ]] && echo ok || echo FAIL)" \
    "${runs:-?}" "${cov:-}" "$(ls "$corpus" | wc -l)" "$((SECONDS - start))"
  echo "$rc" >"$status_dir/$t"
}

echo "fuzzing ${seconds}s per target, $jobs at a time: $(echo $targets | wc -w) targets"
for t in $targets; do
  [[ -x "$build/fuzz/fuzz_$t" ]] || { echo "unknown fuzz target: $t" >&2; exit 2; }
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_one "$t" &
done
wait

failed=0
for t in $targets; do
  rc=$(cat "$status_dir/$t" 2>/dev/null || echo missing)
  if [[ "$rc" != 0 ]]; then
    failed=1
    echo "---- fuzz_$t failed (exit $rc); log $build/logs/$t.log; inputs in $build/artifacts/$t/:" >&2
    ls "$build/artifacts/$t/" >&2 || true
    grep -E -A40 'ERROR: |FUZZ_CHECK failed|runtime error|SUMMARY' "$build/logs/$t.log" | head -80 >&2 || tail -40 "$build/logs/$t.log" >&2
  fi
done
((failed == 0)) && echo "fuzzing: all targets passed"
exit "$failed"
