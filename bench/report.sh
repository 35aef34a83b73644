#!/usr/bin/env bash
# Writes the benchmark report (Markdown, on stdout) from what bench/run.sh left in its output folder:
# machine.env, results.tsv (one line per run), seeding.tsv, memory.tsv, db-size.txt.
#   bench/report.sh [bench/out] > bench/RESULTS.md
set -euo pipefail
out=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out}
[ -s "$out/results.tsv" ] || { echo "report.sh: no results in $out/results.tsv" >&2; exit 1; }

env_of() { sed -n "s/^$1=//p" "$out/machine.env" | head -1; }
setting() { tr ' ' '\n' <"$out/machine.env" | sed -n "s/^$1=//p" | head -1; }

# stat SCENARIO COLUMN -> "median min max valid_runs" over the valid runs (columns: 4 req/s, 5 p50, 6 p99, 7 MB/s)
stat() {
  awk -F'\t' -v s="$1" -v c="$2" '$1 == s && $3 == "yes" { print $c }' "$out/results.tsv" | sort -g | awk '
    { v[++n] = $1 }
    END { if (n == 0) { print "- - - 0"; exit } m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2; print m, v[1], v[n], n }'
}
# cpu SCENARIO -> median cores per part: total service postgres baseline nginx load-tool
cpu() {
  awk -F'\t' -v s="$1" '$1 == s && $3 == "yes" { print $10 }' "$out/results.tsv" | awk '
    { for (i = 1; i <= NF; i++) v[i, ++n[i]] = $i }
    END {
      if (!n[1]) { print "-"; exit }
      for (i = 1; i <= 6; i++) {
        k = n[i]; for (a = 1; a <= k; a++) x[a] = v[i, a]
        for (a = 2; a <= k; a++) { t = x[a]; b = a - 1; while (b > 0 && x[b] > t) { x[b + 1] = x[b]; b-- } x[b + 1] = t }
        m[i] = k % 2 ? x[(k + 1) / 2] : (x[k / 2] + x[k / 2 + 1]) / 2
      }
      other = m[1] - m[2] - m[3] - m[4] - m[5] - m[6]; if (other < 0) other = 0
      printf "%.2f | %.2f | %.2f | %.2f | %.2f | %.2f\n", m[1], m[2], m[3], m[4] + m[5], m[6], other
    }'
}
median() { stat "$1" "$2" | cut -d' ' -f1; }
runs_of() { awk -F'\t' -v s="$1" '$1 == s' "$out/results.tsv" | wc -l; }
fmt() { awk -v x="$1" -v d="${2:-0}" 'BEGIN { if (x == "-" || x == "") print "–"; else printf "%.*f\n", d, x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }
# verdict VALUE OP TARGET [STRETCH]
verdict() {
  awk -v x="$1" -v op="$2" -v t="$3" -v st="${4:-}" 'BEGIN {
    if (x == "-") { print "no figure"; exit }
    ok = op == ">=" ? x >= t : (op == "<=" ? x <= t : x < t)
    v = ok ? "**met**" : "**missed**"
    if (st != "") v = v (x >= st ? " (stretch met)" : " (stretch missed)")
    print v }'
}

fleet_small=$(setting fleet_small); fleet=$(setting fleet); fleet_large=$(setting fleet_large)
human() { awk -v n="$1" 'BEGIN { if (n >= 1000000 && n % 1000000 == 0) printf "%dM\n", n / 1000000; else if (n >= 1000 && n % 1000 == 0) printf "%dk\n", n / 1000; else print n }'; }

describe() {
  case $1 in
    floor) echo "baseline app: GET /floor, ~200-byte JSON, no I/O (HTTP keep-alive)" ;;
    floor@10k) echo "(machine state) the floor again, between the check-10k runs" ;;
    floor@1M) echo "(machine state) the floor again, between the check-1M runs" ;;
    one-upsert) echo "baseline app: one Npgsql+Dapper upsert … RETURNING on bench_devices ($(human "$fleet") rows)" ;;
    check) echo "service: GET /api/firmware/check, $(human "$fleet") registered devices, random device per request" ;;
    check-10k) echo "service: the same check with $(human "$fleet_small") registered devices" ;;
    check-1M) echo "service: the same check with $(human "$fleet_large") registered devices" ;;
    download) echo "service: GET /api/firmware/download/1.1.0, whole 1.5 MiB image" ;;
    download-range) echo "service: the same download with Range: bytes=N- (N random)" ;;
    nginx) echo "nginx: the same image as a static file, sendfile" ;;
    nginx-range) echo "nginx: the same file with Range: bytes=N- (N random)" ;;
    status) echo "service: POST /api/device/{id}/update-status (downloading, N %) from devices offered an update" ;;
    mtls-check) echo "service: the check over HTTPS with a client certificate, new connection (full handshake) per request" ;;
    tls) echo "baseline app: GET /floor over HTTPS, same certificates and handshake, new connection per request" ;;
    tls-anon) echo "(reference) the tls baseline without a client certificate" ;;
    pgbench) echo "pgbench -M prepared: the one-upsert statement straight at PostgreSQL ($(setting pgbench_clients) clients)" ;;
  esac
}

