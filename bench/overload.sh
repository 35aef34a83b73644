#!/usr/bin/env bash
# Overload (issue 13, item 10): the device check's peak goodput, then several times that rate offered by an
# open-loop generator (bench/tools/openloop.c: arrivals at a fixed rate whatever the service answers, latency
# from each arrival's scheduled time), with the service's device admission on (the production defaults) and, as
# the baseline of the same run, off. Reports goodput under overload as a ratio of peak, the latency of the
# admitted checks, what a shed call costs against a served one, and whether /health and the admin API stayed
# reachable; writes the "Overload" section of bench/RESULTS.md.
#
#   bench/overload.sh            3 runs per figure (10 s for the peak, 30 s under overload), a fleet of 10k devices
#   QUICK=1 bench/overload.sh    1 run each, shorter (a try-out; the section goes to bench/out/overload/RESULTS.overload.md)
#
# Settings (environment) besides run.sh's (ports, THREADS, DURATION, RUNS, FLEET): PEAK_CONNECTIONS (closed-loop
# connection counts tried for the peak), MULTIPLE (the offered rate as a multiple of the peak, 3), OVERLOAD_DURATION
# and OVERLOAD_WARMUP (s: 30 and 15), OL_CONNECTIONS and OL_THREADS (the generator's connection pool and threads),
# PIN (0, the default: no pinning; 1: the service and PostgreSQL on the first half of the cores, the load tools on
# the other half, standing in for a load generator on another machine; on 2 cores that leaves the service and
# PostgreSQL one core, where the check's batched commits get small and the figures say more about that than about
# admission), ADMISSION (service settings added for the admitted runs, e.g. "Ota__Admission__MaxConcurrent=256";
# default none: the production defaults), SWEEP (the open-loop rates tried for the open-loop peak, as fractions of
# the closed-loop peak, in order; the sweep stops at the first rate the service no longer serves in full:
# "0.8 1.0 1.2").
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export BENCH_OUT=${BENCH_OUT:-$bench/out/overload}
if [ "${QUICK:-0}" = 1 ]; then DURATION=${DURATION:-5}; RUNS=${RUNS:-1}; OVERLOAD_DURATION=${OVERLOAD_DURATION:-15}; OVERLOAD_WARMUP=${OVERLOAD_WARMUP:-10}; fi
DURATION=${DURATION:-10}; RUNS=${RUNS:-3}
FLEET_SMALL=${FLEET_SMALL:-1000}; FLEET=${FLEET:-10000}; FLEET_LARGE=${FLEET_LARGE:-10000}
TLS_PROCS=${TLS_PROCS:-2}
# shellcheck source=run.sh
source "$bench/run.sh"

PEAK_CONNECTIONS=${PEAK_CONNECTIONS:-"128 256 512"}
MULTIPLE=${MULTIPLE:-3}
# overload runs are longer than the peak's: shed devices that honour Retry-After come back 5-10 s later, and a
# run must cover several of those rounds; the first burst (every device at once) falls in the warm-up
OVERLOAD_DURATION=${OVERLOAD_DURATION:-$((DURATION * 3))}
OVERLOAD_WARMUP=${OVERLOAD_WARMUP:-15}
OL_CONNECTIONS=${OL_CONNECTIONS:-8192}
OL_THREADS=${OL_THREADS:-1}
PIN=${PIN:-0}
ADMISSION=${ADMISSION-}
SWEEP=${SWEEP:-"0.8 1.0 1.2"}
OL_PATH='/api/firmware/check?device_id=dev-{id}&device_model={model}&current_version=1.0.0'
if [ "$QUICK" = 1 ]; then SECTION_OUT=$out/RESULTS.overload.md; else SECTION_OUT=$bench/RESULTS.md; fi
BASE_PID=none              # no baseline app or nginx in this scenario: run.sh's CPU snapshot counts them as 0
nginx_pids() { :; }
LOAD=()                    # the prefix that runs a load tool on the load cores (see pin_cores)

