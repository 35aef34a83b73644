#!/usr/bin/env bash
# Patroni's post_bootstrap: runs once, on the node that created the cluster, as the superuser over the
# local socket. Creates the service's database, then the roles as postgres/initdb/10-roles.sh does for
# the single-node stack (the same script, so both stacks grant the same).
set -euo pipefail
: "${POSTGRES_DB:?}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username postgres --dbname postgres --set=db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
exec /usr/local/bin/10-roles.sh
