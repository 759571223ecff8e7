#!/usr/bin/env bash
# bench/run.sh: packgate against Verdaccio and nginx on this machine (loopback only).
#
#   bench/run.sh                   full run: every part, on each stack BENCH_STACK selects (default
#                                  both; about 16 minutes per stack plus the build), report in
#                                  bench/results/<date>.md
#   BENCH_ONLY=cargo bench/run.sh  only the cargo registry reads (about 1.5 minutes per stack),
#                                  bench/results/<date>-cargo.md
#   BENCH_ONLY=npm bench/run.sh    only the npm part (reads, publishes, 1 GiB test), bench/results/<date>-npm.md
#   BENCH_ONLY=rubygems bench/run.sh  only the RubyGems compact-index reads at 10,000 gems (about
#                                  3 minutes per stack), bench/results/<date>-rubygems.md
#   BENCH_ONLY=nuget bench/run.sh  only the NuGet v3 feed reads (about 2.5 minutes per stack: 12 wrk
#                                  runs), bench/results/<date>-nuget.md
#   BENCH_ONLY=proxy bench/run.sh  only the npm proxy part (hits, cold installs, 1 GiB through a cold
#                                  proxy; about 4 minutes per stack), bench/results/<date>-proxy.md
#   BENCH_STACK=pg-s3 bench/run.sh one stack only: bench/results/<date>[-part]-<stack>.md
#
# Environment:
#   BENCH_ONLY       npm, cargo, rubygems, nuget or proxy: run only that part (default: all five)
#   BENCH_STACK      sqlite (SQLite + filesystem blobs), pg-s3 (PostgreSQL from tools/pg-up.sh and an
#                    S3 server from tools/s3-up.sh, as tools/test.sh uses them) or both (the selected
#                    parts on each stack in turn, one report with both sets of figures). Default: both
#                    when PostgreSQL is installed and s3s-fs is built (nothing to fetch from the network;
#                    pg-up.sh needs root), else sqlite with a note in the report saying why
#   BENCH_GEMS       single-version gems the rubygems part pushes (default 10000)
#   BENCH_PROXY_VERSIONS  versions of the package the proxy part publishes upstream (default 50)
#   BENCH_PROXY_ROUNDS    rounds of cold installs in the proxy part (default 3; the median is reported)
#   BENCH_PROXY_COLD=0    skip the proxy part's cold installs (hits and the group figures only)
#   PACKGATE_BIN     packgate binary to test as is (default: $CARGO_TARGET_DIR/release/packgate, which
#                    `cargo build --release` brings up to date first)
#   CARGO_TARGET_DIR default $HOME/.cache/packgate-target
#   BENCH_CACHE      where Verdaccio is npm-installed and the express tree's tarballs are kept
#                    (default $HOME/.cache/packgate-bench)
#   BENCH_DURATION   seconds per wrk run (default 10, at most 15)
#   BENCH_SKIP_GIB=1 skip the 1 GiB streaming-memory tests (npm part and proxy part)
#   BENCH_KEEP=1     keep the temp directory (logs, data dirs) for inspection
#   BENCH_RESULTS    directory the report goes to (default bench/results)
#
# Every server it starts listens on 127.0.0.1 only and is stopped (by PID) on exit; so is the S3
# server (s3s-fs, on a free port, its objects under the temp directory) when the pg-s3 stack runs.
# PostgreSQL is shared with the tests: each packgate instance gets its own database
# (pgbench_<pid>_<n>), dropped on exit; the cluster is left running, as tools/test.sh leaves it.
# Loads are bounded: each wrk run lasts BENCH_DURATION seconds, each publish test sends 200
# requests, the gem seeding BENCH_GEMS + 50 pushes (4 at a time), the NuGet seeding 201 pushes
# (4 at a time), the proxy part's seeding BENCH_PROXY_VERSIONS + 1 publishes, the express tree ~70
# `npm publish` runs (4 at a time) and 2 x BENCH_PROXY_ROUNDS `npm install`s.
# The npm part compares packgate with Verdaccio and nginx; the cargo part (sparse index file with
# and without If-None-Match, .crate download) compares packgate with nginx serving the same bytes;
# the rubygems part pushes BENCH_GEMS gems (4 concurrent pushers) and compares the compact index
# (`versions` full, 304 and 1-byte Range; `info/NAME` full and 304) with nginx serving the same
# bytes, then times the first `versions` GET after each of 5 more pushes (the re-render); the nuget
# part pushes Bench.Package (200 versions, so its registration is paged) and Bench.Package.Big (a
# 1 MiB .nupkg) through the push API (multipart PUT, 4 concurrent pushers) and compares the
# flat-container version list and the registration index (full and 304), the first registration
# page (rendered per request) and the 1 MiB .nupkg download with nginx serving the same bytes.
# The proxy part publishes bench-proxy (BENCH_PROXY_VERSIONS versions) and bench-proxy-1m (1 MiB)
# to packgate's hosted npm repository, starts a second packgate whose `npmjs` repository proxies it
# (metadata_ttl 1h), warms the proxy's cache and compares hits (abbreviated packument, 1 MiB
# tarball) on the hosted repository, through the proxy and from nginx; then times a cold
# `npm install express@4` straight from the hosted repository against one through a fresh proxy
# (the express tree's real tarballs, downloaded once with npm from its default registry into
# BENCH_CACHE and published to the hosted repository); then samples the RSS of a cold proxy while
# two clients fetch a 1 GiB tarball through it at once.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PY="python3 $HERE/pgbench.py"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/packgate-target}"
PG="${PACKGATE_BIN:-$CARGO_TARGET_DIR/release/packgate}"
CACHE="${BENCH_CACHE:-$HOME/.cache/packgate-bench}"
DUR="${BENCH_DURATION:-10}"
((DUR >= 1 && DUR <= 15)) || { echo "BENCH_DURATION must be 1..15" >&2; exit 2; }
ONLY="${BENCH_ONLY:-}"
case "$ONLY" in "" | npm | cargo | rubygems | nuget | proxy) ;; *) echo "BENCH_ONLY must be npm, cargo, rubygems, nuget or proxy" >&2; exit 2 ;; esac
part() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }  # part npm|cargo|rubygems|nuget|proxy: is that part in this run?
NGEMS="${BENCH_GEMS:-10000}"
((NGEMS >= 1 && NGEMS <= 99999)) || { echo "BENCH_GEMS must be 1..99999" >&2; exit 2; }
PXV="${BENCH_PROXY_VERSIONS:-50}"
((PXV >= 1 && PXV <= 400)) || { echo "BENCH_PROXY_VERSIONS must be 1..400" >&2; exit 2; }
PXROUNDS="${BENCH_PROXY_ROUNDS:-3}"
((PXROUNDS >= 1 && PXROUNDS <= 9)) || { echo "BENCH_PROXY_ROUNDS must be 1..9" >&2; exit 2; }
RESULTS="${BENCH_RESULTS:-$HERE/results}"
TOOLS_ROOT="${PACKGATE_TOOLS_ROOT:-$HOME/.cache/packgate-tools}"
# pgs3_missing: why PostgreSQL + S3 cannot be brought up without the network (nothing if they can):
# tools/pg-up.sh installs PostgreSQL with apt when it is missing, tools/s3-up.sh builds s3s-fs
# from crates.io when it is missing.
pgs3_missing() {
  if [ "$(id -u)" != 0 ]; then
    echo "tools/pg-up.sh needs root"
  elif ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || ! command -v pg_lsclusters >/dev/null ||
    ! command -v psql >/dev/null; then
    echo "PostgreSQL is not installed (tools/pg-up.sh would install it from the network)"
  elif [ ! -x "$TOOLS_ROOT/bin/s3s-fs" ]; then
    echo "s3s-fs is not built (tools/s3-up.sh would build it from crates.io)"
  fi
}
STACK="${BENCH_STACK:-}"
STACK_NOTE=""
if [ -z "$STACK" ]; then
  why="$(pgs3_missing)"
  if [ -z "$why" ]; then
    STACK=both
  else
    STACK=sqlite
    STACK_NOTE="BENCH_STACK defaulted to sqlite because $why; BENCH_STACK=both or pg-s3 brings PostgreSQL + S3 up anyway"
  fi
fi
case "$STACK" in sqlite | pg-s3 | both) ;; *) echo "BENCH_STACK must be sqlite, pg-s3 or both" >&2; exit 2 ;; esac
VERDACCIO_VERSION_SPEC="6"

log() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

# ------------------------------------------------------------------------------------- installs
ensure_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    local SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    # Debian starts nginx on port 80 after install unless policy-rc.d forbids it: forbid it.
    local made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
      $SUDO chmod +x /usr/sbin/policy-rc.d
      made_policy=1
    fi
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}" >/dev/null 2>&1; then
      $SUDO apt-get update >/dev/null
      if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}" >/dev/null; then
        # nginx-light is gone from newer Debian releases: fall back to nginx
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]/nginx-light/nginx}" >/dev/null
      fi
    fi
    [ -n "$made_policy" ] && $SUDO rm -f /usr/sbin/policy-rc.d
  fi
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
  VERDACCIO="$CACHE/node_modules/verdaccio/bin/verdaccio"
  if part npm && [ ! -f "$VERDACCIO" ]; then
    log "installing verdaccio@$VERDACCIO_VERSION_SPEC into $CACHE"
    mkdir -p "$CACHE"
    # verdaccio-audit asks for node-fetch by a dist-tag ("cjs") that registry mirrors may not carry;
    # the override pins the version that tag names.
    [ -f "$CACHE/package.json" ] || echo '{"private":true,"overrides":{"node-fetch":"2.7.0"}}' >"$CACHE/package.json"
    (cd "$CACHE" && NPM_CONFIG_UPDATE_NOTIFIER=false npm install --no-audit --no-fund --loglevel=error \
      "verdaccio@$VERDACCIO_VERSION_SPEC" >/dev/null)
  fi
  if [ -z "${PACKGATE_BIN:-}" ]; then
    # a no-op when the binary is current; otherwise the results would describe an older tree
    log "building packgate (release; a no-op when up to date)"
    (cd "$ROOT" && nice cargo build --release --bin packgate --quiet)
  fi
  [ -x "$PG" ] || { echo "no packgate binary at $PG" >&2; exit 1; }
}

