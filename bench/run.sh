#!/usr/bin/env bash
# The relay benchmark suite (issue 6) in one command:
#
#   bench/run.sh [--quick] [--no-nginx] [--no-micro]
#
# Builds cxg, cxg-load (and cxg-micro-bench) in build-bench/ if needed, starts `cxg serve` on a
# free port with a temporary SQLite database, a static tokens file and explicit secrets, starts
# nginx as a plain websocket proxy (1 and 2 workers) when it is installed, runs every scenario
# of bench/load in bounded time and writes bench/results/latest.json and latest.md.
# Full suite: a few minutes on 2 cores (≤ 10). --quick: a smoke run of under a minute.
# Environment: CXG_BENCH_BUILD (build dir, default <repo>/build-bench), CXG_BENCH_OUT
# (results dir, default bench/results).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${CXG_BENCH_BUILD:-$ROOT/build-bench}
OUT=${CXG_BENCH_OUT:-$ROOT/bench/results}
QUICK=0 NGINX=1 MICRO=1
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --no-nginx) NGINX=0 ;;
    --no-micro) MICRO=0 ;;
    *) echo "usage: $0 [--quick] [--no-nginx] [--no-micro]" >&2; exit 2 ;;
  esac
done

log() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }

# ------------------------------------------------------------------------------ build
if [[ ! -f "$BUILD/build.ninja" && ! -f "$BUILD/Makefile" ]]; then
  log "configuring $BUILD (Release, CXG_BUILD_BENCH=ON)"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCXG_BUILD_BENCH=ON -DCXG_BUILD_TESTS=OFF >/dev/null
fi
log "building cxg and cxg-load"
cmake --build "$BUILD" --target cxg cxg-load -j 2 >/dev/null
CXG="$BUILD/src/cli/cxg"
LOAD="$BUILD/bench/load/cxg-load"
MICRO_BIN="$BUILD/bench/micro/cxg-micro-bench"
if [[ $MICRO == 1 ]] && ! cmake --build "$BUILD" --target cxg-micro-bench -j 2 >/dev/null 2>&1; then
  log "cxg-micro-bench does not build; skipping the microbenchmarks"
  MICRO=0
fi

# ------------------------------------------------------------------------------ parameters
if [[ $QUICK == 1 ]]; then
  DURATION=0.3 WARMUP=0.1 IDLE_N=1000 FANIN_N=100 FANIN_S=1 REG_S=1 MICRO_MIN=0.01 MICRO_TIMEOUT=20
else
  DURATION=2 WARMUP=0.5 IDLE_N=10000 FANIN_N=1000 FANIN_S=5 REG_S=3 MICRO_MIN=0.05 MICRO_TIMEOUT=120
fi

# 10 000 executors: one fd per socket on each side, plus nginx; raise the soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Each process (gateway, cxg-load) holds one fd per executor in the idle scenario.
if (( $(ulimit -n) < IDLE_N + 1000 )); then log "warning: ulimit -n is $(ulimit -n); the idle scenario needs $IDLE_N + 1000"; fi

# What else is using the CPUs (recorded in the results: they distort every figure).
LOAD_AVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_START=$(ps -eo pcpu=,comm= --sort=-pcpu | head -5 | awk '{printf "%s%s %s%%", (NR>1?", ":""), $2, $1}')

