#!/usr/bin/env bash
# Stops the private PostgreSQL cluster that scripts/pg-start.sh started.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base=${PAKU_PG_DIR:-$repo/.local/pg}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | head -1)
alt=/tmp/paku-pg-$(printf '%s' "$base" | sha256sum | cut -c1-12)
[ -s "$base/data/PG_VERSION" ] || [ ! -s "$alt/data/PG_VERSION" ] || base=$alt
[ -s "$base/data/PG_VERSION" ] || { echo "pg-stop: no cluster in $base" >&2; exit 0; }
if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); else run=(); fi
if "${run[@]}" "$bin/pg_ctl" -D "$base/data" status >/dev/null 2>&1; then
  "${run[@]}" "$bin/pg_ctl" -D "$base/data" -m fast -w stop >&2
else
  echo "pg-stop: the cluster in $base is not running" >&2
fi
