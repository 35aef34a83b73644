#!/usr/bin/env bash
# Pokes the running topology (used by the fault test, handy by hand):
#   ctl.sh kill-replica N | start-replica N | replica-healthy N
#   ctl.sh kill-pg N | start-pg N | primary | sync-ready | psql ARGS...
#   ctl.sh env   prints the ports and paths as shell assignments
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case ${1:-} in
  kill-replica) kill_replica "$2" ;;
  start-replica) start_replica "$2" ;;
  replica-healthy) replica_healthy "$2" ;;
  kill-pg) kill_pg_node "$2" ;;
  start-pg) start_pg_node "$2" ;;
  primary) primary_node ;;
  sync-ready) sync_standby_ready ;;
  psql) shift; psql_primary "$@" ;;
  env)
    cat <<ENV
state=$topo_state
replicas=$topo_replicas
passthrough=$port_haproxy_passthrough
terminate=$port_haproxy_terminate
admin=$port_haproxy_admin
stats=$port_haproxy_stats
pg1=$(port_pg 1)
pg2=$(port_pg 2)
offload=$(grep -q '^Ota__Offload__Enabled=true' "$topo_state/service.env" 2>/dev/null && echo 1 || echo 0)
ENV
    ;;
  *) sed -n '2,6p' "$0" >&2; exit 2 ;;
esac
