#!/usr/bin/env bash
# tools/test.sh: the packgate test command. Runs the suite on each storage stack:
#
#   stack 1  SQLite + filesystem blobs   cargo test --workspace          (temp data dirs)
#   stack 2  PostgreSQL + S3 (s3s-fs)     cargo test --test integration   (tools/pg-up.sh, tools/s3-up.sh)
#
# Usage: tools/test.sh [extra cargo test args...]   e.g. tools/test.sh publish   (a test name filter)
#                                                          tools/test.sh -- --nocapture
# Before the tests it installs every client they drive (tools/install-clients.sh: npm, gem/bundle,
# mono + NuGet.exe), and at the end it prints how many tests skipped and why (a test whose client
# is missing says so in the skip log; with PACKGATE_TEST_REQUIRE_CLIENTS=1 it fails instead).
# Environment:
#   PACKGATE_TEST_STACKS  all (default) | sqlite (stack 1 only) | pg-s3 (stack 2 only)
#   PACKGATE_TEST_NO_INSTALL=1  skip the client install step
#   CARGO_TARGET_DIR      default $HOME/.cache/packgate-target (shared with .ci/run)
#   S3_PORT, PGPORT, ...  passed on to tools/s3-up.sh / tools/pg-up.sh
# Stack 2 needs root (pg-up.sh installs/starts PostgreSQL). s3s-fs is stopped at the end if this
# script started it; PostgreSQL is left running. Exits non-zero if any stack fails.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/packgate-target}"
STACKS="${PACKGATE_TEST_STACKS:-all}"
case "$STACKS" in
  all | sqlite | pg-s3) ;;
  *) echo "test.sh: PACKGATE_TEST_STACKS must be all, sqlite or pg-s3 (got '$STACKS')" >&2; exit 2 ;;
esac

# Variables through which the integration tests select PostgreSQL + S3; never inherited by stack 1.
PG_S3_VARS=(PACKGATE_TEST_DATABASE_URL PACKGATE_TEST_S3_ENDPOINT PACKGATE_TEST_S3_BUCKET
  PACKGATE_TEST_S3_REGION PACKGATE_TEST_S3_ACCESS_KEY PACKGATE_TEST_S3_SECRET_KEY)

banner() {
  printf '\n==================================================================\n'
  printf '== %s\n' "$@"
  printf '==================================================================\n'
}

results=()
failed=0
record() { # name status seconds
  results+=("$(printf '%-34s %-6s %4ss' "$1" "$2" "$3")")
  [ "$2" = ok ] || failed=1
}

S3_STARTED=0
S3_PID=
stop_s3() {
  if [ "$S3_STARTED" = 1 ]; then
    tools/s3-down.sh || true
    S3_STARTED=0
  fi
}
trap stop_s3 EXIT
trap 'stop_s3; exit 130' INT
trap 'stop_s3; exit 143' TERM

if [ "${PACKGATE_TEST_NO_INSTALL:-0}" != 1 ]; then
  banner "clients" "tools/install-clients.sh"
  tools/install-clients.sh || echo "test.sh: installing the clients failed; tests whose client is missing will skip (or fail in CI)" >&2
fi
# Each skipped test appends "<test>: <reason>" here (tests/integration/support/mod.rs).
SKIP_LOG="$(mktemp -t packgate-skips.XXXXXX)"
export PACKGATE_TEST_SKIP_LOG="$SKIP_LOG"

# ---- stack 1 -----------------------------------------------------------------------------------
if [ "$STACKS" != pg-s3 ]; then
  banner "stack 1/2: SQLite + filesystem storage" "cargo test --workspace $*"
  t0=$SECONDS
  if env "${PG_S3_VARS[@]/#/-u}" cargo test --workspace "$@"; then st=ok; else st=FAILED; fi
  record "stack 1 (SQLite + filesystem)" "$st" $((SECONDS - t0))
fi

# ---- stack 2 -----------------------------------------------------------------------------------
if [ "$STACKS" != sqlite ]; then
  banner "stack 2/2: PostgreSQL + S3 (s3s-fs)" "cargo test --test integration $*"
  t0=$SECONDS
  st=ok
  # shellcheck disable=SC2154 # DATABASE_URL and S3_* are assigned by the evals
  if ! pg_env="$(tools/pg-up.sh)"; then
    echo "test.sh: tools/pg-up.sh failed" >&2
    st=FAILED
  elif ! s3_env="$(tools/s3-up.sh)"; then
    echo "test.sh: tools/s3-up.sh failed" >&2
    st=FAILED
  else
    eval "$pg_env"
    eval "$s3_env"
    export PACKGATE_TEST_DATABASE_URL="$DATABASE_URL"
    export PACKGATE_TEST_S3_ENDPOINT="$S3_ENDPOINT"
    export PACKGATE_TEST_S3_BUCKET="$S3_BUCKET"
    export PACKGATE_TEST_S3_REGION="$S3_REGION"
    export PACKGATE_TEST_S3_ACCESS_KEY="$S3_ACCESS_KEY"
    export PACKGATE_TEST_S3_SECRET_KEY="$S3_SECRET_KEY"
    echo "PACKGATE_TEST_DATABASE_URL=$PACKGATE_TEST_DATABASE_URL"
    echo "PACKGATE_TEST_S3_ENDPOINT=$PACKGATE_TEST_S3_ENDPOINT bucket=$PACKGATE_TEST_S3_BUCKET" \
      "(s3s-fs pid $S3_PID, $([ "$S3_STARTED" = 1 ] && echo started here || echo already running))"
    cargo test --test integration "$@" || st=FAILED
  fi
  stop_s3
  record "stack 2 (PostgreSQL + S3)" "$st" $((SECONDS - t0))
fi

banner "summary"
printf '%s\n' "${results[@]}"
skips=$(grep -c . "$SKIP_LOG" || true)
if [ "$skips" = 0 ]; then
  echo "skipped tests: 0 (every client ran)"
else
  echo "skipped tests: $skips (a green run did NOT exercise these clients):"
  sort "$SKIP_LOG" | uniq -c
fi
rm -f "$SKIP_LOG"
exit "$failed"
