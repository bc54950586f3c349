# Shared helpers for the CI builders: cache paths, timing lines, failure tails.
# shellcheck shell=bash
set -euo pipefail

CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../versions.env
source "$CI_DIR/versions.env"

# The machine-level cache: every heavy result lives here, keyed by versions.
export RHDEMO_LAB_CACHE="${RHDEMO_LAB_CACHE:-/var/cache/rhdemo-lab}"
export GOMODCACHE="$RHDEMO_LAB_CACHE/go/mod"
export GOCACHE="$RHDEMO_LAB_CACHE/go/build"
export GOFLAGS="-mod=mod"
export GOTOOLCHAIN=local
CACHE_BIN="$RHDEMO_LAB_CACHE/bin"
mkdir -p "$CACHE_BIN" "$GOMODCACHE" "$GOCACHE"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# built WHAT: records, for `lab build`, that this run built WHAT (its cache did not hold it).
built() { if [[ -n "${RHDEMO_LAB_BUILT_FILE:-}" ]]; then echo "$1" >> "$RHDEMO_LAB_BUILT_FILE"; fi; }

# phase NAME CMD...: runs CMD, prints one timing line, and on failure the phase
# name and the tail of its log, then fails.
phase() {
  local name="$1"; shift
  local logfile="/tmp/rhdemo-lab-ci/${name// /_}.log"
  mkdir -p /tmp/rhdemo-lab-ci
  local start=$SECONDS
  log "phase '$name' started (log: $logfile)"
  if "$@" >"$logfile" 2>&1; then
    printf 'TIMING phase=%-28s seconds=%-5d status=ok\n' "$name" "$((SECONDS - start))"
  else
    local rc=$?
    printf 'TIMING phase=%-28s seconds=%-5d status=FAILED(rc=%d)\n' "$name" "$((SECONDS - start))" "$rc"
    echo "---- last 60 lines of $logfile ----" >&2
    tail -n 60 "$logfile" >&2
    return "$rc"
  fi
}
