#!/usr/bin/env bash
# Test set-up for PostgreSQL as the store: a throwaway PostgreSQL 15 cluster in a temp dir, on
# 127.0.0.1 and a free port, that never touches the system's own (Debian's `postgresql` package
# configures none here, and nothing starts from it).
#   up         install Debian's postgresql if needed (root and apt-get), initdb + pg_ctl start as
#              the postgres OS user; prints YARD_TEST_PG_URL=postgres://... (a superuser, for the
#              tests to create one database per test master) and YARD_TEST_PG_DIR=... (for `down`)
#   down DIR   stop that cluster and remove its directory
# Fails (exit 1, the reason on stderr) when PostgreSQL cannot be had; `npm test` then says so loudly.
set -uo pipefail
log() { echo "[postgres] $*" >&2; }

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  return 1
}

install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL is not installed, and cannot be (need root and apt-get)"; return 1
  fi
  log "installing postgresql from Debian"
  # The package must not start (or leave configured to start) a system cluster: no service starts
  # during the install, and the cluster it creates stays stopped.
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  local apt_log=/tmp/trainyard-postgres-apt.log
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql) >"$apt_log" 2>&1
  local status=$?
  [ -n "$made_policy" ] && rm -f "$policy"
  [ $status = 0 ] || { log "apt-get failed: $(tail -n 3 "$apt_log")"; return 1; }
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

up() {
  local bin
  bin=$(find_bin) || { install || return 1; bin=$(find_bin) || { log "no initdb after the install"; return 1; }; }
  local dir; dir=$(mktemp -d /tmp/trainyard-postgres-XXXXXX)
  chmod 700 "$dir"
  # PostgreSQL refuses to run as root: as root, as the package's postgres OS user; else as whoever runs this.
  local as=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { log "no 'postgres' OS user (Debian's package creates it)"; return 1; }
    chown postgres: "$dir"
    as=(runuser -u postgres --)
  fi
  # Trust on 127.0.0.1 only (initdb's default pg_hba), a throwaway cluster; the C locale keeps
  # the ordering of text the same as SQLite's (byte order).
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { log "initdb failed: $(tail -n 3 "$dir/initdb.log")"; return 1; }
  local port; port=$(free_port)
  # fsync off: a test cluster that dies with the run; max_connections for test masters' pools.
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500" start >/dev/null 2>&1 \
    || { log "the server did not start: $(tail -n 5 "$dir/server.log")"; return 1; }
  echo "YARD_TEST_PG_URL=postgres://postgres@127.0.0.1:$port/postgres"
  echo "YARD_TEST_PG_DIR=$dir"
}

down() {
  local dir=${1:-}
  [ -n "$dir" ] && [ -d "$dir/data" ] || { log "usage: postgres.sh down DIR (the YARD_TEST_PG_DIR that up printed)"; return 1; }
  local bin; bin=$(find_bin) || return 1
  local as=()
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || log "pg_ctl stop failed (already stopped?)"
  rm -rf "$dir"
}

case "${1:-}" in
  up) up ;;
  down) down "${2:-}" ;;
  *) log "usage: postgres.sh up | down DIR"; exit 2 ;;
esac
