#!/usr/bin/env bash
# Stops everything deploy/local/up.sh started (HAProxy, the replicas, Patroni with its PostgreSQL, etcd),
# each by the process id it recorded. Data and secrets stay in the state folder; --purge removes them too.
set -uo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_pid "$topo_state/haproxy/haproxy.pid" TERM
stop_pid "$topo_state/nginx/nginx.pid" TERM
for dir in "$topo_state"/replica*; do
  [ -d "$dir" ] && stop_pid "$dir/pid" TERM
done
# the standby first, so the primary does not wait for it in strict synchronous mode while stopping
primary=$(primary_node || true)
for n in 2 1; do [ "$n" != "$primary" ] && stop_pg_node "$n"; done
[ -n "$primary" ] && stop_pg_node "$primary"
stop_pid "$topo_state/etcd.pid" TERM
if [ "${1:-}" = --purge ]; then
  [ -s "$topo_state/pg-base" ] && rm -rf "$(cat "$topo_state/pg-base")"
  rm -rf "$topo_state"
  topo_say "stopped; removed $topo_state"
else
  topo_say "stopped (state kept in $topo_state; --purge removes it)"
fi