TMP=$(mktemp -d /tmp/cxg-bench.XXXXXX)
GW_PID="" NGINX_PIDS=()
cleanup() {
  [[ -n "$GW_PID" ]] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null || true
  for p in "${NGINX_PIDS[@]}"; do kill -QUIT "$p" 2>/dev/null || true; done
  for p in "${NGINX_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Explicit secrets (no generated cxg-secrets.env), a static token for registration.
CAP_SECRET="bench-cap-$(openssl rand -hex 16)"
ADMIN_SECRET="bench-admin-$(openssl rand -hex 16)"
TOKEN="bench-token-$(openssl rand -hex 16)"
echo "$TOKEN bench" >"$TMP/tokens"
chmod 600 "$TMP/tokens"
GW_PORT=$(free_port)
DIRECT_PORT=$(free_port)

start_gateway() {
  rm -f "$TMP"/cxg.db*
  env -i PATH="$PATH" HOME="${HOME:-/root}" \
    CXG_LISTEN="127.0.0.1:$GW_PORT" CXG_DATABASE_URL="sqlite://$TMP/cxg.db" \
    CXG_CAPTOKEN_HMAC_SECRET="$CAP_SECRET" CXG_INTERNAL_SHARED_SECRET="bench-shared-$(openssl rand -hex 16)" \
    CXG_WS_TICKET_SECRET="bench-ticket-$(openssl rand -hex 16)" CXG_AGENTSERVER_INTERNAL_SECRET="$ADMIN_SECRET" \
    CXG_AUTH_VALIDATOR=static CXG_STATIC_TOKENS_FILE="$TMP/tokens" CXG_LOG_LEVEL=warn \
    CXG_MAX_STREAMS_PER_EXECUTOR=64 CXG_BRIDGE_QUEUE_BYTES=16MiB CXG_STREAM_INFLIGHT_BYTES=4MiB \
    "$CXG" serve >"$TMP/gateway.out" 2>>"$TMP/gateway.log" &
  GW_PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$GW_PORT/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "gateway did not become ready:"; tail -20 "$TMP/gateway.log" >&2; exit 1
}
stop_gateway() {
  kill "$GW_PID" 2>/dev/null || true
  wait "$GW_PID" 2>/dev/null || true
  GW_PID=""
}

# nginx as a plain websocket proxy in front of cxg-load's direct server (which each cxg-load
# run opens on $DIRECT_PORT while it needs it).
NGINX_ARGS=()
start_nginx() {  # workers port
  local w=$1 port=$2 dir="$TMP/nginx-$1"
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<EOF
worker_processes $w;
worker_rlimit_nofile 65536;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://127.0.0.1:$DIRECT_PORT;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
    }
  }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' 2>>"$dir/logs/stderr" &
  local master=$!
  NGINX_PIDS+=("$master")
  sleep 0.3
  local pids
  pids=$(pgrep -d, -P "$master" || true)
  NGINX_ARGS+=(--nginx "nginx-${w}w=127.0.0.1:$port:$master${pids:+,$pids}")
}
NGINX_VERSION=""
if [[ $NGINX == 1 ]] && command -v nginx >/dev/null; then
  NGINX_VERSION=$(nginx -v 2>&1 | sed 's/.*nginx\///')
  start_nginx 1 "$(free_port)"
  start_nginx 2 "$(free_port)"
  log "nginx $NGINX_VERSION: ${NGINX_ARGS[*]}"
else
  log "nginx not used"
fi

# ------------------------------------------------------------------------------ scenarios
LINES="$TMP/lines.jsonl"
: >"$LINES"
run() {  # scenario args...
  local common=(--gateway "127.0.0.1:$GW_PORT" --gateway-pid "$GW_PID" --cap-secret "$CAP_SECRET"
                --admin-secret "$ADMIN_SECRET" --token "$TOKEN" --duration "$DURATION" --warmup "$WARMUP")
  local out
  log "$*"
  if out=$(timeout 180 "$LOAD" "$@" "${common[@]}" 2>>"$TMP/load.err"); then :; else
    log "cxg-load $1 failed ($?): $(tail -3 "$TMP/load.err")"
  fi
  grep '^# ' <<<"$out" | sed 's/^# //' >&2 || true
  grep '^{' <<<"$out" >>"$LINES" || true
}
RELAYS=(--direct-port "$DIRECT_PORT" "${NGINX_ARGS[@]}")

start_gateway
for dir in e2b b2e; do
  for size in 65536 1024; do
    for streams in 1 8; do
      run throughput --dir $dir --size $size --streams $streams "${RELAYS[@]}"
    done
  done
done
run latency --size 200 --streams 1 "${RELAYS[@]}"
run latency --size 200 --streams 64 "${RELAYS[@]}"
run isolation --size 65536 --streams 8
run fanin --executors "$FANIN_N" --streams 4 --duration "$FANIN_S"
stop_gateway

