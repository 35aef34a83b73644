#!/usr/bin/env bash
# The long fault test: the reference topology (deploy/local/up.sh) under heavier device traffic for
# longer than the CI version, a service replica and then the PostgreSQL primary killed and brought back.
# Writes its figures into bench/RESULTS.md between the fault-test markers (bench/run.sh keeps that
# section) and the raw figures to bench/out/fault.json. About 6 minutes; not part of CI.
#   DEVICES (default 160), PERIOD seconds between a device's cycles (default 4: under the per-device
#   request budget of 60 a minute on check + status even with one replica left), SETTLE seconds of steady
#   traffic around each fault (default 60), REPLICAS (default 2)
set -uo pipefail
bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench/.." && pwd)
out=$bench/out
mkdir -p "$out"
results=${RESULTS:-$bench/RESULTS.md}
devices=${DEVICES:-160}
period=${PERIOD:-4}
settle=${SETTLE:-60}
export PAKU_TOPO_REPLICAS=${REPLICAS:-2}
export PAKU_TOPO_STATE=$repo/.local/topology-bench

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$repo/deploy/local/fault-test.sh" --devices "$devices" --period "$period" --settle "$settle" --json "$out/fault.json" \
  2>&1 | tee "$out/fault.log"
status=${PIPESTATUS[0]}
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
[ -s "$out/fault.json" ] || { echo "bench/fault.sh: the fault test wrote no figures (see $out/fault.log)"; exit 1; }

section=$(/usr/bin/python3 - "$out/fault.json" "$out/fault.log" <<PY
import json, re, sys
f = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read()
verdicts = [l for l in log.splitlines() if l.startswith(("ok   ", "FAIL "))]
summary = next((l for l in log.splitlines() if l.startswith("topology: ") and " passed, " in l), "topology: no verdict")
print("<!-- fault-test:begin -->")
print("## Fault test (reference topology)")
print()
print(f"Written by \`bench/fault.sh\` on $started (commit $(git -C "$repo" rev-parse --short HEAD)); load average $load_before at the start, $load_after at the end.")
print(f"Topology from \`deploy/local/up.sh\`: etcd, two PostgreSQL 15 nodes under Patroni (synchronous_mode_strict, synchronous_commit on),")
print(f"$PAKU_TOPO_REPLICAS service replicas, HAProxy (half the devices through TLS passthrough, half through TLS termination), all on")
print(f"the same 2 shared cores. {f['devices']} simulated devices (real mTLS), each cycle every ~{f['period_s']} s: check, a 16 KiB Range")
print(f"download compared with the image, a progress report; {f['duration_s']} s in all, {f['requests_total']} requests.")
print()
print("| fault | traffic served again after | notes |")
print("|---|---|---|")
for x in f["faults"]:
    served = "never" if x["served_again_after_s"] is None else f"{x['served_again_after_s']:.1f} s"
    notes = ", ".join(f"{k.removesuffix('_s').replace('_', ' ')} {v} s" for k, v in x.items() if k not in ("fault", "served_again_after_s"))
    print(f"| {x['fault']} | {served} | {notes or '–'} |")
print()
print("| requests | count |")
print("|---|---|")
for k, v in f["requests"].items():
    print(f"| {k} | {v} |")
print()
print(f"Status reports acknowledged (2xx) **{f['reports_acknowledged']}**, found in \`device_update_status\` {f['reports_stored']} "
      f"(more when a report was committed but its answer lost, and the device sent it again), "
      f"**lost {f['reports_lost']}**. Requests failed (anything but 2xx, 503 + Retry-After or a retried connection): "
      f"**{f['requests_failed']}**. Rollout halts (audit log): {f['halts'] or 'none'}.")
print()
print("\`\`\`")
print("\n".join(verdicts + [summary]))
print("\`\`\`")
print("<!-- fault-test:end -->")
PY
)
if [ -f "$results" ] && grep -q '<!-- fault-test:begin -->' "$results"; then
  /usr/bin/python3 - "$results" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"<!-- fault-test:begin -->.*?<!-- fault-test:end -->", lambda _: section, text, flags=re.S)
open(path, "w").write(text)
PY
else
  printf '\n%s\n' "$section" >>"$results"
fi
echo "bench/fault.sh: wrote the fault-test section of $results"
exit "$status"
