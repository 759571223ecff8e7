#!/usr/bin/env bash
# tools/s3-down.sh: stop the s3s-fs test server that tools/s3-up.sh started, by its recorded pid.
# Same S3_PORT / S3_ROOT settings as s3-up.sh. Does nothing if no such server runs. Objects stay in
# $S3_ROOT/data until the next s3-up.sh start wipes them.
set -euo pipefail

S3_PORT="${S3_PORT:-9000}"
S3_ROOT="${S3_ROOT:-${TMPDIR:-/tmp}/packgate-s3-$S3_PORT}"
PIDFILE="$S3_ROOT/server.pid"

log() { echo "s3-down: $*" >&2; }
# Alive = exists and is not a zombie (a reparented child may never be reaped in a container).
alive() { [ -r "/proc/$1/stat" ] && ! awk '{exit !($3 == "Z")}' "/proc/$1/stat" 2>/dev/null; }

pid="$(cat "$PIDFILE" 2>/dev/null || true)"
if [ -z "$pid" ]; then
  log "no pid file ($PIDFILE): nothing to stop"
  exit 0
fi
# Only signal the pid if it still is s3s-fs (pids get reused).
if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 's3s-fs'; then
  kill -TERM "$pid"
  for _ in $(seq 1 50); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "pid $pid ignored SIGTERM for 5 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  log "stopped s3s-fs (pid $pid)"
else
  log "pid $pid is not running s3s-fs any more"
fi
rm -f "$PIDFILE"
