#!/usr/bin/env bash
# Overload (issue 13, item 10): the device check's peak goodput, then several times that load offered, with the
# service's device admission on (the production default) and, as the baseline of the same run, off. Reports
# goodput under overload as a ratio of peak, the p99 of the admitted checks, and whether /health and the admin
# API stayed reachable; writes the "Overload" section of bench/RESULTS.md.
#
#   bench/overload.sh            3 runs of 10 s per figure, a fleet of 10k devices
#   QUICK=1 bench/overload.sh    1 run of 5 s (a try-out; the section goes to bench/out/overload/RESULTS.overload.md)
#
# Settings (environment) besides run.sh's (ports, THREADS, DURATION, RUNS, FLEET): PEAK_CONNECTIONS (closed-loop
# connection counts tried for the peak), OVERLOAD_CONNECTIONS (connections of the overload fleets, 4096), THINK_MS
# (each overload connection pauses this long between requests; 0: a shed connection asks again at once, so the
# offered load is several times the peak), PROBES (sequential curl clients timing admitted checks), ADMISSION
# (service settings for the admitted runs; default "Ota__Admission__RetryAfterSeconds=1", a short Retry-After for
# the fleet that honours it, otherwise the service's defaults).
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export BENCH_OUT=${BENCH_OUT:-$bench/out/overload}
if [ "${QUICK:-0}" = 1 ]; then DURATION=${DURATION:-5}; RUNS=${RUNS:-1}; fi
DURATION=${DURATION:-10}; RUNS=${RUNS:-3}
FLEET_SMALL=${FLEET_SMALL:-1000}; FLEET=${FLEET:-10000}; FLEET_LARGE=${FLEET_LARGE:-10000}
TLS_PROCS=${TLS_PROCS:-2}
# shellcheck source=run.sh
source "$bench/run.sh"

PEAK_CONNECTIONS=${PEAK_CONNECTIONS:-"128 256 512"}
# overload runs are longer than the peak's: shed clients that honour Retry-After come back 5-10 s later, and a
# run must cover several of those rounds, not just the first burst
OVERLOAD_DURATION=${OVERLOAD_DURATION:-$((DURATION * 3))}
OVERLOAD_CONNECTIONS=${OVERLOAD_CONNECTIONS:-4096}
THINK_MS=${THINK_MS:-0}
PROBES=${PROBES:-4}
ADMISSION=${ADMISSION-Ota__Admission__RetryAfterSeconds=1}
if [ "$QUICK" = 1 ]; then SECTION_OUT=$out/RESULTS.overload.md; else SECTION_OUT=$bench/RESULTS.md; fi
BASE_PID=none              # no baseline app or nginx in this scenario: run.sh's CPU snapshot counts them as 0
nginx_pids() { :; }

stop_service() {
  kill -TERM "$SVC_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$SVC_PID" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$SVC_PID" 2>/dev/null && kill -KILL "$SVC_PID" 2>/dev/null || true
  wait "$SVC_PID" 2>/dev/null || true
  forget "$SVC_PID"
}

# restart_service "NAME=VALUE ...": the service again on the same database, with these settings added
restart_service() {
  stop_service
  local setting
  for setting in $1; do export "${setting?}"; done
  start_service
}

# A probe: one curl process walking a list of check URLs on one keep-alive connection, printing
# "status seconds" per request, until killed. The probes time what an admitted device waits, which wrk cannot
# tell apart from the (fast) shed answers in its latency figures.
start_probes() { # dir
  local dir=$1 k i
  PROBE_PIDS=()
  for ((k = 0; k < PROBES; k++)); do
    awk -v fleet="$FLEET" -v svc="$svc" -v seed="$k" 'BEGIN {
        srand(seed + 101); split("esp32 esp32s3 esp32c3", m, " ")
        for (i = 0; i < 50000; i++) { d = int(rand() * fleet); printf "url = \"%s/api/firmware/check?device_id=dev-%07d&device_model=%s&current_version=1.0.0\"\noutput = \"/dev/null\"\n", svc, d, m[d % 3 + 1] } }' \
      >"$dir/probe-$k.cfg"
    # -w to stderr, which is unbuffered: the probe is stopped with a signal and must not lose what it timed
    curl -sS -K "$dir/probe-$k.cfg" -w '%{stderr}%{http_code} %{time_total}\n' >/dev/null 2>"$dir/probe-$k.txt" &
    PROBE_PIDS+=($!); remember "probe-$k" $!
  done
  # the operator's side: /health and the admin API, one request every 100 ms each
  ( while :; do
      curl -sS -o /dev/null -w 'health %{http_code} %{time_total}\n' --max-time 10 "$svc/health" || echo "health 000 10"
      curl -sS -o /dev/null -w 'admin %{http_code} %{time_total}\n' --max-time 10 -H "X-API-Key: $API_KEY" "$svc/api/admin/devices?limit=1" || echo "admin 000 10"
      sleep 0.1
    done ) >"$dir/operator.txt" 2>/dev/null &
  PROBE_PIDS+=($!); remember operator-probe $!
}