scenarios=(floor one-upsert check check-10k floor@10k check-1M floor@1M download download-range nginx nginx-range status mtls-check tls tls-anon pgbench)

cat <<EOF
# Paku OTA — benchmark results

Written by \`bench/run.sh\` on $(env_of date) (commit $(env_of commit)); raw output in \`bench/out/\` (not committed).
Every figure is the **median of $(setting runs) valid runs of $(setting duration) s** (min–max in brackets), all measured in
the same run on the same machine. A run with any non-2xx response or socket error is refused as a figure and
listed below; a scenario left with fewer than $(setting runs) valid runs is measured again (at most twice more). Seeding: **$(setting seed)** ($( [ "$(setting seed)" = api ] && echo "releases, rollouts and groups through the admin API, devices registered through the device check" || echo "releases, rollouts and groups written with SQL, devices registered through the device check — development mode, not the published method")).
$( [ "$(setting quick)" = 1 ] && echo "
**QUICK=1 run: shortened, smaller fleets; not a published figure.**" )

## Machine

| | |
|---|---|
| CPU | $(env_of cpu) |
| cores (nproc) | $(env_of nproc) |
| memory | $(env_of memory) |
| kernel | $(env_of kernel) |
| OS | $(env_of os) |
| .NET | SDK $(env_of dotnet_sdk), ASP.NET Core runtime $(env_of aspnetcore) |
| PostgreSQL | $(env_of postgres) (private cluster from \`scripts/pg-start.sh\`: shared_buffers 256MB, fsync and synchronous_commit on) |
| load tools | wrk $(env_of wrk), ApacheBench $(env_of ab), nginx $(env_of nginx), pgbench $(env_of postgres) |
| load average | $(env_of loadavg_start) at the start, $(env_of loadavg_end) at the end (the machine is shared) |
| total run time | $(awk -v s="$(env_of total_seconds)" 'BEGIN { printf "%d min %d s", s / 60, s % 60 }') |

Load settings: wrk $(setting threads) threads, $(setting connections) connections, keep-alive; TLS scenarios: ab, $(setting tls_procs) processes × $(setting tls_conc) connections,
a new connection per request. Everything on 127.0.0.1; the load tool, the service and PostgreSQL share the $(env_of nproc) cores.

## Figures

| scenario | what | valid runs | req/s | p50 ms | p99 ms | MB/s |
|---|---|---|---|---|---|---|
EOF
for s in "${scenarios[@]}"; do
  total=$(runs_of "$s")
  [ "$total" -gt 0 ] || continue
  read -r rm rmin rmax n <<<"$(stat "$s" 4)"
  p50=$(median "$s" 5); p99=$(median "$s" 6); mb=$(median "$s" 7)
  if [ "$n" = 0 ]; then rps="refused"; else rps="$(fmt "$rm") ($(fmt "$rmin")–$(fmt "$rmax"))"; fi
  [ "$s" = pgbench ] && mbcol="–" || mbcol=$(fmt "$mb" 1)
  echo "| $s | $(describe "$s") | $n of $total | $rps | $(fmt "$p50" 2) | $(fmt "$p99" 2) | $mbcol |"
done

rps_check=$(median check 4); rps_upsert=$(median one-upsert 4); rps_floor=$(median floor 4)
rps_dl=$(median download 4); rps_nginx=$(median nginx 4); rps_status=$(median status 4)
rps_mtls=$(median mtls-check 4); rps_tls=$(median tls 4)
rps_dlr=$(median download-range 4); rps_nginxr=$(median nginx-range 4)
p50_1m=$(median check-1M 5); p50_10k=$(median check-10k 5)
rps_pgbench=$(median pgbench 4)
r1=$(ratio "$rps_check" "$rps_upsert"); r2=$(ratio "$rps_check" "$rps_floor"); r3=$(ratio "$rps_dl" "$rps_nginx")
r4=$(ratio "$rps_status" "$rps_upsert"); r5=$(ratio "$rps_mtls" "$rps_tls"); r6=$(ratio "$p50_1m" "$p50_10k")
rss_1m=$(awk -F'\t' -v k="after-check-$fleet_large" '$1 == k { print $2 }' "$out/memory.tsv")

cat <<EOF

## Ratios

Throughput ratios compare median req/s; the fleet ratio compares median p50 latency.

| ratio | R | target | verdict |
|---|---|---|---|
| check/one-upsert | $r1 | ≥ 1.0× (stretch ≥ 2×) | $(verdict "$r1" ">=" 1.0 2.0) |
| check/floor | $r2 | (for reference) | – |
| download/nginx | $r3 | ≥ 0.5× | $(verdict "$r3" ">=" 0.5) |
| status/one-upsert | $r4 | ≥ 0.8× | $(verdict "$r4" ">=" 0.8) |
| mtls-check/tls | $r5 | ≥ 0.8× | $(verdict "$r5" ">=" 0.8) |
| check-1M/check-10k p50 | $r6 | ≤ 1.3× | $(verdict "$r6" "<=" 1.3) |
| RSS after the $(human "$fleet_large") check (MiB) | ${rss_1m:--} | < 400 MiB | $(verdict "${rss_1m:--}" "<" 400) |
| pgbench (req/s, for reference) | $(fmt "$rps_pgbench") | one-upsert/pgbench = $(ratio "$rps_upsert" "$rps_pgbench") | – |
| download-range/nginx-range (for reference) | $(ratio "$rps_dlr" "$rps_nginxr") | – | – |
| tls/tls-anon: what the client certificate costs the handshake (for reference) | $(ratio "$rps_tls" "$(median tls-anon 4)") | – | – |
| floor@1M/floor@10k p50: the machine's own drift between those phases (for reference) | $(ratio "$(median floor@1M 5)" "$(median floor@10k 5)") | – | – |
| check-1M/check-10k req/s (for reference) | $(ratio "$(median check-1M 4)" "$(median check-10k 4)") | – | – |

## Where the CPU went

Median cores busy during the runs (of $(env_of nproc)), from /proc: the whole machine, the service process, every
PostgreSQL process, the baseline app or nginx (whichever served), the load tool (wrk, ab or pgbench, from the
script's child CPU times), and the rest of the machine (other tenants; the machine is shared).

| scenario | machine | service | postgres | baseline/nginx | load tool | rest |
|---|---|---|---|---|---|---|
EOF
for s in "${scenarios[@]}"; do
  [ "$(runs_of "$s")" -gt 0 ] || continue
  echo "| $s | $(cpu "$s") |"
done

cat <<EOF

## Seeding (through the device API)

Devices register by calling the device check; wrk walks the ids sequentially ($(setting connections) connections) until
the database holds every one. Every 10th device then gets groups (admin API, 10,000 devices per call) and checks
in again so the group rollouts' offers are recorded before anything is measured.

| step | devices | seconds | devices/s |
|---|---|---|---|
EOF
awk -F'\t' '{ printf "| %s | %d | %d | %.0f |\n", $1, $2, $3, ($3 > 0 ? $2 / $3 : 0); t += $3 }
  END { printf "| all seeding through the device API | | %d | |\n", t }' "$out/seeding.tsv"
echo
echo "Seconds are wall time, polled every 2 s (so small steps read slow). Registration is a device's first check:"
echo "the upsert plus the recorded offer of the rollout it falls into."

cat <<EOF

## Service memory

| when | RSS (MiB, VmRSS from /proc) |
|---|---|
EOF
awk -F'\t' '{ printf "| %s devices | %s |\n", $1, $2 }' "$out/memory.tsv" | sed 's/^| after-/| after /; s/after seeding-/after seeding /; s/after check-/after the check runs at /'
[ -s "$out/db-size.txt" ] && printf '\nDatabase at the end: %s.\n' "$(cat "$out/db-size.txt")"

if [ -s "$out/profile/counters.csv" ]; then
  printf '\n## Profile of one extra check run (PROFILE=1, %s devices)\n\n' "$(human "$fleet")"
  printf '`dotnet-counters` means over the run (raw files in `bench/out/profile/`):\n\n| counter | mean |\n|---|---|\n'
  awk -F, 'NR > 1 {
      name = $3
      if (name ~ /Database=postgres[;\]]/) next
      gsub(/db\.client\.connection\.pool\.name=[^]]*Database=paku[^;\]]*(;Timeout=[^]]*Min Usages=2)?/, "pool=paku", name)
      sum[name] += $NF; n[name]++ }
    END { for (k in sum) printf "| %s | %.4g |\n", k, sum[k] / n[k] }' "$out/profile/counters.csv" \
    | grep -E 'cpu.time|gc.heap.total_allocated|gc.collections|pause.time|thread_pool.queue|thread_pool.thread.count|lock_contentions|working_set|connection.count|operation.duration|npgsql.executing|request.duration.*Percentile=(50|99)' | sort || true
  if [ -s "$out/profile/top-inclusive.txt" ] && ! grep -q ERROR "$out/profile/top-inclusive.txt"; then
    printf '\n`dotnet-trace` (%s) during the same run: the service'"'"'s own code, Npgsql, Mediator, validation, JSON and\nauthentication frames among the top 400 by inclusive share (full list: `bench/out/profile/top-inclusive.txt`):\n\n```\n' \
      "$(cat "$out/profile/how" 2>/dev/null || echo cpu-sampling)"
    grep -E 'Paku|Npgsql|Mediator|Validation|Json|Authentication|Authorization|Certificate|Dapper|Handler|Filter|Batcher|Store|Selection|Catalog|Middleware|clrjit|sched_yield' "$out/profile/top-inclusive.txt" | head -45 | cut -c1-150 || true
    printf '```\n'
  fi
