#!/usr/bin/env bash
# Starts (or reuses) a private PostgreSQL cluster under .local/pg, from the machine's
# own PostgreSQL binaries. Works as root by running the server as the `postgres` user.
# Prints the connection string as the last line on stdout; everything else goes to stderr.
#   PAKU_PG_PORT   port to listen on (default 55432, loopback only)
#   PAKU_PG_DIR    where the cluster lives (default <repo>/.local/pg)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${PAKU_PG_PORT:-55432}
base=${PAKU_PG_DIR:-$repo/.local/pg}
data=$base/data
log=$base/postgres.log
db=${PAKU_PG_DB:-paku}

say() { echo "pg-start: $*" >&2; }

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

bin=$(find_bin || true)
if [ -z "$bin" ]; then
  say "no PostgreSQL server binaries found; installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bin=$(find_bin)
fi

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$base"
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  chown postgres: "$base"
  # The server runs as postgres and must reach its data folder. When a parent folder is
  # closed to other users (a checkout under /root, say), keep the cluster in /tmp instead.
  if ! runuser -u postgres -- test -x "$base"; then
    alt=/tmp/paku-pg-$(printf '%s' "$base" | sha256sum | cut -c1-12)
    say "the postgres user cannot reach $base; using $alt instead"
    base=$alt; data=$base/data; log=$base/postgres.log
    mkdir -p "$base" && chown postgres: "$base"
  fi
fi

if [ ! -s "$data/PG_VERSION" ]; then
  say "creating a new cluster in $data"
  as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >&2
  cat >> "$data/postgresql.conf" <<CONF
# set by scripts/pg-start.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$base'
max_connections = 300
shared_buffers = 256MB
CONF
fi

if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  say "reusing the running cluster in $data"
else
  if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    say "port $port is taken by another PostgreSQL (not the cluster in $data); set PAKU_PG_PORT to a free port"
    exit 1
  fi
  say "starting PostgreSQL on 127.0.0.1:$port (log: $log)"
  as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $port" start >&2
fi

for _ in $(seq 1 60); do
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
  sleep 0.5
done
"$bin/pg_isready" -q -h 127.0.0.1 -p "$port" || { say "PostgreSQL did not become ready; see $log"; exit 1; }

if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "select 1 from pg_database where datname = '$db'" | grep -q 1; then
  "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "create database \"$db\"" >&2
fi

echo "Host=127.0.0.1;Port=$port;Username=postgres;Database=$db"