# ------------------------------------------------------------------------------------ lifecycle
PIDS=()          # servers, samplers, clients and (BENCH_STACK=both) per-stack runs started here, stopped on exit
NGINX_PID=""
WORK=""
RES=""
PG_ADMIN_URL=""  # pg-s3: the URL tools/pg-up.sh printed; databases are created next to its database
PG_DBS=()        # pg-s3: databases created here, dropped on exit
STACK_CHILD=""   # BENCH_STACK=both: the run of one stack in progress
cleanup() {
  local rc=$?
  set +e
  if [ -n "$STACK_CHILD" ]; then
    # its own trap stops its servers: give it time to (a wrk run in progress finishes first)
    kill "$STACK_CHILD" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$STACK_CHILD" 2>/dev/null || break; sleep 0.1; done
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null
  for p in "${PIDS[@]}" $NGINX_PID; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  for db in "${PG_DBS[@]}"; do
    psql "$PG_ADMIN_URL" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ||
      echo "could not drop database $db" >&2
  done
  # a stack run for BENCH_STACK=both hands its results to the parent, even when it failed
  if [ -n "${BENCH_INTERNAL_TSV:-}" ] && [ -n "$RES" ] && [ -f "$RES" ]; then
    [ "$rc" = 0 ] || printf 'notes.+\t"the run on this stack stopped early (exit %s): its figures are incomplete, see the log"\n' "$rc" >>"$RES"
    cp "$RES" "$BENCH_INTERNAL_TSV"
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${BENCH_KEEP:-}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/{print $2}' "/proc/$1/status"; }
sample_rss() {  # PID FILE: VmRSS (KiB) every 0.2 s until killed
  while :; do rss_kib "$1" >>"$2" 2>/dev/null || break; sleep 0.2; done
}
max_of() { sort -n "$1" | tail -1; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
jstr() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
record() { printf '%s\t%s\n' "$1" "$2" >>"$RES"; }
# settle_load KEY: the 1-minute load average still carries the build and the seeding; wait up to
# 60 s for it to fall below 1.5, then record the load average under KEY.
settle_load() {
  for _ in $(seq 60); do
    awk '{exit !($1 < 1.5)}' /proc/loadavg && break
    sleep 1
  done
  record "$1" "\"$(cut -d" " -f1-3 /proc/loadavg)\""
}
note() { record "notes.+" "$(jstr "$1")"; echo "note: $1" >&2; }

# instance_config DIR [TOML]: writes DIR/packgate.toml for one packgate instance of this run's stack
# (pg-s3: a new database and its own S3 key prefix; sqlite: SQLite + blobs under DIR), with TOML
# (e.g. [[repository]] tables) appended. Without repositories packgate serves its default hosted
# ones (npm, cargo, rubygems, nuget).
DBN=0
instance_config() {
  local dir="$1" extra="${2:-}" db=""
  mkdir -p "$dir"
  if [ "$STACK" = pg-s3 ]; then
    DBN=$((DBN + 1))
    db="pgbench_$$_$DBN"
    psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE $db" >/dev/null
    PG_DBS+=("$db")
  fi
  {
    if [ "$STACK" = pg-s3 ]; then
      printf '[database]\nurl = "%s"\n\n' "${PG_ADMIN_URL%/*}/$db"
      printf '[storage]\ntype = "s3"\nbucket = "%s"\nregion = "%s"\nendpoint = "%s"\n' "$S3_BUCKET" "$S3_REGION" "$S3_ENDPOINT"
      printf 'access_key_id = "%s"\nsecret_access_key = "%s"\nforce_path_style = true\nprefix = "%s/"\n\n' \
        "$S3_ACCESS_KEY" "$S3_SECRET_KEY" "$(basename "$dir")-$DBN"
    else
      printf '[storage]\ntype = "filesystem"\n\n'
    fi
    printf '%s\n' "$extra"
  } >"$dir/packgate.toml"
}

# group_repos: the hosted member and the group the proxy part's instance declares beside its proxy
# (bench-proxy and bench-big may come from both members: allow_upstream)
group_repos() {
  printf '\n[[repository]]\nname = "npm-internal"\nformat = "npm"\n'
  printf '\n[[repository]]\nname = "npm-all"\nformat = "npm"\ntype = "group"\nmembers = ["npm-internal", "npmjs"]\n'
  printf 'allow_upstream = ["bench-proxy", "bench-big"]\n'
}

# proxy_repo UPSTREAM: the proxy repository the proxy part declares
proxy_repo() {
  printf '[[repository]]\nname = "npmjs"\nformat = "npm"\ntype = "proxy"\nupstream = "%s"\nmetadata_ttl = "1h"\n' "$1"
}

# start_packgate DIR [env...]: starts `packgate serve` on a free loopback port with DIR/packgate.toml
# (written by instance_config when missing); sets PG_PID, PG_PORT
start_packgate() {
  local dir="$1"; shift
  mkdir -p "$dir"
  [ -f "$dir/packgate.toml" ] || instance_config "$dir"
  # The bench reads /metrics between runs: open them where this binary restricts them to admins.
  local open_metrics=()
  if grep -qa metrics_access "$PG"; then open_metrics=(PACKGATE__SERVER__METRICS_ACCESS=public); fi
  env "${open_metrics[@]}" "$@" "$PG" serve --config "$dir/packgate.toml" --listen 127.0.0.1:0 --data-dir "$dir" \
    >"$dir/stdout.log" 2>"$dir/stderr.log" &
  PG_PID=$!
  PIDS+=("$PG_PID")
  for _ in $(seq 300); do
    if grep -q 'listening on http://127.0.0.1:' "$dir/stdout.log" 2>/dev/null; then break; fi
    kill -0 "$PG_PID" 2>/dev/null || { cat "$dir/stderr.log" >&2; echo "packgate did not start" >&2; exit 1; }
    sleep 0.1
  done
  PG_PORT="$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$dir/stdout.log" | head -1)"
  [ -n "$PG_PORT" ] || { echo "packgate did not report its port" >&2; exit 1; }
}

packgate_token() {
  local dir="$1"
  echo "bench-password-1" | "$PG" user add bench --password-stdin --config "$dir/packgate.toml" --data-dir "$dir" >/dev/null
  "$PG" token create bench --config "$dir/packgate.toml" --data-dir "$dir" | tail -1
}

# stop_pid PID...: TERM, wait up to 5 s for each, and forget them (the exit trap no longer signals
# a PID that may have been reused)
stop_pid() {
  local p q keep
  for p in "$@"; do
    if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi   # it may have exited already
  done
  for p in "$@"; do
    [ -n "$p" ] || continue
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    keep=()
    for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
    PIDS=("${keep[@]}")
  done
  return 0
}

wait_http() {  # URL: wait until it answers 200
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2; exit 1
}

# --------------------------------------------------------------------------------------- checks
ensure_tools
mkdir -p "$RESULTS"
WORK="$(mktemp -d /tmp/packgate-bench.XXXXXX)"
chmod 755 "$WORK"   # nginx workers may run as another user
DATE="$(date -u +%Y-%m-%d)"
SUFFIX="${ONLY:+-$ONLY}"   # a partial run never overwrites the day's full report,
[ "$STACK" = both ] || SUFFIX="$SUFFIX-$STACK"   # nor does a run on one stack
OUT="$RESULTS/$DATE$SUFFIX.md"

# ------------------------------------------------------------------------------- both stacks
# Each stack runs in its own run of this script (its own temp dir, servers and exit trap) with the
# binary built above; each hands back its results.tsv, and the report shows both side by side. The
# combined .tsv holds each stack's lines under the prefix stacks.<stack>.
if [ "$STACK" = both ]; then
  rc=0
  : >"$WORK/all.tsv"
  for st in sqlite pg-s3; do
    log "stack $st (BENCH_STACK=both: sqlite, then pg-s3)"
    BENCH_STACK="$st" BENCH_INTERNAL_TSV="$WORK/$st.tsv" PACKGATE_BIN="$PG" bash "$HERE/run.sh" &
    STACK_CHILD=$!
    if wait "$STACK_CHILD"; then :; else c=$?; rc=$c; echo "stack $st: the run failed (exit $c)" >&2; fi
    STACK_CHILD=""
    if [ -s "$WORK/$st.tsv" ]; then sed "s/^/stacks.$st./" "$WORK/$st.tsv" >>"$WORK/all.tsv"; fi
  done
  [ -s "$WORK/all.tsv" ] || exit 1
  log "report"
  cp "$WORK/all.tsv" "$RESULTS/$DATE$SUFFIX.tsv"
  $PY table "$WORK/all.tsv" "$OUT" >/dev/null
  echo "written: $OUT (raw values: $RESULTS/$DATE$SUFFIX.tsv)" >&2
  exit "$rc"
fi

RES="$WORK/results.tsv"
: >"$RES"
PG_VERSION="$("$PG" --version | awk '{print $2}')"
GIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && [ -n "$(git status --porcelain -- src formats migrations 2>/dev/null)" ] && echo '+dirty' || true)"
record date "\"$(date -u +'%Y-%m-%d %H:%M UTC')\""
record machine "\"$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -r)), shared with other work\""
record packgate_version "\"$PG_VERSION\""
record git "\"$GIT\""
record parts "\"${ONLY:-npm+cargo+rubygems+nuget+proxy}\""
[ -z "$STACK_NOTE" ] || note "$STACK_NOTE"

# ------------------------------------------------------------------------------------- stack
record stack "\"$STACK\""
if [ "$STACK" = pg-s3 ]; then
  log "bringing up PostgreSQL (tools/pg-up.sh) and an S3 server (tools/s3-up.sh, free port, objects under $WORK/s3)"
  pg_env="$("$ROOT/tools/pg-up.sh")" || { echo "tools/pg-up.sh failed" >&2; exit 1; }
  # shellcheck disable=SC2154 # DATABASE_URL and S3_* are assigned by the evals
  eval "$pg_env"
  PG_ADMIN_URL="$DATABASE_URL"
  s3_env="$(S3_PORT="$(free_port)" S3_ROOT="$WORK/s3" S3_BUCKET=packgate-bench "$ROOT/tools/s3-up.sh")" ||
    { echo "tools/s3-up.sh failed" >&2; exit 1; }
  eval "$s3_env"
  [ "$S3_STARTED" = 1 ] && PIDS+=("$S3_PID")
  pg_setting() { psql "$PG_ADMIN_URL" -tAc "SHOW $1" | awk '{print $1}'; }
  record stack_label "\"PostgreSQL $(pg_setting server_version) (fsync $(pg_setting fsync), synchronous_commit $(pg_setting synchronous_commit); a database per packgate instance; the cluster is shared with other work) + S3 ($("$TOOLS_ROOT/bin/s3s-fs" --version 2>/dev/null | head -1 || echo s3s-fs) on 127.0.0.1, objects as files on the same disk; a key prefix per packgate instance)\""
  echo "PostgreSQL at $PG_ADMIN_URL, S3 at $S3_ENDPOINT (bucket $S3_BUCKET, s3s-fs pid $S3_PID)" >&2
else
  record stack_label '"SQLite + filesystem blobs (each packgate instance: its own data dir)"'
fi
if part npm; then
  record verdaccio_version "\"$(node -e "console.log(require('$CACHE/node_modules/verdaccio/package.json').version)")\""
  record node_version "\"$(node --version)\""
fi
record nginx_version "\"$("$NGINX" -v 2>&1 | sed 's#.*version: ##')\""
record duration "$DUR"
record loadavg "\"$(cut -d" " -f1-3 /proc/loadavg)\""

