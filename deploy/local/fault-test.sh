#!/usr/bin/env bash
# The fault test with a topology of its own: starts it (up.sh, state in .local/topology-faulttest unless
# PAKU_TOPO_STATE says otherwise), runs faulttest.py with the given options (default: the short CI
# version, 16 devices, 12 s of steady traffic around each fault, about 3 minutes in all), and stops and
# removes everything it started, whatever happens. Ends with "topology: N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PAKU_TOPO_STATE=${PAKU_TOPO_STATE:-$(cd "$here/../.." && pwd)/.local/topology-faulttest}
trap '"$here/down.sh" --purge >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM

if ! "$here/up.sh"; then
  echo "FAIL the topology started (deploy/local/up.sh); logs in $PAKU_TOPO_STATE"
  echo "topology: 0 passed, 1 failed"
  # keep the logs for a look; the processes are stopped by the trap
  trap '"$here/down.sh" >/dev/null 2>&1' EXIT
  exit 1
fi
[ $# -gt 0 ] || set -- --devices 16 --period 4 --settle 12
# bounded: the test's own deadlines add up to well under this
timeout 1500 /usr/bin/python3 "$here/faulttest.py" "$@"
status=$?
if [ "$status" -ne 0 ]; then
  # keep the logs of a failed run for a look; the processes are stopped by the trap
  trap '"$here/down.sh" >/dev/null 2>&1' EXIT
  echo "fault test: logs kept in $PAKU_TOPO_STATE (replica*/service.log, pg*/patroni.log, haproxy/)"
fi
exit "$status"