stop_probes() {
  local p
  for p in "${PROBE_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; forget "$p"; done
}

# percentiles of the numbers on stdin: "count p50 p99" (or "0 - -")
percentiles() { sort -g | awk '{ v[++n] = $1 } END { if (n == 0) { print "0 - -"; exit }
  a = int(n * 0.5 + 0.5); b = int(n * 0.99 + 0.5); if (a < 1) a = 1; if (b < 1) b = 1; printf "%d %.2f %.2f\n", n, v[a], v[b] }'; }

# from the probes' "status seconds" lines: admitted (200) count, p50, p99 in ms; shed (503) count; any other status count
probe_stats() { # dir
  local all; all=$(cat "$1"/probe-*.txt)
  printf '%s %d %d\n' "$(awk '$1 == 200 { print $2 * 1000 }' <<<"$all" | percentiles)" \
    "$(awk '$1 == 503' <<<"$all" | wc -l)" "$(awk '$1 != 200 && $1 != 503' <<<"$all" | wc -l)"
}

# the operator probe: calls, calls not answered 200, p99 in ms
operator_stats() { # dir
  printf '%d %d %s\n' "$(wc -l <"$1/operator.txt")" "$(awk '$2 != 200' "$1/operator.txt" | wc -l)" \
    "$(awk '{ print $3 * 1000 }' "$1/operator.txt" | percentiles | cut -d' ' -f3)"
}