# -------------------------------------------------------------------------- tarballs on disk
TGZ="$WORK/tgz"    # npm tarballs
CRATES="$WORK/crates"  # .crate files
NUPKGS="$WORK/nupkgs"  # .nupkg files
mkdir -p "$TGZ" "$CRATES" "$NUPKGS"
if part npm; then
  log "generating tarballs"
  $PY tgz --name bench-1m --version 1.0.0 --size 1MiB --out "$TGZ/bench-1m-1.0.0.tgz" >/dev/null
  $PY tgz --name bench-50m --version 1.0.0 --size 50MiB --out "$TGZ/bench-50m-1.0.0.tgz" >/dev/null
fi
if part cargo; then
  log "generating the 1 MiB .crate"
  $PY crate --name bench-crate-1m --version 1.0.0 --size 1MiB --out "$CRATES/bench-crate-1m-1.0.0.crate" >/dev/null
fi
if part nuget; then
  log "generating the 1 MiB .nupkg"
  $PY nupkg --id Bench.Package.Big --version 1.0.0 --size 1MiB --out "$NUPKGS/bench.package.big.1.0.0.nupkg" >/dev/null
fi
if part proxy; then
  log "generating the proxy part's 1 MiB tarball"
  $PY tgz --name bench-proxy-1m --version 1.0.0 --size 1MiB --out "$TGZ/bench-proxy-1m-1.0.0.tgz" >/dev/null
fi

# ---------------------------------------------------------------------------------- packgate
log "starting packgate"
start_packgate "$WORK/packgate"
PGA_PID=$PG_PID PGA_PORT=$PG_PORT
sleep 1
record memory.packgate.idle "$(rss_kib "$PGA_PID")"
PGA_TOKEN="$(packgate_token "$WORK/packgate")"
PGA_REG="http://127.0.0.1:$PGA_PORT/npm/"
PGA_CARGO="http://127.0.0.1:$PGA_PORT/cargo/"   # the default hosted cargo repository
PGA_GEMS="http://127.0.0.1:$PGA_PORT/rubygems/" # the default hosted RubyGems source
PGA_NUGET="http://127.0.0.1:$PGA_PORT/nuget/v3/" # the default hosted NuGet feed
echo "packgate pid $PGA_PID on http://127.0.0.1:$PGA_PORT/" >&2

# --------------------------------------------------------------------------------- Verdaccio
VD_PID="" VD_REG=""
if part npm; then
  log "starting Verdaccio"
  VD_PORT="$(free_port)"
  VD_DIR="$WORK/verdaccio"
  mkdir -p "$VD_DIR/storage"
  cat >"$VD_DIR/config.yaml" <<EOF
storage: $VD_DIR/storage
auth:
  htpasswd:
    file: $VD_DIR/htpasswd
    max_users: -1
uplinks: {}
packages:
  '**':
    access: \$all
    publish: \$all
    unpublish: \$all
max_body_size: 200mb
listen: 127.0.0.1:$VD_PORT
log: { type: stdout, format: pretty, level: http }
EOF
  node "$VERDACCIO" --config "$VD_DIR/config.yaml" --listen "127.0.0.1:$VD_PORT" >"$VD_DIR/verdaccio.log" 2>&1 &
  VD_PID=$!
  PIDS+=("$VD_PID")
  wait_http "http://127.0.0.1:$VD_PORT/-/ping"
  sleep 2
  record memory.verdaccio.idle "$(rss_kib "$VD_PID")"
  VD_REG="http://127.0.0.1:$VD_PORT/"
  echo "Verdaccio pid $VD_PID on $VD_REG" >&2
fi

# -------------------------------------------------------------------------------------- seed
if part npm; then
  log "publishing bench-pkg (200 versions), bench-1m, bench-50m to packgate and Verdaccio"
  SEED_FILES=(--file "bench-1m:1.0.0:$TGZ/bench-1m-1.0.0.tgz" --file "bench-50m:1.0.0:$TGZ/bench-50m-1.0.0.tgz")
  $PY seed --registry "$PGA_REG" --token "$PGA_TOKEN" --name bench-pkg --versions 200 --tgz-dir "$TGZ/small" "${SEED_FILES[@]}"
  $PY seed --registry "$VD_REG" --name bench-pkg --versions 200 --tgz-dir "$TGZ/small" "${SEED_FILES[@]}"
fi
if part cargo; then
  log "publishing crates bench-crate (200 versions) and bench-crate-1m to packgate"
  $PY cargo-seed --registry "$PGA_CARGO" --token "$PGA_TOKEN" --name bench-crate --versions 200 \
    --crate-dir "$CRATES/small" --file "bench-crate-1m:1.0.0:$CRATES/bench-crate-1m-1.0.0.crate"
fi
if part rubygems; then
  log "pushing $NGEMS single-version gems and bench-gem (50 versions) to packgate, 4 concurrent pushers"
  c0="$($PY cpu "$PGA_PID")"; b0="$($PY busy)"
  j="$($PY gem-seed --registry "$PGA_GEMS" --token "$PGA_TOKEN" --count "$NGEMS" --prefix bench-gem- \
    --multi-name bench-gem --multi-versions 50 --workers 4)"
  c1="$($PY cpu "$PGA_PID")"; b1="$($PY busy)"
  j="${j%\}}, \"server_cpu\": $(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b-a}'), \"machine_cpu\": $(awk -v a="$b0" -v b="$b1" 'BEGIN{printf "%.2f", b-a}'), \"rss_kib\": $(rss_kib "$PGA_PID")}"
  record gseed "$j"; echo "gem seeding: $j" >&2
fi
if part nuget; then
  log "pushing Bench.Package (200 versions) and Bench.Package.Big (1 MiB) to packgate, 4 concurrent pushers"
  c0="$($PY cpu "$PGA_PID")"; b0="$($PY busy)"
  j="$($PY nuget-seed --registry "$PGA_NUGET" --token "$PGA_TOKEN" --id Bench.Package --versions 200 \
    --file "Bench.Package.Big:1.0.0:$NUPKGS/bench.package.big.1.0.0.nupkg" --workers 4)"
  c1="$($PY cpu "$PGA_PID")"; b1="$($PY busy)"
  j="${j%\}}, \"server_cpu\": $(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b-a}'), \"machine_cpu\": $(awk -v a="$b0" -v b="$b1" 'BEGIN{printf "%.2f", b-a}'), \"rss_kib\": $(rss_kib "$PGA_PID")}"
  record nseed "$j"; echo "nuget seeding: $j" >&2
fi
if part proxy; then
  log "publishing bench-proxy ($PXV versions) and bench-proxy-1m to packgate (the proxy part's upstream)"
  $PY seed --registry "$PGA_REG" --token "$PGA_TOKEN" --name bench-proxy --versions "$PXV" --tgz-dir "$TGZ/proxy-small" \
    --file "bench-proxy-1m:1.0.0:$TGZ/bench-proxy-1m-1.0.0.tgz"
fi
record memory.packgate.after_seed "$(rss_kib "$PGA_PID")"
part npm && record memory.verdaccio.after_seed "$(rss_kib "$VD_PID")"

# ------------------------------------------------------------------------------------- nginx
# nginx serves, as static files, the bytes packgate answers with: packuments and tarballs under
# /npm/, the index file and the .crate under the same paths as packgate's /cargo/, the compact
# index under /rubygems/, the NuGet documents and the .nupkg under /nuget/v3/.
log "starting nginx"
NG="$WORK/nginx"
mkdir -p "$NG/www/packuments" "$NG/tmp" "$NG/logs"
: >"$NG/www/ping"
CRATE_IDX="index/be/nc/bench-crate"                              # cargo.md §3.1: be/nc/ for bench-crate
CRATE_DL="api/v1/crates/bench-crate-1m/1.0.0/download"
GEM_INFO="info/bench-gem"
NU_FLAT="flatcontainer/bench.package/index.json"
NU_REG="registration/bench.package/index.json"
NU_PAGE=""                                                       # from the registration index
NU_DL="flatcontainer/bench.package.big/1.0.0/bench.package.big.1.0.0.nupkg"
if part npm; then
  for n in bench-1m bench-50m; do
    mkdir -p "$NG/www/npm/$n/-"
    cp "$TGZ/$n-1.0.0.tgz" "$NG/www/npm/$n/-/"
  done
  curl -sf -H 'Accept: application/json' "${PGA_REG}bench-pkg" -o "$NG/www/packuments/bench-pkg.full.json"
  curl -sf -H 'Accept: application/vnd.npm.install-v1+json' "${PGA_REG}bench-pkg" -o "$NG/www/packuments/bench-pkg.corgi.json"
fi
if part cargo; then
  mkdir -p "$NG/www/cargo/$(dirname "$CRATE_IDX")" "$NG/www/cargo/$(dirname "$CRATE_DL")"
  curl -sf "${PGA_CARGO}$CRATE_IDX" -o "$NG/www/cargo/$CRATE_IDX"
  cp "$CRATES/bench-crate-1m-1.0.0.crate" "$NG/www/cargo/$CRATE_DL"
fi
if part rubygems; then
  mkdir -p "$NG/www/rubygems/info"
  curl -sf "${PGA_GEMS}versions" -o "$NG/www/rubygems/versions"
  curl -sf "${PGA_GEMS}$GEM_INFO" -o "$NG/www/rubygems/$GEM_INFO"
fi
if part nuget; then
  for f in "$NU_FLAT" "$NU_REG"; do
    mkdir -p "$NG/www/nuget/v3/$(dirname "$f")"
    curl -sf "${PGA_NUGET}$f" -o "$NG/www/nuget/v3/$f"
  done
  # 200 versions: the index links pages of 64 without items; take the first page's URL
  NU_PAGE="$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); p=d["items"][0]["@id"]
assert p.startswith(sys.argv[2]) and "items" not in d["items"][0], p
print(p[len(sys.argv[2]):])' "$NG/www/nuget/v3/$NU_REG" "$PGA_NUGET")"
  mkdir -p "$NG/www/nuget/v3/$(dirname "$NU_PAGE")" "$NG/www/nuget/v3/$(dirname "$NU_DL")"
  curl -sf "${PGA_NUGET}$NU_PAGE" -o "$NG/www/nuget/v3/$NU_PAGE"
  cp "$NUPKGS/bench.package.big.1.0.0.nupkg" "$NG/www/nuget/v3/$NU_DL"
fi
if part proxy; then
  mkdir -p "$NG/www/npm/bench-proxy-1m/-"
  cp "$TGZ/bench-proxy-1m-1.0.0.tgz" "$NG/www/npm/bench-proxy-1m/-/"
  curl -sf -H 'Accept: application/vnd.npm.install-v1+json' "${PGA_REG}bench-proxy" -o "$NG/www/packuments/bench-proxy.corgi.json"