# PIN=1: this script (and so PostgreSQL and the service it starts from now on) on the first half of the cores,
# the load tools on the other half: the generator's work is not taken from the service's cores, as it would not
# be with a load generator on another machine.
pin_cores() {
  local n; n=$(nproc)
  if [ "$PIN" != 1 ] || [ "$n" -lt 2 ]; then SVC_CPUS=all; LOAD_CPUS=all; return; fi
  SVC_CPUS="0-$((n / 2 - 1))"; LOAD_CPUS="$((n / 2))-$((n - 1))"
  taskset -p -c "$SVC_CPUS" $$ >/dev/null
  LOAD=(taskset -c "$LOAD_CPUS")
  # run.sh's wrk runs on the load cores too; a wrapper that execs keeps the pid that run.sh waits for and signals
  mkdir -p "$out/bin"
  printf '#!/bin/sh\nexec taskset -c %s %s "$@"\n' "$LOAD_CPUS" "$(command -v wrk)" >"$out/bin/wrk"
  chmod +x "$out/bin/wrk"
  PATH=$out/bin:$PATH
  say "pinned: service and PostgreSQL on cores $SVC_CPUS, load tools on cores $LOAD_CPUS"
}

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

# the operator's side: /health and the admin API, one request every 100 ms each, on the load cores
start_operator_probe() { # dir
  ( while :; do
      "${LOAD[@]}" curl -sS -o /dev/null -w 'health %{http_code} %{time_total}\n' --max-time 10 "$svc/health" || echo "health 000 10"
      "${LOAD[@]}" curl -sS -o /dev/null -w 'admin %{http_code} %{time_total}\n' --max-time 10 -H "X-API-Key: $API_KEY" "$svc/api/admin/devices?limit=1" || echo "admin 000 10"
      sleep 0.1
    done ) >"$1/operator.txt" 2>/dev/null &
  OPERATOR_PID=$!; remember operator-probe $OPERATOR_PID
}

stop_operator_probe() { kill -TERM "$OPERATOR_PID" 2>/dev/null || true; wait "$OPERATOR_PID" 2>/dev/null || true; forget "$OPERATOR_PID"; }

# percentiles of the numbers on stdin: "count p50 p99" (or "0 - -")
percentiles() { sort -g | awk '{ v[++n] = $1 } END { if (n == 0) { print "0 - -"; exit }
  a = int(n * 0.5 + 0.5); b = int(n * 0.99 + 0.5); if (a < 1) a = 1; if (b < 1) b = 1; printf "%d %.2f %.2f\n", n, v[a], v[b] }'; }

# the operator probe: calls, calls not answered 200, p99 in ms
operator_stats() { # dir
  printf '%d %d %s\n' "$(wc -l <"$1/operator.txt")" "$(awk '$2 != 200' "$1/operator.txt" | wc -l)" \
    "$(awk '{ print $3 * 1000 }' "$1/operator.txt" | percentiles | cut -d' ' -f3)"
}