# Fresh gateways for the two that measure the process itself (heap and store state).
start_gateway
run register --executors 500 --threads 16 --duration "$REG_S"
stop_gateway
start_gateway
run idle --executors "$IDLE_N"
GATEWAY_ERRORS=$(grep -c '"level":"error"' "$TMP/gateway.log" || true)
stop_gateway

MICRO_JSON="$TMP/micro.json"
if [[ $MICRO == 1 ]]; then
  log "microbenchmarks (min time ${MICRO_MIN}s)"
  # Bounded: benchmarks that pause timing per iteration take far longer than their min time.
  timeout "$MICRO_TIMEOUT" "$MICRO_BIN" --benchmark_min_time="$MICRO_MIN" --benchmark_format=json >"$MICRO_JSON" 2>/dev/null ||
    { log "microbenchmarks failed or timed out"; rm -f "$MICRO_JSON"; }
fi

# ------------------------------------------------------------------------------ report
mkdir -p "$OUT"
LOAD_AVG=$(cut -d' ' -f1-3 /proc/loadavg)
/usr/bin/python3 - "$LINES" "$MICRO_JSON" "$OUT" <<EOF
import json, os, subprocess, sys, datetime
lines_path, micro_path, out = sys.argv[1:4]
lines = [json.loads(l) for l in open(lines_path) if l.strip()]
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return ""
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
rev = sh("git -C '$ROOT' rev-parse --short HEAD") + (" (dirty)" if sh("git -C '$ROOT' status --porcelain -- src include") else "")
machine = {"nproc": int(sh("nproc") or 0), "cpu": cpu, "kernel": sh("uname -r"),
           "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
           "cxg_revision": rev, "nginx": "$NGINX_VERSION" or None,
           "load_average_at_start": "$LOAD_AVG_START", "load_average_at_end": "$LOAD_AVG",
           "busiest_processes_at_start": "$BUSY_START", "quick": bool($QUICK),
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "command": "bench/run.sh" + (" --quick" if $QUICK else "")}
micro = None
if micro_path and os.path.exists(micro_path):
    try:
        m = json.load(open(micro_path))
        micro = [{"name": b["name"], "ns": round(b["real_time"], 1) if b.get("time_unit") == "ns" else b["real_time"],
                  "time_unit": b.get("time_unit")} for b in m.get("benchmarks", [])]
    except Exception:
        micro = None
json.dump({"machine": machine, "scenarios": lines, "micro": micro, "gateway_error_logs": int("${GATEWAY_ERRORS:-0}" or 0)},
          open(os.path.join(out, "latest.json"), "w"), indent=1, ensure_ascii=False)
md = ["# cxg relay benchmark", "",
      "%s · %d × %s · kernel %s · %s GiB · cxg %s · nginx %s · load average %s at start, %s at end" % (
          machine["date"], machine["nproc"], cpu, machine["kernel"], machine["memory_gib"], rev,
          machine["nginx"] or "not run", machine["load_average_at_start"], machine["load_average_at_end"]),
      "", "Busiest processes at start (ps %%CPU, lifetime average): %s" % machine["busiest_processes_at_start"],
      "", "Command: \`%s\`. MB = 10^6 bytes of Data payload. The load generator shares the CPUs "
      "with the relay; direct is a lower bound. See bench/README.md." % machine["command"], "",
      "| Scenario | cxg | direct | nginx | ratio | target | met |", "|---|---|---|---|---|---|---|"]
for l in lines:
    r = l.get("row")
    if not r: continue
    met = {True: "yes", False: "**no**", None: "—"}[r.get("met")]
    md.append("| %s | %s | %s | %s | %s | %s | %s |" % (r["scenario"], r["cxg"], r["direct"], r["nginx"], r["ratio"], r["target"], met))
if micro:
    md += ["", "Microbenchmarks (cxg-micro-bench, min time $MICRO_MIN s):", "", "| Benchmark | time |", "|---|---|"]
    md += ["| %s | %s %s |" % (b["name"], b["ns"], b["time_unit"]) for b in micro]
open(os.path.join(out, "latest.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
EOF
log "wrote $OUT/latest.json and $OUT/latest.md"