fi
chmod -R a+rX "$NG/www" "$TGZ" "$CRATES" "$NUPKGS"
NG_PORT="$(free_port)"
cat >"$NG/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path $NG/tmp/body;
  proxy_temp_path $NG/tmp/proxy;
  fastcgi_temp_path $NG/tmp/fastcgi;
  uwsgi_temp_path $NG/tmp/uwsgi;
  scgi_temp_path $NG/tmp/scgi;
  map \$http_accept \$variant {
    "~application/vnd\.npm\.install-v1\+json" corgi;
    default full;
  }
  server {
    listen 127.0.0.1:$NG_PORT;
    root $NG/www;
    # a named capture: evaluating the map's regex would overwrite \$1
    location ~ ^/npm/(?<pkg>[^/]+)\$ {
      default_type application/json;
      try_files /packuments/\$pkg.\$variant.json =404;
    }
    # static index files: nginx's own ETag ("mtime-size") and If-None-Match handling
    location /cargo/index/ {
      default_type text/plain;
    }
    # the compact index as static files: nginx's own ETag, If-None-Match and Range handling
    location /rubygems/ {
      default_type text/plain;
    }
    # the NuGet documents and the .nupkg as static files: nginx's own ETag and If-None-Match
    location /nuget/ {
      types { application/json json; application/octet-stream nupkg; }
      charset utf-8;
      charset_types application/json;
    }
  }
}
EOF
"$NGINX" -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" &
NGINX_PID=$!
wait_http "http://127.0.0.1:$NG_PORT/ping"
NG_REG="http://127.0.0.1:$NG_PORT/npm/"
NG_CARGO="http://127.0.0.1:$NG_PORT/cargo/"
NG_GEMS="http://127.0.0.1:$NG_PORT/rubygems/"
NG_NUGET="http://127.0.0.1:$NG_PORT/nuget/v3/"
echo "nginx pid $NGINX_PID on http://127.0.0.1:$NG_PORT/" >&2
declare -A REG=([packgate]="$PGA_REG" [verdaccio]="$VD_REG" [nginx]="$NG_REG")
declare -A CARGO=([packgate]="$PGA_CARGO" [nginx]="$NG_CARGO")
declare -A GEMS=([packgate]="$PGA_GEMS" [nginx]="$NG_GEMS")
declare -A NUGET=([packgate]="$PGA_NUGET" [nginx]="$NG_NUGET")
declare -A SPID=([packgate]="$PGA_PID" [verdaccio]="$VD_PID" [nginx]="$NGINX_PID")
declare -A MPORT=([packgate]="$PGA_PORT")   # targets whose /metrics run_wrk reads (the proxy part adds one)

# ---------------------------------------------------------------------------------------- wrk
# run_wrk ID TARGET CONNS URL [HEADER...]  (empty headers are skipped). For the target `proxy`, the
# requests its upstream (packgate) and the proxy itself counted during the run are recorded too.
run_wrk() {
  local id="$1" tgt="$2" conns="$3" url="$4"
  local out="$WORK/wrk.$id.$tgt.txt"
  local args=(-t2 "-c$conns" "-d${DUR}s" --latency --timeout 10s)
  local hdr mport="${MPORT[$tgt]:-}"
  for hdr in "${@:5}"; do [ -n "$hdr" ] && args+=(-H "$hdr"); done
  if [ -n "$mport" ]; then curl -sf "http://127.0.0.1:$mport/metrics" -o "$WORK/m0"; fi
  if [ "$tgt" = proxy ]; then curl -sf "http://127.0.0.1:$PGA_PORT/metrics" -o "$WORK/u0"; fi
  local c0; c0="$($PY cpu "${SPID[$tgt]}")"
  local b0; b0="$($PY busy)"
  local TIMEFORMAT='%U %S'
  { time wrk "${args[@]}" "$url" >"$out"; } 2>"$out.time"
  local c1; c1="$($PY cpu "${SPID[$tgt]}")"
  local b1; b1="$($PY busy)"
  local j; j="$($PY wrkparse "$out")"
  local wcpu; wcpu="$(awk '{printf "%.2f", $1+$2}' "$out.time")"
  local extra=""
  if [ -n "$mport" ]; then
    curl -sf "http://127.0.0.1:$mport/metrics" >"$WORK/m1"
    extra="$(python3 - "$WORK/m0" "$WORK/m1" "$HERE/pgbench.py" <<'EOF'
import json, subprocess, sys
a = json.loads(subprocess.check_output([sys.executable, sys.argv[3], "metrics", sys.argv[1]]))
b = json.loads(subprocess.check_output([sys.executable, sys.argv[3], "metrics", sys.argv[2]]))
best = None
for route, v in b.items():
    u = a.get(route, {"sum": 0, "count": 0})
    n = v["count"] - u["count"]
    if n > 0 and (best is None or n > best[0]):
        best = (n, (v["sum"] - u["sum"]) / n * 1000)
print(f',"server_mean_ms":{best[1]:.4f}' if best else "")
EOF
)"
  fi
  if [ "$tgt" = proxy ]; then
    curl -sf "http://127.0.0.1:$PGA_PORT/metrics" -o "$WORK/u1"
    extra+=",\"upstream\":$($PY reqdelta "$WORK/u0" "$WORK/u1"),\"proxy\":$($PY reqdelta "$WORK/m0" "$WORK/m1")"
  fi
  j="${j%\}},\"server_cpu\":$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b-a}'),\"wrk_cpu\":$wcpu,\"other_cpu\":$(awk -v a="$b0" -v b="$b1" -v s="$c0" -v t="$c1" -v w="$wcpu" 'BEGIN{o=(b-a)-(t-s)-w; if(o<0)o=0; printf "%.2f", o}')$extra}"
  record "wrk.$id.$tgt" "$j"
  echo "$id $tgt: $j" >&2
  sleep 1
}

# ================================================================================== npm part
if part npm; then
  log "npm: checking that every target serves the same documents and bytes"
  for t in packgate verdaccio nginx; do
    curl -sf -H 'Accept: application/json' "${REG[$t]}bench-pkg" -o "$WORK/check.json"
    n="$($PY count "$WORK/check.json")"
    [ "$n" = 200 ] || { echo "$t: bench-pkg has $n versions, want 200" >&2; exit 1; }
    record "sizes.$t full packument" "$(stat -c %s "$WORK/check.json")"
    curl -sf -H 'Accept: application/vnd.npm.install-v1+json' "${REG[$t]}bench-pkg" -o "$WORK/check.json"
    n="$($PY count "$WORK/check.json")"
    [ "$n" = 200 ] || { echo "$t: abbreviated bench-pkg has $n versions, want 200" >&2; exit 1; }
    record "sizes.$t abbreviated" "$(stat -c %s "$WORK/check.json")"
    for n in bench-1m bench-50m; do
      want="$(sha1sum <"$TGZ/$n-1.0.0.tgz" | cut -d' ' -f1)"
      got="$(curl -sf "${REG[$t]}$n/-/$n-1.0.0.tgz" | sha1sum | cut -d' ' -f1)"
      [ "$want" = "$got" ] || { echo "$t: $n tarball differs" >&2; exit 1; }
    done
  done
  record "sizes.1 MiB tarball" "$(stat -c %s "$TGZ/bench-1m-1.0.0.tgz")"
  record "sizes.50 MiB tarball" "$(stat -c %s "$TGZ/bench-50m-1.0.0.tgz")"

  TESTS=(
    "pk_full|packument bench-pkg, full (200 versions), 64 conns|64|bench-pkg|Accept: application/json"
    "pk_abbr|packument bench-pkg, abbreviated, 64 conns|64|bench-pkg|Accept: application/vnd.npm.install-v1+json"
    "tgz_1m|tarball 1 MiB, 64 conns|64|bench-1m/-/bench-1m-1.0.0.tgz|"
    "tgz_50m|tarball 50 MiB, 8 conns|8|bench-50m/-/bench-50m-1.0.0.tgz|"
  )
  for spec in "${TESTS[@]}"; do
    IFS='|' read -r id label conns path hdr <<<"$spec"
    record "tests.+" "{\"id\":\"$id\",\"label\":\"$label\"}"
    log "wrk: $label"
    for t in packgate verdaccio nginx; do
      run_wrk "$id" "$t" "$conns" "${REG[$t]}$path" "$hdr"
    done
  done

  log "publishes: 200 sequential, then 200 from 8 concurrent workers"
  for t in packgate verdaccio; do
    tok=""
    [ "$t" = packgate ] && tok="--token=$PGA_TOKEN"
    for mode in seq conc; do
      w=1; [ "$mode" = conc ] && w=8
      c0="$($PY cpu "${SPID[$t]}")"; b0="$($PY busy)"
      j="$($PY pubbench --registry "${REG[$t]}" $tok --name "bench-$mode" --count 200 --workers "$w")"
      c1="$($PY cpu "${SPID[$t]}")"; b1="$($PY busy)"
      j="${j%\}}, \"server_cpu\": $(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b-a}'), \"machine_cpu\": $(awk -v a="$b0" -v b="$b1" 'BEGIN{printf "%.2f", b-a}')}"
      record "publish.$mode.$t" "$j"; echo "$mode $t: $j" >&2
    done
  done
fi

# ================================================================================ cargo part
if part cargo; then
  log "cargo: checking that packgate and nginx serve the same index file and .crate"
  declare -A CETAG=()
  for t in packgate nginx; do
    curl -sf -D "$WORK/check.h" "${CARGO[$t]}$CRATE_IDX" -o "$WORK/check.idx"
    n="$(grep -c '"vers"' "$WORK/check.idx" || true)"
    [ "$n" = 200 ] || { echo "$t: the index file of bench-crate has $n lines, want 200" >&2; exit 1; }
    cmp -s "$WORK/check.idx" "$NG/www/cargo/$CRATE_IDX" || { echo "$t: index file bytes differ" >&2; exit 1; }
    CETAG[$t]="$(tr -d '\r' <"$WORK/check.h" | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' | head -1)"
    [ -n "${CETAG[$t]}" ] || { echo "$t: no ETag on the index file" >&2; exit 1; }
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: ${CETAG[$t]}" "${CARGO[$t]}$CRATE_IDX")"
    [ "$code" = 304 ] || { echo "$t: If-None-Match ${CETAG[$t]} answered $code, want 304" >&2; exit 1; }
    record "csizes.$t index file" "$(stat -c %s "$WORK/check.idx")"
    want="$(sha256sum <"$CRATES/bench-crate-1m-1.0.0.crate" | cut -d' ' -f1)"
    got="$(curl -sf "${CARGO[$t]}$CRATE_DL" | sha256sum | cut -d' ' -f1)"
    [ "$want" = "$got" ] || { echo "$t: the .crate download differs" >&2; exit 1; }
  done
  record "csizes.1 MiB crate file" "$(stat -c %s "$CRATES/bench-crate-1m-1.0.0.crate")"
  record "csizes.small crate file (each)" "$(stat -c %s "$CRATES/small/bench-crate-1.0.0.crate")"

  CTESTS=(
    "cg_index|index file bench-crate (200 versions), 64 conns|64|$CRATE_IDX|"
    "cg_index_304|index file bench-crate, If-None-Match → 304, 64 conns|64|$CRATE_IDX|etag"
    "cg_crate_1m|.crate 1 MiB download, 64 conns|64|$CRATE_DL|"
  )
  for spec in "${CTESTS[@]}"; do
    IFS='|' read -r id label conns path hdr <<<"$spec"
    record "ctests.+" "{\"id\":\"$id\",\"label\":\"$label\"}"
    log "wrk: $label"
    for t in packgate nginx; do
      h=""
      [ "$hdr" = etag ] && h="If-None-Match: ${CETAG[$t]}"   # each server's own ETag
      run_wrk "$id" "$t" "$conns" "${CARGO[$t]}$path" "$h"
    done
  done
