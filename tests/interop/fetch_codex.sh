#!/usr/bin/env bash
# Fetches real Codex releases for the interop tests (docs: /work/shared/spec/interop.md §1).
#
#   tests/interop/fetch_codex.sh [VERSION...]     (default: the supported release matrix)
#
# Each version lands in ${CXG_CODEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cxg/codex}/<V>/:
# the npm tarball openai-codex-<V>-linux-x64.tgz and its extracted package/ tree.  A version
# whose tarball is cached is not downloaded again; a missing package/ is (re-)extracted.
# Tarballs never go into the repository.
#
# Quiet on success.  Exit status: 0 when at least one version is available afterwards,
# 1 when none is (e.g. no network and an empty cache), 2 on bad usage.
set -u

DEFAULT_VERSIONS="0.130.0 0.131.0 0.132.0 0.134.0 0.138.0"
CACHE="${CXG_CODEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cxg/codex}"

if [ "$#" -gt 0 ]; then
  versions="$*"
else
  versions="$DEFAULT_VERSIONS"
fi

for v in $versions; do
  case "$v" in
    [0-9]*.[0-9]*.[0-9]*) ;;
    *) echo "fetch_codex.sh: not a version: $v" >&2; exit 2 ;;
  esac
done

mkdir -p "$CACHE" 2>/dev/null || { echo "fetch_codex.sh: cannot create $CACHE" >&2; exit 1; }

have_binary() {
  [ -d "$1/package/vendor/x86_64-unknown-linux-musl" ] &&
    [ -n "$(find "$1/package/vendor/x86_64-unknown-linux-musl" -name codex -type f 2>/dev/null | head -n 1)" ]
}

ok=0
failed=""
for v in $versions; do
  dir="$CACHE/$v"
  tgz="$dir/openai-codex-$v-linux-x64.tgz"
  mkdir -p "$dir" || { failed="$failed $v"; continue; }
  if [ ! -s "$tgz" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      failed="$failed $v(no-npm)"
      continue
    fi
    # npm writes the tarball's name on stdout and progress on stderr: keep both in a log.
    if ! npm pack "@openai/codex@$v-linux-x64" --pack-destination "$dir" >"$dir/npm.log" 2>&1 ||
       [ ! -s "$tgz" ]; then
      rm -f "$tgz"
      failed="$failed $v(npm)"
      continue
    fi
    rm -rf "$dir/package"   # a fresh tarball replaces any stale extraction
  fi
  if ! have_binary "$dir"; then
    rm -rf "$dir/package" "$dir/package.tmp"
    mkdir -p "$dir/package.tmp" &&
      tar -xzf "$tgz" -C "$dir/package.tmp" 2>"$dir/tar.log" &&
      [ -d "$dir/package.tmp/package" ] &&
      mv "$dir/package.tmp/package" "$dir/package"
    rm -rf "$dir/package.tmp"
    [ -s "$dir/tar.log" ] || rm -f "$dir/tar.log"
    if ! have_binary "$dir"; then
      failed="$failed $v(extract)"
      continue
    fi
  fi
  ok=$((ok + 1))
done

if [ "$ok" -eq 0 ]; then
  echo "fetch_codex.sh: no Codex release available in $CACHE (failed:$failed)" >&2
  exit 1
fi
if [ -n "$failed" ]; then
  echo "fetch_codex.sh: warning: not available:$failed (see $CACHE/<version>/npm.log)" >&2
fi
exit 0
