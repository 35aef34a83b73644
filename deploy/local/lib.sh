# Shared by up.sh, down.sh, ctl.sh and the fault test: where everything lives and how each part of the
# reference topology is started and stopped. Sourced, not run.
#
#   PAKU_TOPO_PORT_BASE  first of the 100 loopback ports the topology uses (default 19000)
#   PAKU_TOPO_STATE      state folder (default <repo>/.local/topology, git-ignored)
#   PAKU_TOPO_REPLICAS   service replicas (default 2, at most 9)
topo_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
topo_state=${PAKU_TOPO_STATE:-$topo_repo/.local/topology}
topo_base=${PAKU_TOPO_PORT_BASE:-19000}
topo_replicas=${PAKU_TOPO_REPLICAS:-2}
topo_pg_bin=${PAKU_TOPO_PG_BIN:-/usr/lib/postgresql/15/bin}

# fixed offsets from the base port (deploy/local/README.md lists them)
port_etcd=$((topo_base + 0))
port_etcd_peer=$((topo_base + 1))
port_pg() { echo $((topo_base + 9 + $1)); }          # node 1 -> base+10, node 2 -> base+11
port_patroni() { echo $((topo_base + 19 + $1)); }    # node 1 -> base+20, node 2 -> base+21
port_http() { echo $((topo_base + 28 + 2 * $1)); }   # replica 1 -> base+30 (admin listener, plain HTTP)
port_https() { echo $((topo_base + 29 + 2 * $1)); }  # replica 1 -> base+31 (device listener, mTLS)
port_haproxy_passthrough=$((topo_base + 40))         # devices, TLS passed through to the replicas
port_haproxy_terminate=$((topo_base + 41))           # devices, TLS terminated by HAProxy
port_haproxy_admin=$((topo_base + 42))               # admin API and console (loopback)
port_haproxy_stats=$((topo_base + 43))
port_nginx=$((topo_base + 50))

topo_say() { echo "topology: $*" >&2; }

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pid_alive FILE: the process named in FILE runs
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid FILE [SIGNAL]: stops the one process named in FILE (TERM, then KILL after 20 s)
stop_pid() {
  local file=$1 signal=${2:-TERM} pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$signal" "$pid" 2>/dev/null
    for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$file"
}

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every half second until it succeeds
wait_for() {
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      topo_say "$what did not happen within ${seconds}s"
      return 1
    fi
    sleep 0.5
  done
}

http_ok() { curl -fsS -o /dev/null --max-time 5 "$1"; }

# ---- PostgreSQL nodes (Patroni) --------------------------------------------------------------------
# the PostgreSQL nodes live under the state folder, or where up.sh put them when the postgres user
# cannot reach it (a checkout under /root, say): the folder named in <state>/pg-base
pg_dir() { echo "$(cat "$topo_state/pg-base" 2>/dev/null || echo "$topo_state")/pg$1"; }

start_pg_node() {
  local n=$1 dir
  dir=$(pg_dir "$n")
  pid_alive "$dir/patroni.pid" && return 0
  # Patroni runs as postgres (initdb and postgres refuse root); it starts and watches its PostgreSQL
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- bash -c 'exec setsid patroni "$1" >>"$2" 2>&1 </dev/null & echo $! >"$3"' _ \
      "$dir/patroni.yml" "$dir/patroni.log" "$dir/patroni.pid"
  else
    setsid patroni "$dir/patroni.yml" >>"$dir/patroni.log" 2>&1 </dev/null &
    echo $! >"$dir/patroni.pid"
  fi
}

# kill_pg_node N: the node is lost at once, Patroni and its PostgreSQL together (kill -9, no shutdown)
kill_pg_node() {
  local n=$1 dir postmaster
  dir=$(pg_dir "$n")
  postmaster=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)
  [ -s "$dir/patroni.pid" ] && kill -KILL "$(cat "$dir/patroni.pid")" 2>/dev/null
  [ -n "$postmaster" ] && kill -KILL "$postmaster" 2>/dev/null
  # the backends of a killed postmaster notice and exit by themselves; wait for the port to close
  wait_for 60 "PostgreSQL node $n to go away" bash -c "! $topo_pg_bin/pg_isready -q -h 127.0.0.1 -p $(port_pg "$n")"
  rm -f "$dir/patroni.pid"
}

stop_pg_node() {
  local n=$1 dir
  dir=$(pg_dir "$n")
  stop_pid "$dir/patroni.pid" TERM   # Patroni stops its PostgreSQL on the way out
  if [ -s "$dir/data/postmaster.pid" ] && as_postgres "$topo_pg_bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_postgres "$topo_pg_bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
}

# patroni_role N: "primary", "replica" or nothing (Patroni's REST API)
patroni_role() {
  curl -fsS --max-time 3 "http://127.0.0.1:$(port_patroni "$1")/patroni" 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("role",""))' 2>/dev/null
}

# primary_node: the node number Patroni says is the primary (leader), or nothing
primary_node() {
  local n
  for n in 1 2; do
    curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:$(port_patroni "$n")/primary" 2>/dev/null && { echo "$n"; return 0; }
  done
  return 1
}

# sync_standby_ready: a synchronous standby streams from the primary (strict mode needs one to commit)
sync_standby_ready() {
  local n
  for n in 1 2; do
    curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:$(port_patroni "$n")/sync" 2>/dev/null && return 0
  done
  return 1
}

# psql_primary ARGS...: psql as the superuser on the current primary
psql_primary() {
  local n
  n=$(primary_node) || { topo_say "no PostgreSQL primary"; return 1; }
  PGPASSWORD=$(cat "$topo_state/secrets/pg-superuser-password") \
    "$topo_pg_bin/psql" -h 127.0.0.1 -p "$(port_pg "$n")" -U postgres -v ON_ERROR_STOP=1 "$@"
}

# ---- service replicas ------------------------------------------------------------------------------
replica_dir() { echo "$topo_state/replica$1"; }

start_replica() {
  local n=$1 dir
  dir=$(replica_dir "$n")
  mkdir -p "$dir"
  pid_alive "$dir/pid" && return 0
  (
    set -a
    # shellcheck disable=SC1091
    . "$topo_state/service.env"
    set +a
    export Ota__Http__Port=$(port_http "$n") Ota__Https__Port=$(port_https "$n")
    cd "$dir" && exec setsid dotnet "$topo_state/app/Paku.Ota.Api.dll" serve >>"$dir/service.log" 2>&1 </dev/null
  ) &
  echo $! >"$dir/pid"
}

replica_healthy() { http_ok "http://127.0.0.1:$(port_http "$1")/health"; }

kill_replica() { stop_pid "$(replica_dir "$1")/pid" KILL; }

stop_replica() { stop_pid "$(replica_dir "$1")/pid" TERM; }