fi

# ============================================================================= rubygems part
if part rubygems; then
  log "rubygems: checking that packgate and nginx serve the same versions and info/bench-gem"
  want_lines=$((NGEMS + 50))
  declare -A GETAG=() GIETAG=()
  for t in packgate nginx; do
    curl -sf -D "$WORK/check.h" "${GEMS[$t]}versions" -o "$WORK/check.versions"
    cmp -s "$WORK/check.versions" "$NG/www/rubygems/versions" || { echo "$t: versions bytes differ" >&2; exit 1; }
    n="$(sed '1,/^---$/d' "$WORK/check.versions" | wc -l)"
    [ "$n" = "$want_lines" ] || { echo "$t: versions has $n gem lines, want $want_lines" >&2; exit 1; }
    GETAG[$t]="$(tr -d '\r' <"$WORK/check.h" | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' | head -1)"
    [ -n "${GETAG[$t]}" ] || { echo "$t: no ETag on versions" >&2; exit 1; }
    if [ "$t" = packgate ]; then
      md5="\"$(md5sum <"$WORK/check.versions" | cut -d' ' -f1)\""
      [ "${GETAG[$t]}" = "$md5" ] || { echo "packgate: versions ETag ${GETAG[$t]}, want the quoted MD5 $md5" >&2; exit 1; }
    fi
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: ${GETAG[$t]}" "${GEMS[$t]}versions")"
    [ "$code" = 304 ] || { echo "$t: versions If-None-Match answered $code, want 304" >&2; exit 1; }
    vlen="$(stat -c %s "$WORK/check.versions")"
    # Bundler after a change: its cached copy's ETag (no longer current) and the range from its
    # last byte on; a 1-byte answer equal to that byte ("\n") tells it nothing else changed.
    curl -s -D "$WORK/check.h" -o "$WORK/check.tail" -H "Range: bytes=$((vlen - 1))-" \
      -H 'If-None-Match: "00000000000000000000000000000000"' "${GEMS[$t]}versions"
    code="$(awk 'NR==1{print $2}' "$WORK/check.h")"
    [ "$code" = 206 ] && [ "$(stat -c %s "$WORK/check.tail")" = 1 ] ||
      { echo "$t: Range bytes=$((vlen - 1))- answered $code with $(stat -c %s "$WORK/check.tail") bytes, want 206 with 1" >&2; exit 1; }
    tr -d '\r' <"$WORK/check.h" | grep -qi "^content-range: bytes $((vlen - 1))-$((vlen - 1))/$vlen$" ||
      { echo "$t: Range answer without Content-Range bytes $((vlen - 1))-$((vlen - 1))/$vlen" >&2; exit 1; }
    record "gsizes.$t versions" "$vlen"

    curl -sf -D "$WORK/check.h" "${GEMS[$t]}$GEM_INFO" -o "$WORK/check.info"
    cmp -s "$WORK/check.info" "$NG/www/rubygems/$GEM_INFO" || { echo "$t: info/bench-gem bytes differ" >&2; exit 1; }
    n="$(grep -c '|checksum:' "$WORK/check.info" || true)"
    [ "$n" = 50 ] || { echo "$t: info/bench-gem has $n version lines, want 50" >&2; exit 1; }
    grep -q '^1\.0\.0 bench-dep-alpha:~> 1\.0,bench-dep-beta:' "$WORK/check.info" ||
      { echo "$t: info/bench-gem lacks the runtime dependencies: $(sed -n 2p "$WORK/check.info")" >&2; exit 1; }
    GIETAG[$t]="$(tr -d '\r' <"$WORK/check.h" | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' | head -1)"
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: ${GIETAG[$t]}" "${GEMS[$t]}$GEM_INFO")"
    [ "$code" = 304 ] || { echo "$t: info If-None-Match answered $code, want 304" >&2; exit 1; }
    record "gsizes.$t info/bench-gem" "$(stat -c %s "$WORK/check.info")"
  done
  record "gsizes.versions gem lines" "$want_lines"
  record "gsizes.info/bench-gem line 1" "$(sed -n 2p "$WORK/check.info" | cut -c1-160 | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))')"

  settle_load gload
  RTESTS=(
    "gm_versions|versions, full ($want_lines gem lines), 64 conns|64|versions|"
    "gm_versions_304|versions, If-None-Match → 304, 64 conns|64|versions|etag"
    "gm_versions_range|versions, Range: bytes=<len-1>- + stale If-None-Match → 206 (1 byte), 64 conns|64|versions|range"
    "gm_info|info/bench-gem, full (50 versions), 64 conns|64|$GEM_INFO|"
    "gm_info_304|info/bench-gem, If-None-Match → 304, 64 conns|64|$GEM_INFO|ietag"
  )
  for spec in "${RTESTS[@]}"; do
    IFS='|' read -r id label conns path hdr <<<"$spec"
    record "rtests.+" "{\"id\":\"$id\",\"label\":\"$label\"}"
    log "wrk: $label"
    for t in packgate nginx; do
      h1="" h2=""
      case "$hdr" in
        etag) h1="If-None-Match: ${GETAG[$t]}" ;;   # each server's own ETag
        ietag) h1="If-None-Match: ${GIETAG[$t]}" ;;
        range) h1="Range: bytes=$(($(stat -c %s "$NG/www/rubygems/versions") - 1))-"
               h2='If-None-Match: "00000000000000000000000000000000"' ;;
      esac
      run_wrk "$id" "$t" "$conns" "${GEMS[$t]}$path" "$h1" "$h2"
    done
  done

  # The re-render: a push appends a line to the versions log; the next versions GET reads the
  # whole log (NGEMS + 50 + k lines) and renders the document again, later GETs hit the cache.
  log "rubygems: first versions GET after each of 5 more pushes"
  for k in 1 2 3 4 5; do
    $PY gem --name "bench-late-$k" --version 1.0.0 --out "$WORK/late.gem" >/dev/null
    tp="$(curl -sS -o "$WORK/late.out" -w '%{http_code} %{time_total}' -X POST --data-binary @"$WORK/late.gem" \
      -H 'Content-Type: application/octet-stream' -H "Authorization: $PGA_TOKEN" "${PGA_GEMS}api/v1/gems")"
    [ "${tp%% *}" = 200 ] || { echo "push of bench-late-$k answered ${tp%% *}: $(head -c 200 "$WORK/late.out")" >&2; exit 1; }
    first="$(curl -sS -o "$WORK/late.versions" -w '%{http_code} %{time_total} %{size_download}' "${PGA_GEMS}versions")"
    second="$(curl -sS -o /dev/null -w '%{http_code} %{time_total} %{size_download}' "${PGA_GEMS}versions")"
    third="$(curl -sS -o /dev/null -w '%{http_code} %{time_total} %{size_download}' "${PGA_GEMS}versions")"
    n="$(sed '1,/^---$/d' "$WORK/late.versions" | wc -l)"
    tail -1 "$WORK/late.versions" | grep -q "^bench-late-$k 1.0.0 " || { echo "versions does not end with bench-late-$k" >&2; exit 1; }
    read -r _ t1 s1 <<<"$first"; read -r _ t2 _ <<<"$second"; read -r _ t3 _ <<<"$third"
    j="{\"k\":$k,\"push_s\":${tp#* },\"first_s\":$t1,\"second_s\":$t2,\"third_s\":$t3,\"lines\":$n,\"bytes\":$s1}"
    record "rerender.+" "$j"; echo "re-render $k: $j" >&2
    sleep 0.5
  done
fi

# ================================================================================ nuget part
if part nuget; then
  log "nuget: checking that packgate and nginx serve the same documents and .nupkg"
  declare -A NFETAG=() NRETAG=()
  etag_of() { tr -d '\r' <"$1" | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' | head -1; }
  for t in packgate nginx; do
    # flat-container version list: 200 versions, same bytes, own ETag, 304
    curl -sf -D "$WORK/check.h" "${NUGET[$t]}$NU_FLAT" -o "$WORK/check.flat"
    cmp -s "$WORK/check.flat" "$NG/www/nuget/v3/$NU_FLAT" || { echo "$t: flat-container index bytes differ" >&2; exit 1; }
    n="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["versions"]))' "$WORK/check.flat")"
    [ "$n" = 200 ] || { echo "$t: the flat-container index lists $n versions, want 200" >&2; exit 1; }
    NFETAG[$t]="$(etag_of "$WORK/check.h")"
    [ -n "${NFETAG[$t]}" ] || { echo "$t: no ETag on the flat-container index" >&2; exit 1; }
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: ${NFETAG[$t]}" "${NUGET[$t]}$NU_FLAT")"
    [ "$code" = 304 ] || { echo "$t: flat-container If-None-Match ${NFETAG[$t]} answered $code, want 304" >&2; exit 1; }
    record "nsizes.$t flat-container index" "$(stat -c %s "$WORK/check.flat")"

    # registration index: 200 versions in 4 linked pages, same bytes, own ETag, 304
    curl -sf -D "$WORK/check.h" "${NUGET[$t]}$NU_REG" -o "$WORK/check.reg"
    cmp -s "$WORK/check.reg" "$NG/www/nuget/v3/$NU_REG" || { echo "$t: registration index bytes differ" >&2; exit 1; }
    n="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["count"], sum(p["count"] for p in d["items"]))' "$WORK/check.reg")"
    [ "$n" = "4 200" ] || { echo "$t: the registration index has (pages, versions) $n, want 4 200" >&2; exit 1; }
    NRETAG[$t]="$(etag_of "$WORK/check.h")"
    [ -n "${NRETAG[$t]}" ] || { echo "$t: no ETag on the registration index" >&2; exit 1; }
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: ${NRETAG[$t]}" "${NUGET[$t]}$NU_REG")"
    [ "$code" = 304 ] || { echo "$t: registration If-None-Match ${NRETAG[$t]} answered $code, want 304" >&2; exit 1; }
    record "nsizes.$t registration index" "$(stat -c %s "$WORK/check.reg")"

    # the first registration page: 64 versions with their catalog entries, same bytes
    curl -sf "${NUGET[$t]}$NU_PAGE" -o "$WORK/check.page"
    cmp -s "$WORK/check.page" "$NG/www/nuget/v3/$NU_PAGE" || { echo "$t: registration page bytes differ" >&2; exit 1; }
    n="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["count"], len(d["items"]))' "$WORK/check.page")"
    [ "$n" = "64 64" ] || { echo "$t: the registration page has (count, items) $n, want 64 64" >&2; exit 1; }
    record "nsizes.$t registration page" "$(stat -c %s "$WORK/check.page")"

    want="$(sha256sum <"$NUPKGS/bench.package.big.1.0.0.nupkg" | cut -d' ' -f1)"
    got="$(curl -sf "${NUGET[$t]}$NU_DL" | sha256sum | cut -d' ' -f1)"
    [ "$want" = "$got" ] || { echo "$t: the .nupkg download differs" >&2; exit 1; }
  done
  record "nsizes.registration page path" "\"$NU_PAGE\""
  record "nsizes.1 MiB nupkg" "$(stat -c %s "$NUPKGS/bench.package.big.1.0.0.nupkg")"

  settle_load nload
  NTESTS=(
    "nu_flat|flat-container bench.package/index.json (200 versions), 64 conns|64|$NU_FLAT|"
    "nu_flat_304|flat-container index.json, If-None-Match → 304, 64 conns|64|$NU_FLAT|fetag"
    "nu_reg|registration index bench.package (4 linked pages), 64 conns|64|$NU_REG|"
    "nu_reg_304|registration index, If-None-Match → 304, 64 conns|64|$NU_REG|retag"
    "nu_page|registration page ${NU_PAGE#registration/bench.package/} (64 versions), 64 conns|64|$NU_PAGE|"
    "nu_nupkg_1m|.nupkg 1 MiB download, 64 conns|64|$NU_DL|"
  )
  for spec in "${NTESTS[@]}"; do
    IFS='|' read -r id label conns path hdr <<<"$spec"
    record "ntests.+" "{\"id\":\"$id\",\"label\":\"$label\"}"
    log "wrk: $label"
    for t in packgate nginx; do
      h=""
      case "$hdr" in   # each server's own ETag
        fetag) h="If-None-Match: ${NFETAG[$t]}" ;;
        retag) h="If-None-Match: ${NRETAG[$t]}" ;;
      esac
      run_wrk "$id" "$t" "$conns" "${NUGET[$t]}$path" "$h"
    done
  done