# One overload run: the open-loop generator at RATE req/s for OVERLOAD_DURATION s (after OVERLOAD_WARMUP s not
# counted); a line in overload.tsv:
# label run duration_s offered_rps sent_rps goodput_rps shed_rps suppressed_rps ok_p50 ok_p99 ok_p999 failed
# operator_calls operator_non200 operator_p99 cpu(6)
overload_run() { # label run rate [openloop flags...]
  local label=$1 run=$2 rate=$3; shift 3
  local dir="$out/raw/$label.$run" before after cpu line
  mkdir -p "$dir"; rm -f "$dir"/*
  start_operator_probe "$dir"
  cpu_snapshot; before=$SNAPSHOT
  "${LOAD[@]}" "$OPENLOOP" --host "$HOST" --port "$SVC_HTTP_PORT" --path "$OL_PATH" --fleet "$FLEET" \
    --rate "$rate" --duration "$OVERLOAD_DURATION" --warmup "$OVERLOAD_WARMUP" --connections "$OL_CONNECTIONS" \
    --threads "$OL_THREADS" --timeout-ms 10000 "$@" >"$dir/openloop.txt" 2>"$dir/openloop.err" || true
  cpu_snapshot; after=$SNAPSHOT
  stop_operator_probe
  cpu=$(cpu_delta "$before" "$after")
  line=$(grep '^OPENLOOP_RESULT' "$dir/openloop.txt" || true)
  [ -n "$line" ] || { cat "$dir/openloop.err" >&2; die "openloop printed no result in $label run $run"; }
  local fig oper
  fig=$(awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } d = v["duration_s"]
    printf "%.2f %.1f %.1f %.1f %.1f %.1f %s %s %s %d", d, v["scheduled"] / d, v["sent"] / d, v["ok_in_window"] / d, v["shed_in_window"] / d,
      v["suppressed"] / d, v["ok_p50_ms"], v["ok_p99_ms"], v["ok_p999_ms"],
      v["sother"] + v["timeouts"] + v["connect_errors"] + v["read_errors"] + v["client_dropped"] }' <<<"$line")
  oper=$(operator_stats "$dir")
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$run" "$(tr ' ' '\t' <<<"$fig")" "$(tr ' ' '\t' <<<"$oper")" "$(tr ' ' '\t' <<<"${cpu% }")" >>"$out/overload.tsv"
  require_alive "$label run $run"
  awk -F'\t' '{ printf "  %-18s run %s: offered %7.0f req/s  sent %7.0f  goodput %7.0f  shed %7.0f/s  admitted p50 %s ms p99 %s ms  failed %s  operator non-200 %s of %s  cpu[svc pg load] %s %s %s\n",
    $1, $2, $4, $5, $6, $7, $9, $10, $12, $14, $13, $17, $18, $21 }' <<<"$(tail -1 "$out/overload.tsv")" | tee -a "$out/run.log" >&2
}

median_of() { sort -g | awk '{ v[++n] = $1 } END { if (n == 0) { print "-"; exit } print n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v s="$1" -v c="$2" '$1 == s { print $c }' "$out/overload.tsv"; }
peak_col() { awk -F'\t' -v s="$1" -v c="$2" '$1 == s && $3 == "yes" { print $c }' "$out/results.tsv"; }
# the peak of run R: the best closed-loop goodput over PEAK_CONNECTIONS in that run
run_peak() { awk -F'\t' -v r="$1" '$1 ~ /^peak-c/ && $2 == r && $3 == "yes" && $4 > m { m = $4 } END { print m ? m : "-" }' "$out/results.tsv"; }
# the open-loop peak of run R: the best goodput of that run's sweep
run_open_peak() { awk -F'\t' -v r="$1" '$1 ~ /^sweep-/ && $2 == r && $6 > m { m = $6 } END { print m ? m : "-" }' "$out/overload.tsv"; }
# goodput / peak of each run of LABEL, against that run's own peak (PEAK=run_peak or run_open_peak)
run_ratios() { local r; for r in $(seq 1 "$RUNS"); do ratio "$(awk -F'\t' -v s="$1" -v r="$r" '$1 == s && $2 == r { print $6 }' "$out/overload.tsv")" "$("${PEAK:-run_open_peak}" "$r")"; done; }

# the labels of the overload runs, in the order of the table
LABELS="on-polite on-ignoring off"
label_text() { case $1 in on-polite) echo "on, fleet honours Retry-After" ;; on-ignoring) echo "on, fleet ignores Retry-After" ;; *) echo "off (MaxConcurrent 0)" ;; esac; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }

write_section() { # rate
  local rate=$1 s r
  local peak; peak=$(for r in $(seq 1 "$RUNS"); do run_peak "$r"; done | median_of)
  # what a served check and a shed call cost: service and PostgreSQL CPU per answer in each run's peak, and service
  # CPU per answer when nearly every answer is a shed 503
  local svc_per_check pg_per_check svc_per_shed
  svc_per_check=$(for r in $(seq 1 "$RUNS"); do
    awk -F'\t' -v r="$r" -v p="$(run_peak "$r")" '$1 ~ /^peak-c/ && $2 == r && $4 == p { split($10, c, " "); print c[2] / $4 * 1e6 }' "$out/results.tsv"; done | median_of)
  pg_per_check=$(for r in $(seq 1 "$RUNS"); do
    awk -F'\t' -v r="$r" -v p="$(run_peak "$r")" '$1 ~ /^peak-c/ && $2 == r && $4 == p { split($10, c, " "); print c[3] / $4 * 1e6 }' "$out/results.tsv"; done | median_of)
  svc_per_shed=$(awk -F'\t' '$1 == "shed-only" && $4 > 0 { split($10, c, " "); print c[2] / $4 * 1e6 }' "$out/results.tsv" | median_of)
  {
    echo "<!-- overload:begin (written by bench/overload.sh; bench/run.sh keeps it) -->"
    echo "## Overload (device admission)"
    echo
    echo "Written by \`bench/overload.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') (commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)),"
    echo "$(nproc) cores shared with other work (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end). Cores: service and PostgreSQL on"
    echo "\`$SVC_CPUS\`, load tools on \`$LOAD_CPUS\` (PIN=$PIN). Fleet of $FLEET registered devices; $RUNS runs, each measuring the"
    echo "peak and then the overload, so that each ratio compares figures taken minutes apart; the tables give medians."
    echo "Service settings: the production defaults (Ota:Admission MaxConcurrent 512, QueueLimit 2048, MaxQueueMilliseconds 200,"
    echo "OverloadQueueMilliseconds 10, RetryAfterSeconds 5)${ADMISSION:+, with $ADMISSION}."
    echo
    echo "**Peak.** wrk, closed loop (each connection sends its next check when the last is answered), $THREADS threads, $DURATION s;"
    echo "a run's peak is its best figure here:"
    echo
    echo "| connections | check goodput req/s | p50 ms | p99 ms |"
    echo "|---|---|---|---|"
    for s in $PEAK_CONNECTIONS; do
      printf '| %s | %s | %s | %s |\n' "$s" "$(peak_col "peak-c$s" 4 | median_of | xargs printf '%.0f')" \
        "$(peak_col "peak-c$s" 5 | median_of | xargs printf '%.2f')" "$(peak_col "peak-c$s" 6 | median_of | xargs printf '%.2f')"
    done
    echo
    echo "Closed-loop peak: **$(printf '%.0f' "$peak") req/s** (median of the runs' peaks: $(for r in $(seq 1 "$RUNS"); do printf '%.0f ' "$(run_peak "$r")"; done | sed 's/ $//'))."
    echo
    echo "**Open-loop peak.** \`bench/tools/openloop\` (open loop: arrivals at a fixed rate whatever the service answers, each for a"
    echo "random device of the fleet; latency from each arrival's scheduled time, so waiting in the client counts), every"
    echo "arrival sent, at rising fractions of the first run's closed-loop peak until the service no longer serves all of it"
    echo "(medians over the runs that reached a step), $OVERLOAD_DURATION s after $OVERLOAD_WARMUP s not counted; goodput counts the 2xx answers that came back in those $OVERLOAD_DURATION s. A"
    echo "steady stream of checks for random devices makes smaller commit batches than 512 connections asking in lock-step,"
    echo "so the service serves less of it; a run's open-loop peak is its best goodput here:"
    echo
    echo "| offered (× closed-loop peak) | offered req/s | goodput req/s | shed req/s | p50 ms | p99 ms |"
    echo "|---|---|---|---|---|---|"
    local f
    for f in $SWEEP; do
      [ "$(col "sweep-$f" 6 | median_of)" = - ] && continue
      printf '| %s | %.0f | %.0f | %.0f | %s | %s |\n' "$f" "$(col "sweep-$f" 4 | median_of)" "$(col "sweep-$f" 6 | median_of)" \
        "$(col "sweep-$f" 7 | median_of)" "$(col "sweep-$f" 9 | median_of)" "$(col "sweep-$f" 10 | median_of)"
    done
    local open_peak; open_peak=$(for r in $(seq 1 "$RUNS"); do run_open_peak "$r"; done | median_of)
    echo
    echo "Open-loop peak: **$(printf '%.0f' "$open_peak") req/s** (runs: $(for r in $(seq 1 "$RUNS"); do printf '%.0f ' "$(run_open_peak "$r")"; done | sed 's/ $//'))."
    echo
    echo "**Overload.** The same generator at $(printf '%.0f' "$rate") checks/s offered ($MULTIPLE × the first run's closed-loop peak), two"
    echo "fleets: one that honours Retry-After as paku-ota's device component does (a shed device sends nothing until its"
    echo "Retry-After has passed, and one request at a time: *offered* counts what the devices wanted to send, *sent* what they"
    echo "did), and one that ignores it (every arrival is sent: a broken or hostile fleet, the worst case). An operator probe"
    echo "calls \`/health\` and \`GET /api/admin/devices\` every 100 ms throughout. Ratios are against the same run's peaks."
    echo
    echo "| admission | offered req/s | sent req/s | goodput req/s | goodput / open-loop peak (runs) | goodput / closed-loop peak | shed req/s | admitted p50 ms | admitted p99 ms | admitted p99.9 ms | failed or unanswered | /health + admin: non-200 of calls, p99 ms |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    for s in $LABELS; do
      local good; good=$(col "$s" 6 | median_of)
      [ "$good" = - ] && continue
      printf '| %s | %.0f | %.0f | %.0f | **%s** (%s) | %s | %.0f | %s | %s | %s | %s | %s of %s, %s |\n' "$(label_text "$s")" \
        "$(col "$s" 4 | median_of)" "$(col "$s" 5 | median_of)" "$good" "$(run_ratios "$s" | median_of)" "$(run_ratios "$s" | xargs)" \
        "$(PEAK=run_peak run_ratios "$s" | median_of)" \
        "$(col "$s" 7 | median_of)" "$(col "$s" 9 | median_of)" "$(col "$s" 10 | median_of)" "$(col "$s" 11 | median_of)" \
        "$(col "$s" 12 | median_of)" "$(col "$s" 14 | median_of)" "$(col "$s" 13 | median_of)" "$(col "$s" 15 | median_of)"
    done
    echo
    local polite hostile polite_closed
    polite=$(run_ratios on-polite | median_of); hostile=$(run_ratios on-ignoring | median_of)
    polite_closed=$(PEAK=run_peak run_ratios on-polite | median_of)
    echo "Target: goodput under overload ≥ 0.9 × peak with admission on. Fleet honouring Retry-After:"
    echo "**$(awk -v r="$polite" 'BEGIN { print (r != "-" && r >= 0.9 ? "met" : "not met") }') ($polite of the open-loop peak)**, $polite_closed of the closed-loop peak;"
    echo "fleet ignoring it: $hostile of the open-loop peak."
    printf 'Cost per answer, from the CPU time of the processes: a served check %.1f µs of the service and %.1f µs of PostgreSQL\n' \
      "$svc_per_check" "$pg_per_check"
    printf '(at the closed-loop peak); a shed call %s µs of the service (%s of a check'"'"'s total; wrk at %s connections against\n' \
      "$(printf '%.1f' "$svc_per_shed" 2>/dev/null || echo -)" "$(ratio "$svc_per_shed" "$(awk -v a="$svc_per_check" -v b="$pg_per_check" 'BEGIN { print a + b }')")" 256
    echo "the service with one turn and no queue, so that nearly every answer is a shed 503)."
    echo "Per-run figures: \`bench/out/overload/overload.tsv\` and \`results.tsv\` (not committed)."
    echo "<!-- overload:end -->"
  } >"$out/overload.md"
  if [ "$SECTION_OUT" = "$bench/RESULTS.md" ] && grep -q '<!-- overload:begin' "$SECTION_OUT"; then
    awk -v f="$out/overload.md" '/<!-- overload:begin/ { while ((getline l < f) > 0) print l; skip = 1; next } /<!-- overload:end -->/ { skip = 0; next } !skip' \
      "$SECTION_OUT" >"$SECTION_OUT.tmp" && mv "$SECTION_OUT.tmp" "$SECTION_OUT"
  else
    { [ -s "$SECTION_OUT" ] && echo; cat "$out/overload.md"; } >"$SECTION_OUT"
  fi
}

overload_main() {
  mkdir -p "$out/logs" "$out/raw"
  rm -rf "$out/raw"/* "$out/logs"/*
  : >"$out/run.log"; : >"$out/results.tsv"; : >"$out/seeding.tsv"; : >"$out/overload.tsv"
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  say "overload: fleet $FLEET, $RUNS runs, peak at ${PEAK_CONNECTIONS// /\/} connections, then $MULTIPLE x the peak offered open-loop"
  install_tools
  describe_machine
  build
  "$bench/tools/build.sh" || die "bench/tools/openloop.c does not build"
  OPENLOOP=$bench/out/tools/openloop
  pin_cores
  start_postgres
  make_material
  local setting
  for setting in $ADMISSION; do export "${setting?}"; done
  start_service
  seed_catalog_api
  grow_fleet 0 "$FLEET"

  # each run measures the peak and then the overload, so that every ratio compares figures taken minutes apart
  # (the machine's own drift moves the peak by up to a third between runs); the offered rate is fixed by the
  # first run's peak
  local c saved=$CONNECTIONS run rate=""
  warm_up check
  for run in $(seq 1 "$RUNS"); do
    for c in $PEAK_CONNECTIONS; do CONNECTIONS=$c; wrk_run "peak-c$c" "$run" "$svc" device.lua "$CHECK_PATH" "$FLEET"; done
    CONNECTIONS=$saved
    if [ -z "$rate" ]; then
      [ "$(run_peak 1)" != - ] || die "no valid peak run (see $out/results.tsv)"
      rate=$(awk -v p="$(run_peak 1)" -v m="$MULTIPLE" 'BEGIN { printf "%.0f", p * m }')
      say "peak goodput $(printf '%.0f' "$(run_peak 1)") req/s; overload: $rate req/s offered open-loop"
    fi
    # the open-loop peak: what the service serves of a steady open-loop offer, stepping up from below the
    # closed-loop peak until it no longer serves everything offered (past its capacity: the knee is found)
    local f
    for f in $SWEEP; do
      overload_run "sweep-$f" "$run" "$(awk -v p="$(run_peak 1)" -v f="$f" 'BEGIN { printf "%.0f", p * f }')" --seed "$run"
      awk -F'\t' -v s="sweep-$f" -v r="$run" '$1 == s && $2 == r { exit !($6 < 0.97 * $4) }' "$out/overload.tsv" && break
    done
    overload_run on-polite "$run" "$rate" --honour-retry-after --seed "$run"
    overload_run on-ignoring "$run" "$rate" --seed "$run"
  done
  restart_service "Ota__Admission__MaxConcurrent=0"
  warm_up check
  for run in $(seq 1 "$RUNS"); do overload_run off "$run" "$rate" --honour-retry-after --seed "$run"; done
  # what a shed call costs: the service with one turn and no queue sheds nearly every check of a closed loop
  restart_service "Ota__Admission__MaxConcurrent=1 Ota__Admission__QueueLimit=0"
  warm_up check
  CONNECTIONS=256
  for run in $(seq 1 "$RUNS"); do wrk_run shed-only "$run" "$svc" device.lua "$CHECK_PATH" "$FLEET"; done
  CONNECTIONS=$saved

  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.env"
  write_section "$rate"
  say "wrote the overload section to $SECTION_OUT (total $((SECONDS - t_start)) s)"
}

overload_main "$@"; exit   # on one line: bash reads a script as it runs, and must not read past this point