fi

refused=$(awk -F'\t' '$3 != "yes" { printf "- %s run %s: %s\n", $1, $2, $11 }' "$out/results.tsv")
if [ -n "$refused" ]; then
  printf '\n## Refused runs\n\nThese runs had errors and are not counted in any figure:\n\n%s\n' "$refused"
fi

cat <<EOF

## Method

- **Fleet**: device ids \`dev-0000000\` …, model by id mod 3 (esp32, esp32s3, esp32c3), all running 1.0.0.
  10 releases (1.5 MiB images starting with 0xE9) and 10 active rollouts: esp32 — all 100 % (1.1.0), canary 10 %
  (1.2.0), group site:north (1.3.0), specific 100 devices (2.0.0); esp32s3 — all 50 % (1.1.0), canary 5 % (1.2.0),
  group ring:beta|site:south (2.0.0-beta.1); esp32c3 — all 100 % (1.1.0), canary 25 % (1.2.0), group site:north
  30 % (1.5.0). One device in ten has groups. The fleets grow in place: $(human "$fleet_small") measured first, then
  registered up to $(human "$fleet") (every scenario and baseline), then up to $(human "$fleet_large").
- **wrk scripts** (\`bench/lua/\`) pick a random device of the registered fleet per request; floor and one-upsert
  use the same script and query string, so wrk does the same work for the baselines as for the check. Latency
  percentiles come from wrk's \`done()\`.
- **Order**: at $(human "$fleet") devices the scenarios run round-robin (floor, one-upsert, check, download, …,
  pgbench, then again), so a noisy neighbour hits baselines and service alike; each set starts with a short unrecorded warm-up.
- **tls and mtls-check use ApacheBench (\`ab\`, Debian apache2-utils)**, not wrk: wrk cannot present a client
  certificate, and the mTLS check needs one. ab opens a new connection, with a full TLS handshake (no session
  resumption), for every request, as an ESP device does for each poll. The tls baseline is driven the same way
  against the baseline app's HTTPS listener, which asks for and accepts the same client certificates, so the two
  handshakes cost the same and the ratio isolates the service's work. ab runs one certificate per process:
  $(setting tls_procs) device certificates (CN dev-0000000 … , issued with the service's \`cert-device\` verb), one ab process
  each with $(setting tls_conc) connections, each asking about its own device — the service refuses a certificate whose CN
  differs from device_id, and one certificate per device is what a fleet has. Requests/s add up over the processes;
  p50/p99 are merged from each process's percentile table (\`ab -e\`), weighted by its requests.
- **status** posts \`{"device_id", "firmware_version", "status": "downloading", "progress_percent": N}\` for random
  devices that were offered an update (the version they were offered), with the per-device rate limit raised.
- **download** and **nginx** fetch the same image file (the esp32 1.1.0 release) with the same script; the service's
  download cap is raised above the connection count.
- **one-upsert** and **pgbench** use \`bench_devices\`, a table of the devices table's shape and indexes, with as
  many rows as the main fleet, in a database of its own on the same PostgreSQL cluster. The baseline app's
  NpgsqlDataSource auto-prepares statements, as the service's does.
EOF

# The download scenarios are measured by bench/downloads.sh, not by run.sh: their section of the previous
# report (KEEP_FROM, which run.sh copies aside before it writes the new one) is kept as it stands.
# So is the fault test's section (bench/fault.sh, between its markers) where it is not inside that tail.
if [ -n "${KEEP_FROM:-}" ] && [ -f "$KEEP_FROM" ]; then
  awk '/^## Download scenarios \(bench\/downloads.sh\)$/ { exit }
       /<!-- fault-test:begin -->/ { keep = 1 }
       keep { print }
       /<!-- fault-test:end -->/ { keep = 0; print "" }' "$KEEP_FROM"
  sed -n '/^## Download scenarios (bench\/downloads.sh)$/,$p' "$KEEP_FROM"
fi