fi

# ================================================================================ proxy part
# A second packgate whose `npmjs` repository proxies packgate's hosted `npm` (the upstream): cache
# hits against hosted hits and nginx, then cold `npm install`s of the express tree.
EXPRESS_TREE="$CACHE/express-tree"   # tree.tsv (name, version, file, integrity, bytes) + the tarballs
FETCH_ERR=""

# fetch_express_tree: downloads the tarballs of the express@4 tree into $EXPRESS_TREE, once (later
# runs use them). Only npm talks to a registry here, its default one; on failure FETCH_ERR says why
# (npm's error code only) and it returns 1.
fetch_express_tree() {
  local dl="$WORK/express-dl" specs
  rm -rf "$dl"
  mkdir -p "$dl/proj" "$dl/out"
  echo '{"private":true}' >"$dl/proj/package.json"
  log "proxy: downloading the express@4 tree with npm from its default registry (once; kept in $EXPRESS_TREE)"
  if ! (cd "$dl/proj" && NPM_CONFIG_UPDATE_NOTIFIER=false timeout 600 npm install express@4 --no-audit --no-fund \
    --ignore-scripts --cache "$dl/cache" --loglevel=error --fetch-timeout=30000 --fetch-retries=1) >"$dl/log" 2>&1; then
    FETCH_ERR="$(grep -o 'E[A-Z0-9]\{3,\}' "$dl/log" | head -1 || true)"
    FETCH_ERR="npm install express@4 failed${FETCH_ERR:+: $FETCH_ERR}"
    grep -E '^npm (error|ERR!) (code|errno)' "$dl/log" >&2 || true
    return 1
  fi
  specs="$($PY npm-tree --lock "$dl/proj/package-lock.json")" || { FETCH_ERR="could not read the lockfile"; return 1; }
  # shellcheck disable=SC2086 # one argument per package
  if ! (cd "$dl/out" && NPM_CONFIG_UPDATE_NOTIFIER=false timeout 600 npm pack $specs --cache "$dl/cache" --json \
    --loglevel=error >"$dl/pack.json" 2>"$dl/log"); then
    FETCH_ERR="$(grep -o 'E[A-Z0-9]\{3,\}' "$dl/log" | head -1 || true)"
    FETCH_ERR="npm pack failed${FETCH_ERR:+: $FETCH_ERR}"
    grep -E '^npm (error|ERR!) (code|errno)' "$dl/log" >&2 || true
    return 1
  fi
  # the packed tarballs must be the registry's bytes: checked against the lockfile's integrity
  $PY npm-tree --lock "$dl/proj/package-lock.json" --pack-json "$dl/pack.json" --dir "$dl/out" >&2 ||
    { FETCH_ERR="the packed tarballs did not match the lockfile"; return 1; }
  mkdir -p "$CACHE"
  rm -rf "$EXPRESS_TREE.tmp.$$"
  cp -r "$dl/out" "$EXPRESS_TREE.tmp.$$"
  rm -rf "$EXPRESS_TREE"
  mv "$EXPRESS_TREE.tmp.$$" "$EXPRESS_TREE"
  rm -rf "$dl"
}

# npm_install_timed REGISTRY DIR: `npm install express@4` into an empty project with an empty npm
# cache and no user config but the registry; prints JSON (seconds, exit, packages, express version,
# lockfile URLs not under REGISTRY)
# cpu_delta A B: B - A, two decimals (CPU-seconds)
cpu_delta() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }

npm_install_timed() {
  local reg="$1" d="$2" t0 t1 rc=0 chk='{"packages":0,"express":null,"resolved_elsewhere":null}'
  rm -rf "$d"
  mkdir -p "$d/proj"
  echo '{"private":true}' >"$d/proj/package.json"
  : >"$d/npmrc"
  t0="$(date +%s.%N)"
  (cd "$d/proj" && NPM_CONFIG_UPDATE_NOTIFIER=false npm install express@4 --registry "$reg" --userconfig "$d/npmrc" \
    --cache "$d/cache" --no-audit --no-fund --ignore-scripts --loglevel=error) >"$d/log" 2>&1 || rc=$?
  t1="$(date +%s.%N)"
  [ -f "$d/proj/package-lock.json" ] && chk="$($PY install-check "$d/proj" --registry "$reg")"
  [ "$rc" = 0 ] || { echo "npm install express@4 from $reg failed (exit $rc):" >&2; tail -5 "$d/log" >&2; }
  echo "{\"seconds\":$(elapsed "$t0" "$t1"),\"exit\":$rc,${chk#\{}"
  rm -rf "$d"
}

# group_bench: the proxy instance's group npm-all (npm-internal, hosted, then npmjs, the proxy):
# bench-proxy published to npm-internal too, so a group hit merges two members' packuments
# (allow_upstream), against a hosted hit of npm-internal on the same instance; then bench-big
# (1,000 versions) in npm-internal, and the first group GET after each of 5 new versions (the
# member re-renders, the group re-merges), against the first hosted GET after 5 more
group_bench() {
  local tok int grp n i t ms_g=() ms_h=()
  tok="$(packgate_token "$WORK/proxy")"
  int="http://127.0.0.1:$PX_PORT/npm-internal/" grp="http://127.0.0.1:$PX_PORT/npm-all/"
  log "group: publishing bench-proxy ($PXV versions) to npm-internal"
  $PY seed --registry "$int" --token "$tok" --name bench-proxy --versions "$PXV" --tgz-dir "$TGZ/group-small" >/dev/null
  for u in "$int" "$grp" "$grp"; do
    curl -sf -o "$WORK/check.json" -H "$PX_ABBR" "${u}bench-proxy" || { echo "group: GET ${u}bench-proxy failed" >&2; exit 1; }
  done
  n="$($PY count "$WORK/check.json")"
  [ "$n" = "$PXV" ] || { echo "group: the merged bench-proxy has $n versions, want $PXV" >&2; exit 1; }
  SPID[hosted2]="$PX_PID" MPORT[hosted2]="$PX_PORT" SPID[group]="$PX_PID" MPORT[group]="$PX_PORT"
  record "gtests.+" "{\"id\":\"g_abbr\",\"label\":\"packument bench-proxy, abbreviated ($PXV versions), 64 conns\"}"
  log "wrk: group hit (two members) against a hosted hit on the same instance"
  run_wrk g_abbr hosted2 64 "${int}bench-proxy" "$PX_ABBR"
  run_wrk g_abbr group 64 "${grp}bench-proxy" "$PX_ABBR"
  log "group: publishing bench-big (1,000 versions) to npm-internal"
  $PY seed --registry "$int" --token "$tok" --name bench-big --versions 1000 --tgz-dir "$TGZ/group-big" >/dev/null
  curl -sf -o /dev/null -H "$PX_ABBR" "${grp}bench-big" || { echo "group: GET bench-big failed" >&2; exit 1; }
  for i in $(seq 10); do
    $PY tgz --name bench-big --version "9.0.$i" --size 512 --out "$WORK/big-$i.tgz" >/dev/null
    $PY seed --registry "$int" --token "$tok" --name bench-big --versions 0 --tgz-dir "$TGZ/group-big" \
      --file "bench-big:9.0.$i:$WORK/big-$i.tgz" >/dev/null
    if [ "$i" -le 5 ]; then
      t="$(curl -sf -o /dev/null -w '%{time_total}' -H "$PX_ABBR" "${grp}bench-big")"; ms_g+=("$(awk -v t="$t" 'BEGIN{printf "%.1f", t*1000}')")
    else
      t="$(curl -sf -o /dev/null -w '%{time_total}' -H "$PX_ABBR" "${int}bench-big")"; ms_h+=("$(awk -v t="$t" 'BEGIN{printf "%.1f", t*1000}')")
    fi
  done
  record gmerge "{\"versions\":1000,\"group_ms\":[$(IFS=,; echo "${ms_g[*]}")],\"hosted_ms\":[$(IFS=,; echo "${ms_h[*]}")]}"
  echo "group re-merge: group ${ms_g[*]} ms, hosted ${ms_h[*]} ms" >&2
}

