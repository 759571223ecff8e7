#!/usr/bin/env bash
# bench/run.sh: packgate against Verdaccio and nginx on this machine (loopback only).
#
#   bench/run.sh                   full run (about 12 minutes plus the build), report in bench/results/<date>.md
#   BENCH_ONLY=cargo bench/run.sh  only the cargo registry reads (about 1.5 minutes), bench/results/<date>-cargo.md
#   BENCH_ONLY=npm bench/run.sh    only the npm part (reads, publishes, 1 GiB test), bench/results/<date>-npm.md
#   BENCH_ONLY=rubygems bench/run.sh  only the RubyGems compact-index reads at 10,000 gems (about
#                                  3 minutes), bench/results/<date>-rubygems.md
#   BENCH_ONLY=nuget bench/run.sh  only the NuGet v3 feed reads (about 2.5 minutes: 12 wrk runs),
#                                  bench/results/<date>-nuget.md
#
# Environment:
#   BENCH_ONLY       npm, cargo, rubygems or nuget: run only that part (default: all four)
#   BENCH_GEMS       single-version gems the rubygems part pushes (default 10000)
#   PACKGATE_BIN     packgate binary to test as is (default: $CARGO_TARGET_DIR/release/packgate, which
#                    `cargo build --release` brings up to date first)
#   CARGO_TARGET_DIR default $HOME/.cache/packgate-target
#   BENCH_CACHE      where Verdaccio is npm-installed (default $HOME/.cache/packgate-bench)
#   BENCH_DURATION   seconds per wrk run (default 10, at most 15)
#   BENCH_SKIP_GIB=1 skip the 1 GiB streaming-memory test
#   BENCH_KEEP=1     keep the temp directory (logs, data dirs) for inspection
#
# Every server it starts listens on 127.0.0.1 only and is stopped (by PID) on exit. Loads are
# bounded: each wrk run lasts BENCH_DURATION seconds, each publish test sends 200 requests, the
# gem seeding BENCH_GEMS + 50 pushes (4 at a time), the NuGet seeding 201 pushes (4 at a time).
# The npm part compares packgate with Verdaccio and nginx; the cargo part (sparse index file with
# and without If-None-Match, .crate download) compares packgate with nginx serving the same bytes;
# the rubygems part pushes BENCH_GEMS gems (4 concurrent pushers) and compares the compact index
# (`versions` full, 304 and 1-byte Range; `info/NAME` full and 304) with nginx serving the same
# bytes, then times the first `versions` GET after each of 5 more pushes (the re-render); the nuget
# part pushes Bench.Package (200 versions, so its registration is paged) and Bench.Package.Big (a
# 1 MiB .nupkg) through the push API (multipart PUT, 4 concurrent pushers) and compares the
# flat-container version list and the registration index (full and 304), the first registration
# page (rendered per request) and the 1 MiB .nupkg download with nginx serving the same bytes.
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
case "$ONLY" in "" | npm | cargo | rubygems | nuget) ;; *) echo "BENCH_ONLY must be npm, cargo, rubygems or nuget" >&2; exit 2 ;; esac
part() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }  # part npm|cargo|rubygems|nuget: is that part in this run?
NGEMS="${BENCH_GEMS:-10000}"
((NGEMS >= 1 && NGEMS <= 99999)) || { echo "BENCH_GEMS must be 1..99999" >&2; exit 2; }
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
PIDS=()          # servers and samplers started here, stopped on exit
NGINX_PID=""
WORK=""
cleanup() {
  local rc=$?
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null
  for p in "${PIDS[@]}" $NGINX_PID; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
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
RES=""
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
note() { record "notes.+" "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1")"; echo "note: $1" >&2; }

# start_packgate DIR [env...]: starts `packgate serve` on a free loopback port; sets PG_PID, PG_PORT
start_packgate() {
  local dir="$1"; shift
  mkdir -p "$dir"
  # The bench reads /metrics between runs: open them where this binary restricts them to admins.
  local open_metrics=()
  if grep -qa metrics_access "$PG"; then open_metrics=(PACKGATE__SERVER__METRICS_ACCESS=public); fi
  env "${open_metrics[@]}" "$@" "$PG" serve --listen 127.0.0.1:0 --data-dir "$dir" >"$dir/stdout.log" 2>"$dir/stderr.log" &
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
  echo "bench-password-1" | "$PG" user add bench --password-stdin --data-dir "$dir" >/dev/null
  "$PG" token create bench --data-dir "$dir" | tail -1
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
mkdir -p "$HERE/results"
WORK="$(mktemp -d /tmp/packgate-bench.XXXXXX)"
chmod 755 "$WORK"   # nginx workers may run as another user
RES="$WORK/results.tsv"
: >"$RES"
DATE="$(date -u +%Y-%m-%d)"
SUFFIX="${ONLY:+-$ONLY}"   # a partial run never overwrites the day's full report
OUT="$HERE/results/$DATE$SUFFIX.md"
PG_VERSION="$("$PG" --version | awk '{print $2}')"
GIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && [ -n "$(git status --porcelain -- src formats migrations 2>/dev/null)" ] && echo '+dirty' || true)"
record date "\"$(date -u +'%Y-%m-%d %H:%M UTC')\""
record machine "\"$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -r)), shared with other work\""
record packgate_version "\"$PG_VERSION\""
record git "\"$GIT\""
record parts "\"${ONLY:-npm+cargo+rubygems+nuget}\""
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

# ---------------------------------------------------------------------------------------- wrk
# run_wrk ID TARGET CONNS URL [HEADER...]  (empty headers are skipped)
run_wrk() {
  local id="$1" tgt="$2" conns="$3" url="$4"
  local out="$WORK/wrk.$id.$tgt.txt"
  local args=(-t2 "-c$conns" "-d${DUR}s" --latency --timeout 10s)
  local hdr
  for hdr in "${@:5}"; do [ -n "$hdr" ] && args+=(-H "$hdr"); done
  if [ "$tgt" = packgate ]; then curl -sf "http://127.0.0.1:$PGA_PORT/metrics" -o "$WORK/m0"; fi
  local c0; c0="$($PY cpu "${SPID[$tgt]}")"
  local b0; b0="$($PY busy)"
  local TIMEFORMAT='%U %S'
  { time wrk "${args[@]}" "$url" >"$out"; } 2>"$out.time"
  local c1; c1="$($PY cpu "${SPID[$tgt]}")"
  local b1; b1="$($PY busy)"
  local j; j="$($PY wrkparse "$out")"
  local wcpu; wcpu="$(awk '{printf "%.2f", $1+$2}' "$out.time")"
  local extra=""
  if [ "$tgt" = packgate ]; then
    curl -sf "http://127.0.0.1:$PGA_PORT/metrics" >"$WORK/m1"
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

record memory.packgate.peak "$(hwm_kib "$PGA_PID")"
record memory.packgate.end "$(rss_kib "$PGA_PID")"
if part npm; then
  record memory.verdaccio.peak "$(hwm_kib "$VD_PID")"
  record memory.verdaccio.end "$(rss_kib "$VD_PID")"
fi
if grep -qiE ' (ERROR|WARN) ' "$WORK/packgate/stderr.log"; then
  note "packgate logged $(grep -ciE ' (ERROR|WARN) ' "$WORK/packgate/stderr.log") ERROR/WARN lines during the run, first: $(grep -iE ' (ERROR|WARN) ' "$WORK/packgate/stderr.log" | head -1 | cut -c1-300)"
fi

# the read/publish servers are done: free the CPU for the streaming test
[ -n "$VD_PID" ] && kill "$VD_PID" 2>/dev/null || true
kill -QUIT "$NGINX_PID" 2>/dev/null || true
kill "$PGA_PID" 2>/dev/null || true
for p in "$VD_PID" "$NGINX_PID" "$PGA_PID"; do
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
NGINX_PID=""

# ------------------------------------------------------------------------------ 1 GiB streaming
# A fresh packgate with server.max_upload raised to 2 GiB. VmRSS is sampled every 0.2 s while a
# tarball of random bytes is uploaded (npm's publish JSON, base64, streamed from a file by curl -T)
# and downloaded again. packgate also caps what a tarball may unpack to (512 MiB in
# packgate-npm's TarballLimits, not configurable): if it refuses the 1 GiB tarball, the upload
# samples are still kept and the round trip is repeated with the largest tarball it accepts.
sample_rss() {  # PID FILE: VmRSS (KiB) every 0.2 s until killed
  while :; do rss_kib "$1" >>"$2" 2>/dev/null || break; sleep 0.2; done
}
max_of() { sort -n "$1" | tail -1; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }

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
# ------------------------------------------------------------------------------------- report
log "report"
cp "$RES" "$HERE/results/$DATE$SUFFIX.tsv"
$PY table "$RES" "$OUT"
echo >&2
echo "written: $OUT (raw values: $HERE/results/$DATE$SUFFIX.tsv)" >&2