# One overload run: label run connections; a line in overload.tsv:
# label run duration_s requests goodput_rps shed_rps socket_errors probe_admitted probe_p50 probe_p99 probe_shed probe_other
# operator_requests operator_non200 operator_p99 cpu(6)
overload_run() { # label run connections script
  local label=$1 run=$2 conns=$3 script=$4
  local dir="$out/raw/$label.$run" before after cpu line
  mkdir -p "$dir"; rm -f "$dir"/*
  cpu_snapshot; before=$SNAPSHOT
  start_probes "$dir"
  wrk -t"$THREADS" -c"$conns" -d "${OVERLOAD_DURATION}s" --timeout 10s -s "$bench/lua/$script" "$svc" -- "$CHECK_PATH" "$FLEET" "$THINK_MS" \
    >"$dir/wrk.txt" 2>&1 || true
  stop_probes
  cpu_snapshot; after=$SNAPSHOT
  cpu=$(cpu_delta "$before" "$after")
  line=$(grep '^BENCH_RESULT' "$dir/wrk.txt" || true)
  [ -n "$line" ] || { cat "$dir/wrk.txt" >&2; die "wrk printed no result in $label run $run"; }
  local wrkfig probe oper
  wrkfig=$(awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } secs = v["duration_us"] / 1e6
    printf "%.2f %d %.1f %.1f %d", secs, v["requests"], (v["requests"] - v["status"]) / secs, v["status"] / secs, v["connect"] + v["read"] + v["write"] + v["timeout"] }' <<<"$line")
  probe=$(probe_stats "$dir")
  oper=$(operator_stats "$dir")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$run" "$(tr ' ' '\t' <<<"$wrkfig")" "$(tr ' ' '\t' <<<"$probe")" "$(tr ' ' '\t' <<<"$oper")" "$cpu" \
    >>"$out/overload.tsv"
  require_alive "$label run $run"
  awk -F'\t' '{ printf "  %-18s run %s: offered %7.0f req/s  goodput %7.0f req/s  shed %7.0f/s  socket errors %d  admitted probe p50 %s ms p99 %s ms (n=%s)  operator non-200 %s of %s\n",
    $1, $2, $4 / $3, $5, $6, $7, $9, $10, $8, $14, $13 }' <<<"$(tail -1 "$out/overload.tsv")" | tee -a "$out/run.log" >&2
}

median_of() { sort -g | awk '{ v[++n] = $1 } END { if (n == 0) { print "-"; exit } print n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v s="$1" -v c="$2" '$1 == s { print $c }' "$out/overload.tsv"; }
peak_col() { awk -F'\t' -v s="$1" -v c="$2" '$1 == s && $3 == "yes" { print $c }' "$out/results.tsv"; }

write_section() { # peak_label peak_rps connections
  local peak_label=$1 peak=$2 conns=$3 s
  local peak_p99; peak_p99=$(peak_col "$peak_label" 6 | median_of)
  {
    echo "<!-- overload:begin (written by bench/overload.sh; bench/run.sh keeps it) -->"
    echo "## Overload (device admission)"
    echo
    echo "Written by \`bench/overload.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') (commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)),"
    echo "$(nproc) cores **shared with other engineers' builds and tests** (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end): absolute figures"
    echo "are noisy; the ratios compare runs made minutes apart in the same run. Fleet of $FLEET devices; every figure is the median of"
    echo "$RUNS runs ($DURATION s for the peak, $OVERLOAD_DURATION s under overload). Service settings: the production defaults"
    echo "(Ota:Admission MaxConcurrent 512, QueueLimit 2048, MaxQueueMilliseconds 200, RetryAfterSeconds 5)${ADMISSION:+, with $ADMISSION}."
    echo
    echo "**Peak.** wrk, closed loop (each connection sends its next check when the last is answered), $THREADS threads:"
    echo
    echo "| connections | check goodput req/s | p50 ms | p99 ms |"
    echo "|---|---|---|---|"
    for s in $PEAK_CONNECTIONS; do
      printf '| %s | %s | %s | %s |\n' "$s" "$(peak_col "peak-c$s" 4 | median_of | xargs printf '%.0f')" \
        "$(peak_col "peak-c$s" 5 | median_of | xargs printf '%.2f')" "$(peak_col "peak-c$s" 6 | median_of | xargs printf '%.2f')"
    done
    echo
    echo "Peak goodput: **$(printf '%.0f' "$peak") req/s** (at $peak_label)."
    echo
    echo "**Overload.** wrk, $conns connections, each asking again ${THINK_MS} ms after every answer (what that offered on the"
    echo "shared machine, as a multiple of the peak, is in the table). Two fleets: one that ignores Retry-After (a shed answer"
    echo "is followed at once by the next request: a broken or hostile fleet, the worst case), and one that honours it as"
    echo "paku-ota's device component does (the next request after a 503 waits Retry-After; here 1-2 s, see the settings)."
    echo "Admission sheds by queueing time: a check that gets no turn within MaxQueueMilliseconds is answered 503 + Retry-After."
    echo "Meanwhile $PROBES probes (curl, one keep-alive connection each, back to back) time the checks that were admitted,"
    echo "and an operator probe calls \`/health\` and \`GET /api/admin/devices\` every 100 ms."
    echo
    echo "| admission | offered req/s (× peak) | goodput req/s | goodput / peak | shed req/s | admitted p50 ms | admitted p99 ms | socket errors | /health + admin: non-200 of calls, p99 ms |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for s in overload-on-polite overload-on overload-off; do
      local offered good
      offered=$(awk -F'\t' -v s="$s" '$1 == s { print $4 / $3 }' "$out/overload.tsv" | median_of)
      good=$(col "$s" 5 | median_of)
      [ "$good" = - ] && continue
      printf '| %s | %.0f (%.1f×) | %.0f | **%.2f** | %.0f | %s | %s | %s | %s of %s, %s |\n' \
        "$(case $s in overload-on-polite) echo "on, fleet honours Retry-After" ;; overload-on) echo "on, fleet ignores Retry-After" ;; *) echo "off (MaxConcurrent 0)" ;; esac)" \
        "$offered" "$(awk -v a="$offered" -v b="$peak" 'BEGIN { print a / b }')" "$good" \
        "$(awk -v a="$good" -v b="$peak" 'BEGIN { print a / b }')" "$(col "$s" 6 | median_of)" \
        "$(col "$s" 9 | median_of)" "$(col "$s" 10 | median_of)" "$(col "$s" 7 | median_of)" \
        "$(col "$s" 14 | median_of)" "$(col "$s" 13 | median_of)" "$(col "$s" 15 | median_of)"
    done
    echo
    local polite hostile
    polite=$(awk -v a="$(col overload-on-polite 5 | median_of)" -v b="$peak" 'BEGIN { printf "%.2f", a / b }')
    hostile=$(awk -v a="$(col overload-on 5 | median_of)" -v b="$peak" 'BEGIN { printf "%.2f", a / b }')
    echo "Target: goodput under overload ≥ 0.9 × peak with admission on — fleet honouring Retry-After:"
    echo "**$(awk -v r="$polite" 'BEGIN { print (r >= 0.9 ? "met" : "not met") }') ($polite)**; fleet ignoring it: **$(awk -v r="$hostile" 'BEGIN { print (r >= 0.9 ? "met" : "not met") }') ($hostile)**."
    echo "Admitted p99 is what the probes saw for their 200 answers (client side: queueing in the service included);"
    echo "the peak's p99 ($(printf '%.2f' "$peak_p99") ms at $peak_label) is wrk's over all answers, which were all admitted."
    echo "Per-run figures: \`bench/out/overload/overload.tsv\` and \`results.tsv\` (not committed)."
    echo "<!-- overload:end -->"
  } >"$out/overload.md"
  if [ "$SECTION_OUT" = "$bench/RESULTS.md" ] && grep -q '<!-- overload:begin' "$SECTION_OUT"; then
    awk -v f="$out/overload.md" '/<!-- overload:begin/ { while ((getline l < f) > 0) print l; skip = 1; next } /<!-- overload:end -->/ { skip = 0; next } !skip' \
      "$SECTION_OUT" >"$SECTION_OUT.tmp" && mv "$SECTION_OUT.tmp" "$SECTION_OUT"
  else
    { [ -s "$SECTION_OUT" ] && echo; cat "$out/overload.md"; } >>"$SECTION_OUT"
  fi
}

overload_main() {
  mkdir -p "$out/logs" "$out/raw"
  rm -rf "$out/raw"/* "$out/logs"/*
  : >"$out/run.log"; : >"$out/results.tsv"; : >"$out/seeding.tsv"; : >"$out/overload.tsv"
  ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true
  say "overload: fleet $FLEET, $DURATION s x $RUNS runs, peak at ${PEAK_CONNECTIONS// /\/} connections, then $OVERLOAD_CONNECTIONS connections without pause"
  install_tools
  describe_machine
  build
  start_postgres
  make_material
  local setting
  for setting in $ADMISSION; do export "${setting?}"; done
  start_service
  seed_catalog_api
  grow_fleet 0 "$FLEET"

  local c saved=$CONNECTIONS peak=0 peak_label="" m run
  warm_up check
  for run in $(seq 1 "$RUNS"); do
    for c in $PEAK_CONNECTIONS; do CONNECTIONS=$c; wrk_run "peak-c$c" "$run" "$svc" device.lua "$CHECK_PATH" "$FLEET"; done
  done
  CONNECTIONS=$saved
  for c in $PEAK_CONNECTIONS; do
    m=$(peak_col "peak-c$c" 4 | median_of)
    [ "$m" != - ] && awk -v a="$m" -v b="$peak" 'BEGIN { exit !(a > b) }' && { peak=$m; peak_label="peak-c$c"; }
  done
  [ -n "$peak_label" ] || die "no valid peak run (see $out/results.tsv)"
  local conns=$OVERLOAD_CONNECTIONS
  say "peak goodput $(printf '%.0f' "$peak") req/s at $peak_label; overload: $conns connections with ${THINK_MS} ms pauses"

  for run in $(seq 1 "$RUNS"); do
    overload_run overload-on "$run" "$conns" overload.lua
    overload_run overload-on-polite "$run" "$conns" overload-polite.lua
  done
  restart_service "Ota__Admission__MaxConcurrent=0"
  warm_up check
  for run in $(seq 1 "$RUNS"); do overload_run overload-off "$run" "$conns" overload.lua; done

  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.env"
  write_section "$peak_label" "$peak" "$conns"
  say "wrote the overload section to $SECTION_OUT (total $((SECONDS - t_start)) s)"
}

overload_main "$@"; exit   # on one line: bash reads a script as it runs, and must not read past this point