# proxy_cold_install: the express tree, published to the hosted repository with npm, installed
# PXROUNDS times straight from it and PXROUNDS times through a proxy started fresh for the round
proxy_cold_install() {
  local src="cached" j i cpid cport tree_n tree_b
  if [ ! -s "$EXPRESS_TREE/tree.tsv" ]; then
    if ! fetch_express_tree; then
      record pinstall.skipped "$(jstr "the express@4 tree could not be downloaded with npm: $FETCH_ERR; no network? Nothing is cached in BENCH_CACHE yet, so this run has no cold-install figures")"
      note "proxy: no cold-install figures: the express@4 tree could not be downloaded ($FETCH_ERR)"
      return 0
    fi
    src="downloaded with npm in this run"
  fi
  tree_n="$(wc -l <"$EXPRESS_TREE/tree.tsv")"
  tree_b="$(awk -F'\t' '{s+=$5} END{print s+0}' "$EXPRESS_TREE/tree.tsv")"
  record pinstall.tree "{\"packages\":$tree_n,\"bytes\":$tree_b,\"express\":$(jstr "$(awk -F'\t' '$1=="express"{print $2}' "$EXPRESS_TREE/tree.tsv")"),\"source\":$(jstr "$src")}"
  log "proxy: publishing the express tree ($tree_n tarballs) to packgate with npm publish, 4 at a time"
  if ! j="$($PY npm-publish-tree --dir "$EXPRESS_TREE" --registry "$PGA_REG" --token "$PGA_TOKEN" \
    --work "$WORK/npm-publish" --workers 4)"; then
    record pinstall.skipped "$(jstr "publishing the express tree to packgate failed: $(printf '%s' "$j" | head -c 300)")"
    note "proxy: no cold-install figures: publishing the express tree failed"
    return 0
  fi
  record pinstall.publish "$j"
  rm -rf "$WORK/npm-publish"
  for i in $(seq "$PXROUNDS"); do
    log "proxy: cold npm install express@4, round $i of $PXROUNDS: straight from packgate"
    u0="$($PY cpu "$PGA_PID")"; b0="$($PY busy)"
    j="$(npm_install_timed "$PGA_REG" "$WORK/install")"
    u1="$($PY cpu "$PGA_PID")"; b1="$($PY busy)"
    j="{\"cpu_upstream\":$(cpu_delta "$u0" "$u1"),\"cpu_machine\":$(cpu_delta "$b0" "$b1"),${j#\{}"
    record "pinstall.rounds.+" "{\"round\":$i,\"mode\":\"direct\",${j#\{}"
    echo "direct $i: $j" >&2
    sleep 1
    log "proxy: cold npm install express@4, round $i of $PXROUNDS: through a fresh proxy"
    rm -rf "$WORK/pxcold"
    instance_config "$WORK/pxcold" "$(proxy_repo "$PGA_REG")"
    start_packgate "$WORK/pxcold"
    cpid=$PG_PID cport=$PG_PORT
    curl -sf "http://127.0.0.1:$PGA_PORT/metrics" -o "$WORK/u0"
    curl -sf "http://127.0.0.1:$cport/metrics" -o "$WORK/c0"
    u0="$($PY cpu "$PGA_PID")"; p0="$($PY cpu "$cpid")"; b0="$($PY busy)"
    j="$(npm_install_timed "http://127.0.0.1:$cport/npmjs/" "$WORK/install")"
    u1="$($PY cpu "$PGA_PID")"; p1="$($PY cpu "$cpid")"; b1="$($PY busy)"
    j="{\"cpu_upstream\":$(cpu_delta "$u0" "$u1"),\"cpu_proxy\":$(cpu_delta "$p0" "$p1"),\"cpu_machine\":$(cpu_delta "$b0" "$b1"),${j#\{}"
    curl -sf "http://127.0.0.1:$PGA_PORT/metrics" -o "$WORK/u1"
    curl -sf "http://127.0.0.1:$cport/metrics" -o "$WORK/c1"
    j="{\"round\":$i,\"mode\":\"proxy\",\"upstream\":$($PY reqdelta "$WORK/u0" "$WORK/u1"),\"proxy\":$($PY reqdelta "$WORK/c0" "$WORK/c1"),\"proxy_hwm_kib\":$(hwm_kib "$cpid"),${j#\{}"
    record "pinstall.rounds.+" "$j"
    echo "proxy $i: $j" >&2
    stop_pid "$cpid"
    if grep -qiE ' (ERROR|WARN) ' "$WORK/pxcold/stderr.log"; then
      note "cold proxy of round $i logged $(grep -ciE ' (ERROR|WARN) ' "$WORK/pxcold/stderr.log") ERROR/WARN lines, first: $(grep -iE ' (ERROR|WARN) ' "$WORK/pxcold/stderr.log" | head -1 | cut -c1-300)"
    fi
    rm -rf "$WORK/pxcold"
    sleep 1
  done
}

PX_PID=""
if part proxy; then
  log "proxy: starting a packgate whose npmjs repository proxies packgate's hosted npm (metadata_ttl 1h), with a hosted npm-internal and the group npm-all over both"
  instance_config "$WORK/proxy" "$(proxy_repo "$PGA_REG")$(group_repos)"
  start_packgate "$WORK/proxy"
  PX_PID=$PG_PID PX_PORT=$PG_PORT
  PX_REG="http://127.0.0.1:$PX_PORT/npmjs/"
  SPID[proxy]="$PX_PID"
  MPORT[proxy]="$PX_PORT"
  sleep 1
  record memory.proxy.idle "$(rss_kib "$PX_PID")"
  echo "proxy pid $PX_PID on $PX_REG" >&2

  PX_ABBR='Accept: application/vnd.npm.install-v1+json'
  PX_TGZ="bench-proxy-1m/-/bench-proxy-1m-1.0.0.tgz"
  log "proxy: warming the cache (one GET of each document and file) and checking the bytes"
  for spec in "bench-proxy|$PX_ABBR" "bench-proxy|Accept: application/json" "bench-proxy-1m|$PX_ABBR" \
    "bench-proxy-1m|Accept: application/json" "$PX_TGZ|"; do
    IFS='|' read -r path hdr <<<"$spec"
    code="$(curl -s -o /dev/null -w '%{http_code}' ${hdr:+-H "$hdr"} "$PX_REG$path")"
    [ "$code" = 200 ] || { echo "proxy: warming GET $path ($hdr) answered $code" >&2; exit 1; }
  done
  declare -A PXURL=([packgate]="$PGA_REG" [proxy]="$PX_REG" [nginx]="$NG_REG")
  want="$(sha1sum <"$TGZ/bench-proxy-1m-1.0.0.tgz" | cut -d' ' -f1)"
  for t in packgate proxy nginx; do
    curl -sf -D "$WORK/check.h" -H "$PX_ABBR" "${PXURL[$t]}bench-proxy" -o "$WORK/check.json"
    n="$($PY count "$WORK/check.json")"
    [ "$n" = "$PXV" ] || { echo "$t: abbreviated bench-proxy has $n versions, want $PXV" >&2; exit 1; }
    record "psizes.$t abbreviated" "$(stat -c %s "$WORK/check.json")"
    if [ "$t" = proxy ]; then
      tr -d '\r' <"$WORK/check.h" | grep -qix 'x-packgate-cache: hit' ||
        { echo "proxy: the abbreviated packument was not a cache hit after warming: $(tr -d '\r' <"$WORK/check.h" | grep -i '^x-packgate-cache')" >&2; exit 1; }
      python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
bad=[v for v,m in d["versions"].items() if not m["dist"]["tarball"].startswith(sys.argv[2])]
sys.exit(f"proxy: tarball URLs not rewritten to the proxy: {bad[:3]}" if bad else 0)' "$WORK/check.json" "$PX_REG"
    fi
    got="$(curl -sf -D "$WORK/check.h" "${PXURL[$t]}$PX_TGZ" | sha1sum | cut -d' ' -f1)"
    [ "$want" = "$got" ] || { echo "$t: the bench-proxy-1m tarball differs" >&2; exit 1; }
    if [ "$t" = proxy ]; then
      tr -d '\r' <"$WORK/check.h" | grep -qix 'x-packgate-cache: hit' ||
        { echo "proxy: the tarball was not a cache hit after warming" >&2; exit 1; }
    fi
  done
  record "psizes.1 MiB tarball" "$(stat -c %s "$TGZ/bench-proxy-1m-1.0.0.tgz")"
  record memory.proxy.after_warm "$(rss_kib "$PX_PID")"

  settle_load pload
  PTESTS=(
    "px_abbr|packument bench-proxy, abbreviated ($PXV versions), 64 conns|64|bench-proxy|$PX_ABBR"
    "px_tgz_1m|tarball 1 MiB, 64 conns|64|$PX_TGZ|"
  )
  for spec in "${PTESTS[@]}"; do
    IFS='|' read -r id label conns path hdr <<<"$spec"
    record "ptests.+" "{\"id\":\"$id\",\"label\":\"$label\"}"
    log "wrk: $label (hosted, proxy hit, nginx)"
    for t in packgate proxy nginx; do
      run_wrk "$id" "$t" "$conns" "${PXURL[$t]}$path" "$hdr"
    done
  done

  group_bench
  if [ "${BENCH_PROXY_COLD:-1}" != 0 ]; then
    proxy_cold_install
  else
    note "proxy: cold installs skipped (BENCH_PROXY_COLD=0)"
  fi
fi

record memory.packgate.peak "$(hwm_kib "$PGA_PID")"
record memory.packgate.end "$(rss_kib "$PGA_PID")"
if part npm; then
  record memory.verdaccio.peak "$(hwm_kib "$VD_PID")"
  record memory.verdaccio.end "$(rss_kib "$VD_PID")"
fi
if [ -n "$PX_PID" ]; then
  record memory.proxy.peak "$(hwm_kib "$PX_PID")"
  record memory.proxy.end "$(rss_kib "$PX_PID")"
fi
for d in packgate proxy; do
  [ -f "$WORK/$d/stderr.log" ] || continue
  if grep -qiE ' (ERROR|WARN) ' "$WORK/$d/stderr.log"; then
    note "$d logged $(grep -ciE ' (ERROR|WARN) ' "$WORK/$d/stderr.log") ERROR/WARN lines during the run, first: $(grep -iE ' (ERROR|WARN) ' "$WORK/$d/stderr.log" | head -1 | cut -c1-300)"
  fi
done

# the read/publish servers are done: free the CPU for the streaming test
[ -n "$VD_PID" ] && kill "$VD_PID" 2>/dev/null || true
if [ -n "$PX_PID" ]; then kill "$PX_PID" 2>/dev/null || true; fi
kill -QUIT "$NGINX_PID" 2>/dev/null || true
kill "$PGA_PID" 2>/dev/null || true
for p in "$VD_PID" "$PX_PID" "$NGINX_PID" "$PGA_PID"; do
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
NGINX_PID=""

# ------------------------------------------------------------------------------ 1 GiB streaming
# A fresh packgate with server.max_upload raised to 2 GiB. VmRSS is sampled every 0.2 s while a
# tarball of random bytes is uploaded (npm's publish JSON, base64, streamed from a file by curl -T)
# and downloaded again. packgate also caps what a tarball may unpack to (512 MiB in
# packgate-npm's TarballLimits, not configurable): if it refuses the 1 GiB tarball, the upload
# samples are still kept and the round trip is repeated with the largest tarball it accepts.

