#!/usr/bin/env bash
# tools/pg-up.sh: idempotent local PostgreSQL for packgate's tests (Debian packages, no systemd).
#
#   eval "$(tools/pg-up.sh)"   # prints DATABASE_URL=postgres://packgate@127.0.0.1:5432/packgate_test
#
# Installs the Debian `postgresql` package if no server is installed, creates the `main` cluster if
# missing, starts it if it does not answer, and makes sure of a trust-auth role (LOGIN CREATEDB: the
# tests create one database per test server) and its database. Needs root. stdout carries only the
# DATABASE_URL line; everything else goes to stderr. Stop with: pg_ctlcluster <version> main stop
#
# The trust line is scoped to that one role on loopback: for test machines only. Unless
# PG_TEST_FAST=0, durability is also switched off (fsync, synchronous_commit, full_page_writes),
# which makes the tests' CREATE/DROP DATABASE much cheaper; data may be lost on a machine crash.
#
# Settings (environment, all optional): PG_TEST_DB (packgate_test), PG_TEST_USER (packgate),
# PGPORT (the cluster's port, 5432 by default; another value moves the `main` cluster there),
# PG_TEST_FAST (1).
set -euo pipefail

DB="${PG_TEST_DB:-packgate_test}"
ROLE="${PG_TEST_USER:-packgate}"
FAST="${PG_TEST_FAST:-1}"
export DEBIAN_FRONTEND=noninteractive

log() { echo "pg-up: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, manages the cluster as user postgres)"
[[ "$ROLE" =~ ^[a-z_][a-z0-9_]*$ && "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] ||
  die "PG_TEST_USER / PG_TEST_DB must be plain lower-case SQL identifiers"

# ---- 1. install ------------------------------------------------------------------------------
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || ! command -v pg_lsclusters >/dev/null; then
  log "installing the Debian postgresql package"
  t0=$SECONDS
  # Refresh the package lists only if apt knows no candidate yet (fresh machine).
  apt-cache policy postgresql 2>/dev/null | grep -q 'Candidate: [0-9]' || apt-get update -qq >&2
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends postgresql >&2
  log "installed in $((SECONDS - t0)) s"
fi
V="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' | awk -F/ '{print $5}' | sort -V | tail -n1)"
[ -n "$V" ] || die "no PostgreSQL server found under /usr/lib/postgresql"

# ---- 2. cluster and server -------------------------------------------------------------------
cluster_port() { pg_lsclusters -h | awk -v v="$V" '$1==v && $2=="main" {print $3}'; }
if [ -z "$(cluster_port)" ]; then
  log "creating cluster $V/main"
  pg_createcluster "$V" main >&2
fi
CUR="$(cluster_port)"
PGPORT="${PGPORT:-$CUR}"
if [ "$PGPORT" != "$CUR" ]; then # caller asked for another port: move the cluster there
  log "moving cluster $V/main from port $CUR to $PGPORT"
  pg_conftool "$V" main set port "$PGPORT"
  pg_ctlcluster "$V" main stop >&2 2>/dev/null || true
fi
ready() { pg_isready -q -h 127.0.0.1 -p "$PGPORT"; }
if ! ready; then
  log "starting cluster $V/main on port $PGPORT"
  t0=$SECONDS
  # Works without systemd; run as root it starts postgres as the cluster owner. "Already running"
  # (e.g. up but not yet accepting) is not an error here: the readiness loop decides.
  pg_ctlcluster "$V" main start >&2 || log "pg_ctlcluster start returned $? (checking readiness)"
  for _ in $(seq 1 150); do ready && break; sleep 0.2; done
  if ! ready; then
    tail -n 20 "/var/log/postgresql/postgresql-$V-main.log" >&2 2>/dev/null || true
    die "PostgreSQL $V/main did not become ready on 127.0.0.1:$PGPORT"
  fi
  log "ready in $((SECONDS - t0)) s"
fi

# ---- 3. role, auth, database -----------------------------------------------------------------
psqlsu() { runuser -u postgres -- psql -X -p "$PGPORT" -v ON_ERROR_STOP=1 -qtA "$@"; }
reload=0
HBA="$(psqlsu -c 'SHOW hba_file')"
for LINE in "host all $ROLE 127.0.0.1/32 trust" "host all $ROLE ::1/128 trust"; do
  if ! grep -qxF "$LINE" "$HBA"; then
    sed -i "1i $LINE" "$HBA" # first match wins: must precede the default scram-sha-256 lines
    reload=1
  fi
done
if [ "$FAST" = 1 ]; then
  for SETTING in fsync synchronous_commit full_page_writes; do
    if [ "$(psqlsu -c "SHOW $SETTING")" != off ]; then
      psqlsu -c "ALTER SYSTEM SET $SETTING = off" >/dev/null
      reload=1
    fi
  done
fi
[ "$reload" = 0 ] || psqlsu -c 'SELECT pg_reload_conf()' >/dev/null
if [ "$(psqlsu -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" = 1 ]; then
  [ "$(psqlsu -c "SELECT rolcanlogin AND rolcreatedb FROM pg_roles WHERE rolname = '$ROLE'")" = t ] ||
    psqlsu -c "ALTER ROLE $ROLE LOGIN CREATEDB"
else
  psqlsu -c "CREATE ROLE $ROLE LOGIN CREATEDB"
fi
[ "$(psqlsu -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" = 1 ] ||
  psqlsu -c "CREATE DATABASE $DB OWNER $ROLE"

# Check what the tests will do: connect over TCP as the role without a password.
psql -X -w -h 127.0.0.1 -p "$PGPORT" -U "$ROLE" -d "$DB" -qtA -c 'SELECT 1' >/dev/null ||
  die "cannot connect as $ROLE to 127.0.0.1:$PGPORT/$DB"

echo "DATABASE_URL=postgres://$ROLE@127.0.0.1:$PGPORT/$DB"
