#!/usr/bin/env bash
# tools/s3-up.sh: idempotent S3-compatible test server for packgate (s3s-fs).
#
#   eval "$(tools/s3-up.sh)"       # build if missing, start if not running, print the settings
#   tools/s3-up.sh --install-only  # only make sure the binary is built (prints nothing on stdout)
#   tools/s3-down.sh               # stop the server this script started
#
# stdout carries only KEY=value lines (safe to eval); progress and build output go to stderr.
# The server listens on 127.0.0.1:$S3_PORT only, checks SigV4 signatures with the key pair below and
# keeps its objects as plain files under $S3_ROOT/data (a bucket is a directory there).
# When this script starts a new server it wipes the objects of the previous run (fixture data only).
#
# Settings (environment, all optional):
#   S3_PORT (9000)  S3_ROOT (${TMPDIR:-/tmp}/packgate-s3-$S3_PORT)  S3_BUCKET (packgate-test)
#   S3_REGION (us-east-1)  S3_ACCESS_KEY (packgate)  S3_SECRET_KEY (packgate-secret)
#   PACKGATE_TOOLS_ROOT ($HOME/.cache/packgate-tools): install prefix of the s3s-fs binary
#
# Printed: S3_ENDPOINT S3_REGION S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET S3_FORCE_PATH_STYLE
#          S3_PID (server pid) S3_STARTED (1 if this call started it, 0 if it was already running)
set -euo pipefail

S3FS_VERSION=0.14.1 # newest s3s-fs whose rust-version fits rustc 1.95 (0.15.0+ want 1.96)
TOOLS_ROOT="${PACKGATE_TOOLS_ROOT:-$HOME/.cache/packgate-tools}"
BIN="$TOOLS_ROOT/bin/s3s-fs"

S3_PORT="${S3_PORT:-9000}"
S3_ROOT="${S3_ROOT:-${TMPDIR:-/tmp}/packgate-s3-$S3_PORT}"
S3_BUCKET="${S3_BUCKET:-packgate-test}"
S3_REGION="${S3_REGION:-us-east-1}"
S3_ACCESS_KEY="${S3_ACCESS_KEY:-packgate}"
S3_SECRET_KEY="${S3_SECRET_KEY:-packgate-secret}"

log() { echo "s3-up: $*" >&2; }
die() { log "error: $*"; exit 1; }

install_only=0
case "${1:-}" in
  "") ;;
  --install-only) install_only=1 ;;
  *) die "unknown argument '$1' (usage: s3-up.sh [--install-only])" ;;
esac

mkdir -p "$TOOLS_ROOT" "$S3_ROOT"
# One caller at a time per machine (build) and per root (start). fd 9 is closed for the server.
exec 9>"$TOOLS_ROOT/.s3s-fs.lock"
flock 9

# ---- 1. the binary ---------------------------------------------------------------------------
if [ ! -x "$BIN" ]; then
  command -v cargo >/dev/null || die "cargo not found (needed once to build s3s-fs $S3FS_VERSION)"
  log "building s3s-fs $S3FS_VERSION into $TOOLS_ROOT (debug build, about 3 min on 2 cores)"
  t0=$SECONDS
  # --debug builds ~4x faster than release and behaves the same for tests. CARGO_TARGET_DIR is
  # unset so the build uses a throwaway dir instead of sharing (and locking) the project's target.
  env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET_DIR nice -n 10 \
    cargo install --locked --debug s3s-fs --version "$S3FS_VERSION" --features binary \
    --root "$TOOLS_ROOT" >&2
  [ -x "$BIN" ] || die "cargo install finished but $BIN is missing"
  log "built s3s-fs in $((SECONDS - t0)) s"
fi
[ "$install_only" = 1 ] && exit 0

# ---- 2. the server ---------------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null; }
# Is $1 a live s3s-fs process (not a recycled pid)?
is_s3s() { [ -n "${1:-}" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q 's3s-fs'; }

PIDFILE="$S3_ROOT/server.pid"
LOGFILE="$S3_ROOT/server.log"
pid="$(cat "$PIDFILE" 2>/dev/null || true)"
started=0
if is_s3s "$pid" && port_open; then
  log "s3s-fs already running (pid $pid) on 127.0.0.1:$S3_PORT"
else
  port_open && die "127.0.0.1:$S3_PORT is taken by a process this script did not start; set S3_PORT"
  rm -f "$PIDFILE"
  # Fresh server: drop the previous run's objects, but only in a root this script created.
  if [ -e "$S3_ROOT/.packgate-s3-root" ]; then rm -rf -- "${S3_ROOT:?}/data"; fi
  touch "$S3_ROOT/.packgate-s3-root"
  mkdir -p "$S3_ROOT/data"
  # Every rejected request is logged at ERROR with a long trace: keep it in the log file.
  RUST_LOG="${S3_LOG:-warn}" nohup "$BIN" --host 127.0.0.1 --port "$S3_PORT" \
    --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" "$S3_ROOT/data" \
    >"$LOGFILE" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"
  for _ in $(seq 1 100); do
    port_open && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! port_open; then
    tail -n 20 "$LOGFILE" >&2 || true
    kill "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    die "s3s-fs did not start on 127.0.0.1:$S3_PORT (log: $LOGFILE)"
  fi
  started=1
  log "started s3s-fs (pid $pid) on 127.0.0.1:$S3_PORT, data in $S3_ROOT/data, log $LOGFILE"
fi
mkdir -p "$S3_ROOT/data/$S3_BUCKET" # with s3s-fs a bucket is just a directory under the root

for kv in "S3_ENDPOINT=http://127.0.0.1:$S3_PORT" "S3_REGION=$S3_REGION" "S3_ACCESS_KEY=$S3_ACCESS_KEY" \
  "S3_SECRET_KEY=$S3_SECRET_KEY" "S3_BUCKET=$S3_BUCKET" "S3_FORCE_PATH_STYLE=true" \
  "S3_PID=$pid" "S3_STARTED=$started"; do
  printf '%s=%q\n' "${kv%%=*}" "${kv#*=}" # %q: values stay eval-safe even with odd characters
done