# stream_round KEY LABEL PAYLOAD_SIZE: one upload (+ download when accepted); returns 1 if refused
stream_round() {
  local key="$1" label="$2" size="$3"
  local G="$WORK/big" name="bench-$key"
  mkdir -p "$G"
  log "streaming test ($label): generating"
  $PY tgz --name "$name" --version 1.0.0 --size "$size" --out "$G/t.tgz" >/dev/null
  local tbytes; tbytes="$(stat -c %s "$G/t.tgz")"
  local want; want="$(sha1sum <"$G/t.tgz" | cut -d' ' -f1)"
  $PY body --name "$name" --version 1.0.0 --registry "$BIG_REG" --tgz "$G/t.tgz" --out "$G/body.json" >/dev/null
  rm -f "$G/t.tgz"
  record "big.rounds.+" "{\"key\":\"$key\",\"label\":\"$label\",\"tgz_bytes\":$tbytes}"
  record "big.$key.before" "$(rss_kib "$BIG_PID")"

  log "streaming test ($label): upload"
  : >"$G/rss.up"
  sample_rss "$BIG_PID" "$G/rss.up" &
  local sp=$! t0 t1 code
  PIDS+=("$sp")
  t0="$(date +%s.%N)"
  code="$(curl -sS -o "$G/up.out" -w '%{http_code}' -X PUT -T "$G/body.json" -H 'Expect:' \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $BIG_TOKEN" "${BIG_REG}$name")"
  t1="$(date +%s.%N)"
  sleep 0.5
  kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null || true
  local answer; answer="$(head -c 200 "$G/up.out" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')"
  record "big.$key.upload" "{\"bytes\":$(stat -c %s "$G/body.json"),\"seconds\":$(elapsed "$t0" "$t1"),\"http\":$code,\"max_rss\":$(max_of "$G/rss.up"),\"samples\":$(wc -l <"$G/rss.up"),\"answer\":$answer}"
  rm -f "$G/body.json"
  if [ "$code" != 200 ] && [ "$code" != 201 ]; then
    note "$label: the upload was refused with HTTP $code $(head -c 200 "$G/up.out")"
    rm -rf "$G"
    return 1
  fi

  log "streaming test ($label): download"
  : >"$G/rss.down"
  sample_rss "$BIG_PID" "$G/rss.down" &
  sp=$!
  PIDS+=("$sp")
  t0="$(date +%s.%N)"
  curl -sS -D "$G/down.headers" "${BIG_REG}$name/-/$name-1.0.0.tgz" |
    python3 -c 'import hashlib,sys
h=hashlib.sha1(); n=0
while True:
    b=sys.stdin.buffer.read(1<<20)
    if not b: break
    h.update(b); n+=len(b)
print(h.hexdigest(), n)' >"$G/down.sum"
  t1="$(date +%s.%N)"
  sleep 0.5
  kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null || true
  code="$(awk 'NR==1{print $2}' "$G/down.headers")"
  local got n
  read -r got n <"$G/down.sum"
  record "big.$key.download" "{\"bytes\":$n,\"seconds\":$(elapsed "$t0" "$t1"),\"http\":$code,\"max_rss\":$(max_of "$G/rss.down"),\"samples\":$(wc -l <"$G/rss.down"),\"intact\":$([ "$got" = "$want" ] && echo true || echo false)}"
  [ "$got" = "$want" ] || note "$label: the downloaded bytes differ from the uploaded tarball (sha1 $got, want $want)"
  record "big.$key.after" "$(rss_kib "$BIG_PID")"
  rm -rf "$G"
}

big_test() {
  local avail; avail="$(df -Pk "$WORK" | awk 'NR==2{print $4}')"
  if ((avail < 4 * 1024 * 1024)); then
    record big.skipped "\"only $((avail / 1024)) MiB free under $WORK, need 4 GiB\""
    return
  fi
  start_packgate "$WORK/big-data" PACKGATE__SERVER__MAX_UPLOAD="2 GiB"
  BIG_PID=$PG_PID
  BIG_REG="http://127.0.0.1:$PG_PORT/npm/"
  BIG_TOKEN="$(packgate_token "$WORK/big-data")"
  sleep 1
  record big.idle "$(rss_kib "$BIG_PID")"
  if ! stream_round 1g "1 GiB tarball" 1GiB; then
    # 510 MiB of payload + package.json + index.js stays under the 512 MiB unpacked cap
    stream_round 510m "largest accepted (510 MiB payload)" 510MiB || true
  fi
  record big.hwm "$(hwm_kib "$BIG_PID")"
  record big.end "$(rss_kib "$BIG_PID")"
  kill "$BIG_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$BIG_PID" 2>/dev/null || break; sleep 0.1; done
  rm -rf "$WORK/big-data"
}
if ! part npm; then
  :  # the streaming test publishes an npm tarball: part of the npm run
elif [ "${BENCH_SKIP_GIB:-}" = 1 ]; then
  record big.skipped '"BENCH_SKIP_GIB=1"'
else
  big_test
fi

# --------------------------------------------------------------- 1 GiB through a cold proxy
# A fresh upstream packgate (max_upload 2 GiB) gets a 1 GiB tarball of random bytes (published as
# the npm part's streaming test does); a fresh proxy of it (max_upload 2 GiB, the largest file it
# fetches) is asked for it by two curl clients at once while its VmRSS is sampled every 0.2 s.
proxy_big_test() {
  local avail; avail="$(df -Pk "$WORK" | awk 'NR==2{print $4}')"
  if ((avail < 6 * 1024 * 1024)); then
    record pbig.skipped "\"only $((avail / 1024)) MiB free under $WORK, need 6 GiB\""
    return
  fi
  local G="$WORK/pxbig" name=bench-proxy-1g up_pid up_reg tok want tbytes code px_pid px_reg sp before t0 t1 c
  mkdir -p "$G"
  start_packgate "$WORK/pxbig-up" PACKGATE__SERVER__MAX_UPLOAD="2 GiB"
  up_pid=$PG_PID up_reg="http://127.0.0.1:$PG_PORT/npm/"
  tok="$(packgate_token "$WORK/pxbig-up")"
  log "proxy 1 GiB test: generating a 1 GiB tarball and publishing it to a fresh upstream packgate"
  $PY tgz --name "$name" --version 1.0.0 --size 1GiB --out "$G/t.tgz" >/dev/null
  tbytes="$(stat -c %s "$G/t.tgz")"
  want="$(sha1sum <"$G/t.tgz" | cut -d' ' -f1)"
  $PY body --name "$name" --version 1.0.0 --registry "$up_reg" --tgz "$G/t.tgz" --out "$G/body.json" >/dev/null
  rm -f "$G/t.tgz"
  code="$(curl -sS -o "$G/up.out" -w '%{http_code}' -X PUT -T "$G/body.json" -H 'Expect:' \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $tok" "${up_reg}$name")"
  rm -f "$G/body.json"
  if [ "$code" != 200 ] && [ "$code" != 201 ]; then
    record pbig.skipped "$(jstr "the upstream refused the 1 GiB tarball: HTTP $code $(head -c 200 "$G/up.out")")"
    stop_pid "$up_pid"
    rm -rf "$G" "$WORK/pxbig-up"
    return
  fi
  instance_config "$WORK/pxbig-proxy" "$(proxy_repo "$up_reg")"
  start_packgate "$WORK/pxbig-proxy" PACKGATE__SERVER__MAX_UPLOAD="2 GiB"
  px_pid=$PG_PID px_reg="http://127.0.0.1:$PG_PORT/npmjs/"
  sleep 1
  record pbig.idle "$(rss_kib "$px_pid")"
  log "proxy 1 GiB test: two clients fetch it through the cold proxy at once"
  : >"$G/rss"
  sample_rss "$px_pid" "$G/rss" &
  sp=$!
  PIDS+=("$sp")
  before="$(rss_kib "$px_pid")"
  t0="$(date +%s.%N)"
  local cpids=()
  for c in 1 2; do
    (
      s0="$(date +%s.%N)" crc=0
      curl -sS --max-time 1800 -D "$G/h$c" "${px_reg}$name/-/$name-1.0.0.tgz" 2>"$G/err$c" |
        python3 -c 'import hashlib,sys
h=hashlib.sha1(); n=0
while True:
    b=sys.stdin.buffer.read(1<<20)
    if not b: break
    h.update(b); n+=len(b)
print(h.hexdigest(), n)' >"$G/sum$c" || crc=$?
      printf '%s\n%s\n' "$(elapsed "$s0" "$(date +%s.%N)")" "$crc" >>"$G/sum$c"
    ) &
    cpids+=("$!")
    PIDS+=("$!")
  done
  wait "${cpids[@]}" || true
  t1="$(date +%s.%N)"
  sleep 0.5
  stop_pid "$sp" "${cpids[@]}"
  wait "$sp" 2>/dev/null || true
  local clients="" got n secs crc hcode cache
  for c in 1 2; do
    got="" n="" secs="" crc="" hcode="" cache=""
    touch "$G/sum$c" "$G/h$c" "$G/err$c"
    read -r got n <"$G/sum$c" || true
    secs="$(sed -n 2p "$G/sum$c")"
    crc="$(sed -n 3p "$G/sum$c")"
    hcode="$(awk 'NR==1{print $2}' "$G/h$c")"
    cache="$(tr -d '\r' <"$G/h$c" | sed -n 's/^[Xx]-[Pp]ackgate-[Cc]ache: *//p' | head -1)"
    clients+="${clients:+,}{\"http\":${hcode:-0},\"cache\":$(jstr "$cache"),\"bytes\":${n:-0},\"seconds\":${secs:-null},\"curl_exit\":${crc:-null},\"intact\":$([ "$got" = "$want" ] && echo true || echo false)}"
    if [ "$got" != "$want" ]; then
      note "proxy 1 GiB test: client $c did not get the tarball (HTTP ${hcode:-none}, curl exit ${crc:-?}: $(head -c 200 "$G/err$c"); sha1 ${got:-none}, want $want)"
    fi
  done
  if ! kill -0 "$px_pid" 2>/dev/null; then
    note "proxy 1 GiB test: the proxy exited during the test; its last log line: $(tail -1 "$WORK/pxbig-proxy/stderr.log" | cut -c1-300)"
  fi
  local mx; mx="$(max_of "$G/rss")"
  record pbig.result "{\"tgz_bytes\":$tbytes,\"before\":$before,\"max_rss\":${mx:-$before},\"samples\":$(wc -l <"$G/rss"),\"seconds\":$(elapsed "$t0" "$t1"),\"clients\":[$clients]}"
  if kill -0 "$px_pid" 2>/dev/null; then
    record pbig.hwm "$(hwm_kib "$px_pid")"
    record pbig.end "$(rss_kib "$px_pid")"
  fi
  if grep -qiE ' (ERROR|WARN) ' "$WORK/pxbig-proxy/stderr.log"; then
    note "the proxy of the 1 GiB test logged: $(grep -iE ' (ERROR|WARN) ' "$WORK/pxbig-proxy/stderr.log" | head -1 | cut -c1-300)"
  fi
  stop_pid "$px_pid" "$up_pid"
  rm -rf "$G" "$WORK/pxbig-up" "$WORK/pxbig-proxy"
}
if ! part proxy; then
  :
elif [ "${BENCH_SKIP_GIB:-}" = 1 ]; then
  record pbig.skipped '"BENCH_SKIP_GIB=1"'
else
  proxy_big_test
fi
# ------------------------------------------------------------------------------------- report
if [ -n "${BENCH_INTERNAL_TSV:-}" ]; then
  exit 0   # BENCH_STACK=both: the exit trap hands results.tsv to the parent, which writes the report
fi
log "report"
cp "$RES" "$RESULTS/$DATE$SUFFIX.tsv"
$PY table "$RES" "$OUT"
echo >&2
echo "written: $OUT (raw values: $RESULTS/$DATE$SUFFIX.tsv)" >&2
