#!/usr/bin/env bash
# Paku OTA benchmark: baselines and the service's device API, measured in one run on this machine.
#
#   bench/run.sh                 full run (3 runs of 10 s per figure; fleets of 10k, 100k and 1M devices)
#   QUICK=1 bench/run.sh         a short try-out (1 run of 3 s; fleets of 1k, 10k and 30k); writes bench/out/RESULTS.quick.md
#
# Settings (environment): DURATION (s per run), RUNS, CONNECTIONS, THREADS, FLEET_SMALL, FLEET, FLEET_LARGE,
# TLS_PROCS x TLS_CONC (ab processes x connections each, for tls and mtls-check), PGBENCH_CLIENTS,
# SEED=api|sql (sql: releases, rollouts and groups written straight into the database; only for developing the
# harness before the admin API existed, never for a published figure), PROFILE=1 (dotnet-counters and
# dotnet-trace during one extra check run), RESULTS (where the report goes), ports: PG_PORT, SVC_HTTP_PORT,
# SVC_HTTPS_PORT, BASE_HTTP_PORT, BASE_HTTPS_PORT, NGINX_PORT.
#
# Everything it starts (PostgreSQL under bench/out/pg, the service, the baseline app, nginx, load tools) listens
# on and targets 127.0.0.1 only, and is stopped on exit. Scratch goes to bench/out/ (git-ignored).
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench/.." && pwd)
out=${BENCH_OUT:-$bench/out}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  DURATION=${DURATION:-3}; RUNS=${RUNS:-1}
  FLEET_SMALL=${FLEET_SMALL:-1000}; FLEET=${FLEET:-10000}; FLEET_LARGE=${FLEET_LARGE:-30000}
  RESULTS=${RESULTS:-$out/RESULTS.quick.md}
else
  DURATION=${DURATION:-10}; RUNS=${RUNS:-3}
  FLEET_SMALL=${FLEET_SMALL:-10000}; FLEET=${FLEET:-100000}; FLEET_LARGE=${FLEET_LARGE:-1000000}
  RESULTS=${RESULTS:-$bench/RESULTS.md}
fi
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
TLS_PROCS=${TLS_PROCS:-8}
TLS_CONC=${TLS_CONC:-8}
PGBENCH_CLIENTS=${PGBENCH_CLIENTS:-8}
SEED=${SEED:-api}
PROFILE=${PROFILE:-0}
SEED_TIMEOUT=${SEED_TIMEOUT:-1500}
MAX_EXTRA=${MAX_EXTRA:-2}
PG_PORT=${PG_PORT:-55490}
SVC_HTTP_PORT=${SVC_HTTP_PORT:-18080}
SVC_HTTPS_PORT=${SVC_HTTPS_PORT:-18443}
BASE_HTTP_PORT=${BASE_HTTP_PORT:-18090}
BASE_HTTPS_PORT=${BASE_HTTPS_PORT:-18453}
NGINX_PORT=${NGINX_PORT:-18070}
FIRMWARE_BYTES=$((1536 * 1024))
HOST=127.0.0.1
svc=http://$HOST:$SVC_HTTP_PORT
export BENCH_LUA_DIR=$bench/lua

started=()          # "name pid" of everything this script started and that may still run
pg_started=0
t_start=$SECONDS

say() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$out/run.log" >&2; }
die() { say "FAILED: $*"; exit 1; }

cleanup() {
  local rc=$? entry name pid
  trap - EXIT INT TERM
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    entry=${started[$i]}; name=${entry% *}; pid=${entry##* }
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && { say "$name ($pid) ignored TERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
    fi
  done
  if [ "$pg_started" = 1 ]; then
    PAKU_PG_DIR=$out/pg "$repo/scripts/pg-stop.sh" >>"$out/run.log" 2>&1 || say "could not stop PostgreSQL in $out/pg"
  fi
  [ $rc -eq 0 ] || say "stopped everything it started; see $out/run.log and $out/logs/"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

remember() { started+=("$1 $2"); }
forget() { local keep=() e; for e in "${started[@]}"; do [ "${e##* }" = "$1" ] || keep+=("$e"); done; started=("${keep[@]}"); }

port_free() { ! ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

# ---------------------------------------------------------------- tools and builds

install_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v ab >/dev/null || missing+=(apache2-utils)   # ab: TLS load with client certificates (see RESULTS.md)
  command -v jq >/dev/null || missing+=(jq)
  command -v curl >/dev/null || missing+=(curl)
  command -v ss >/dev/null || missing+=(iproute2)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing from Debian: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >>"$out/run.log" 2>&1 || die "apt-get update failed (see $out/run.log)"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$out/run.log" 2>&1 || die "apt-get install ${missing[*]} failed (see $out/run.log)"
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | head -1; }

build() {
  say "building the service and the baseline app in Release"
  dotnet publish "$repo/src/Paku.Ota.Api" -c Release -o "$out/build/service" -nologo -v q -clp:ErrorsOnly \
    >"$out/logs/build-service.log" 2>&1 || { tail -30 "$out/logs/build-service.log" >&2; die "the service does not build"; }
  dotnet publish "$bench/baseline" -c Release -o "$out/build/baseline" -nologo -v q -clp:ErrorsOnly \
    >"$out/logs/build-baseline.log" 2>&1 || { tail -30 "$out/logs/build-baseline.log" >&2; die "the baseline app does not build"; }
}

ota() { dotnet "$out/build/service/Paku.Ota.Api.dll" "$@"; }

describe_machine() {
  local pgb; pgb=$(pg_bin)
  {
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "nproc=$(nproc)"
    echo "memory=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "kernel=$(uname -sr)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "dotnet_sdk=$(dotnet --version)"
    echo "aspnetcore=$(dotnet --list-runtimes | awk '/Microsoft.AspNetCore.App/ { v = $2 } END { print v }')"
    echo "postgres=$("$pgb/postgres" --version | awk '{ print $3 }')"
    echo "wrk=$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')"
    echo "nginx=$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')"
    echo "ab=$(ab -V | awk 'NR == 1 { print $5 }')"
    echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "duration=$DURATION runs=$RUNS connections=$CONNECTIONS threads=$THREADS tls_procs=$TLS_PROCS tls_conc=$TLS_CONC"
    echo "pgbench_clients=$PGBENCH_CLIENTS fleet_small=$FLEET_SMALL fleet=$FLEET fleet_large=$FLEET_LARGE seed=$SEED quick=$QUICK"
  } >"$out/machine.env"
}

# ---------------------------------------------------------------- PostgreSQL

psql_q() { "$PGBIN/psql" -h $HOST -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
sql() { psql_q -d paku -tA -c "$1"; }

start_postgres() {
  PGBIN=$(pg_bin)
  if [ -n "$PGBIN" ] && [ -s "$out/pg/data/PG_VERSION" ]; then
    PAKU_PG_DIR=$out/pg "$repo/scripts/pg-stop.sh" >>"$out/run.log" 2>&1 || true
  fi
  rm -rf "$out/pg" /tmp/paku-pg-"$(printf '%s' "$out/pg" | sha256sum | cut -c1-12)"
  port_free "$PG_PORT" || die "port $PG_PORT (PG_PORT) is taken"
  say "starting a private PostgreSQL on $HOST:$PG_PORT in $out/pg"
  pg_started=1
  CS=$(PAKU_PG_DIR=$out/pg PAKU_PG_PORT=$PG_PORT PAKU_PG_DB=paku "$repo/scripts/pg-start.sh" 2>>"$out/run.log" | tail -1) \
    || die "PostgreSQL did not start (see $out/run.log)"
  PGBIN=$(pg_bin)
  POSTMASTER=$(head -1 "$out/pg/data/postmaster.pid" 2>/dev/null || true)
  [ -n "$POSTMASTER" ] || POSTMASTER=$(head -1 /tmp/paku-pg-*/data/postmaster.pid 2>/dev/null | head -1)
  psql_q -d postgres -c "create database bench_baseline" >/dev/null
  psql_q -d bench_baseline -v fleet="$FLEET" -f "$bench/conf/baseline.sql" >/dev/null || die "could not create the baseline table"
  BASE_CS="Host=$HOST;Port=$PG_PORT;Username=postgres;Database=bench_baseline"
}

# ---------------------------------------------------------------- secrets, firmware, processes

make_material() {
  say "making a fleet CA, server and device certificates, an admin API key and firmware images"
  rm -rf "$out/pki" "$out/fw" "$out/www"
  mkdir -p "$out/pki/ca" "$out/pki/server" "$out/pki/devices" "$out/fw" "$out/www/fw"
  ota ca-create --out "$out/pki/ca" >/dev/null || die "ca-create failed"
  ota cert-server --ca "$out/pki/ca" --dns localhost --ip $HOST --out "$out/pki/server" >/dev/null || die "cert-server failed"
  for i in $(seq 0 $((TLS_PROCS - 1))); do
    local id; id=$(printf 'dev-%07d' "$i")
    ota cert-device --ca "$out/pki/ca" --id "$id" --out "$out/pki/devices" >/dev/null || die "cert-device $id failed"
    cat "$out/pki/devices/$id.crt" "$out/pki/devices/$id.key" >"$out/pki/devices/$id.pem"   # ab -E wants both in one file
  done
  API_KEY=bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  API_KEY_HASH=$(ota hash-key --key "$API_KEY" | awk '/^hash:/ { print $2 }')
  [ -n "$API_KEY_HASH" ] || die "hash-key printed no hash"
  # one image per release, each 1.5 MiB starting with the ESP image magic byte 0xE9
  local r
  for r in "${RELEASES[@]}"; do
    set -- $r
    local tag="paku-bench $1 $2 "
    { printf '\xe9'; printf '%s' "$tag"; head -c $((FIRMWARE_BYTES - 1 - ${#tag})) /dev/urandom; } >"$out/fw/$1-$2.bin"
    [ "$(stat -c %s "$out/fw/$1-$2.bin")" = $FIRMWARE_BYTES ] || die "could not write $out/fw/$1-$2.bin"
  done
  cp "$out/fw/esp32-1.1.0.bin" "$out/www/fw/esp32-1.1.0.bin"
}

wait_healthy() { # name url pid log
  local name=$1 url=$2 pid=$3 log=$4
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || { tail -40 "$log" >&2; die "$name exited during start-up (log: $log)"; }
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  tail -40 "$log" >&2
  die "$name is not healthy at $url after 60 s (log: $log)"
}

start_service() {
  for p in "$SVC_HTTP_PORT" "$SVC_HTTPS_PORT"; do port_free "$p" || die "port $p is taken (SVC_HTTP_PORT / SVC_HTTPS_PORT)"; done
  say "starting the service (Release) on $svc and https://$HOST:$SVC_HTTPS_PORT"
  (
    cd "$out/build/service"
    export ASPNETCORE_ENVIRONMENT=Production
    export ConnectionStrings__Ota="$CS"
    export Ota__ListenAddress=$HOST Ota__Http__Port=$SVC_HTTP_PORT Ota__Https__Port=$SVC_HTTPS_PORT
    export Ota__Https__CertificatePath=$out/pki/server/server.crt Ota__Https__KeyPath=$out/pki/server/server.key
    export Ota__Devices__FleetCaPath=$out/pki/ca/ca.crt
    # plain HTTP device calls for the HTTP scenarios; the mtls-check scenario presents certificates on HTTPS
    export Ota__Devices__AllowPlainHttp=true
    export Ota__ApiKeys__0__Name=bench Ota__ApiKeys__0__Hash=$API_KEY_HASH Ota__ApiKeys__0__Scope=write
    # every wrk connection is one device hammering the service: the per-device limit must not interfere
    export Ota__RateLimit__DeviceRequestsPerWindow=1000000000
    # 64 connections downloading back to back would brush the default cap of 64 concurrent downloads
    export Ota__Downloads__MaxConcurrent=4096
    # plain HTTP downloads without a device id all count as one client (the loopback address)
    export Ota__Downloads__MaxPerDevice=4096
    export Ota__Database__MigrateOnStart=true
    exec dotnet Paku.Ota.Api.dll serve --contentRoot "$out/build/service"
  ) >"$out/logs/service.log" 2>&1 &
  SVC_PID=$!
  remember service $SVC_PID
  wait_healthy service "$svc/health" $SVC_PID "$out/logs/service.log"
}

start_baseline() {
  for p in "$BASE_HTTP_PORT" "$BASE_HTTPS_PORT"; do port_free "$p" || die "port $p is taken (BASE_HTTP_PORT / BASE_HTTPS_PORT)"; done
  say "starting the baseline app on http://$HOST:$BASE_HTTP_PORT and https://$HOST:$BASE_HTTPS_PORT"
  (
    cd "$out/build/baseline"
    export ASPNETCORE_ENVIRONMENT=Production
    export ConnectionStrings__Baseline="$BASE_CS"
    export Bench__ListenAddress=$HOST Bench__Http__Port=$BASE_HTTP_PORT Bench__Https__Port=$BASE_HTTPS_PORT
    export Bench__Https__CertificatePath=$out/pki/server/server.crt Bench__Https__KeyPath=$out/pki/server/server.key
    exec dotnet Paku.Bench.Baseline.dll --contentRoot "$out/build/baseline"
  ) >"$out/logs/baseline.log" 2>&1 &
  BASE_PID=$!
  remember baseline $BASE_PID
  wait_healthy baseline "http://$HOST:$BASE_HTTP_PORT/health" $BASE_PID "$out/logs/baseline.log"
  curl -fsS -o /dev/null "http://$HOST:$BASE_HTTP_PORT/upsert?device_id=dev-0000000" || die "the baseline app cannot upsert (log: $out/logs/baseline.log)"
}

start_nginx() {
  port_free "$NGINX_PORT" || die "port $NGINX_PORT (NGINX_PORT) is taken"
  mkdir -p "$out/nginx/tmp"
  local user_line="# not root: nginx runs as $(id -un) anyway"
  [ "$(id -u)" = 0 ] && user_line="user root;"   # workers stay the current user instead of dropping to nobody
  sed -e "s|@OUT@|$out|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@USER_LINE@|$user_line|" "$bench/conf/nginx.conf.in" >"$out/nginx/nginx.conf"
  "$NGINX" -t -q -c "$out/nginx/nginx.conf" -p "$out/nginx" -e "$out/nginx/error.log" 2>>"$out/logs/nginx.log" || die "nginx rejects $out/nginx/nginx.conf"
  say "starting nginx on http://$HOST:$NGINX_PORT"
  "$NGINX" -c "$out/nginx/nginx.conf" -p "$out/nginx" -e "$out/nginx/error.log" >>"$out/logs/nginx.log" 2>&1 &
  NGINX_PID=$!
  remember nginx $NGINX_PID
  wait_healthy nginx "http://$HOST:$NGINX_PORT/fw/esp32-1.1.0.bin" $NGINX_PID "$out/nginx/error.log"
}

# ---------------------------------------------------------------- seeding through the admin and device APIs

# model version target_type percentage filter(JSON or -)
RELEASES=("esp32 1.1.0" "esp32 1.2.0" "esp32 1.3.0" "esp32 2.0.0"
          "esp32s3 1.1.0" "esp32s3 1.2.0" "esp32s3 2.0.0-beta.1"
          "esp32c3 1.1.0" "esp32c3 1.2.0" "esp32c3 1.5.0")
specific_ids() { local sep="" i; for i in $(seq 0 3 297); do printf '%s"dev-%07d"' "$sep" "$i"; sep=,; done; }
ROLLOUTS=("esp32 1.1.0 all 100 -"
          "esp32 1.2.0 canary 10 -"
          "esp32 1.3.0 group 100 {\"groups\":[\"site:north\"]}"
          "esp32 2.0.0 specific 100 {\"device_ids\":[$(specific_ids)]}"
          "esp32s3 1.1.0 all 50 -"
          "esp32s3 1.2.0 canary 5 -"
          "esp32s3 2.0.0-beta.1 group 100 {\"groups\":[\"ring:beta\",\"site:south\"]}"
          "esp32c3 1.1.0 all 100 -"
          "esp32c3 1.2.0 canary 25 -"
          "esp32c3 1.5.0 group 30 {\"groups\":[\"site:north\"]}")

admin() { # method path [curl args...]: fails loudly on anything but 2xx
  local method=$1 path=$2; shift 2
  local code
  code=$(curl -sS -o "$out/logs/admin-last.json" -w '%{http_code}' -X "$method" "$svc$path" -H "X-API-Key: $API_KEY" "$@") \
    || die "admin $method $path: no answer"
  case $code in
    2??) ;;
    *) cat "$out/logs/admin-last.json" >&2; echo >&2; die "admin $method $path answered $code" ;;
  esac
}

seed_catalog_api() {
  say "uploading ${#RELEASES[@]} releases and creating ${#ROLLOUTS[@]} rollouts through the admin API"
  local r m v t p f body
  for r in "${RELEASES[@]}"; do
    set -- $r
    admin POST "/api/admin/firmware/upload?version=$2&device_model=$1&release_notes=benchmark+image" -F "file=@$out/fw/$1-$2.bin"
  done
  for r in "${ROLLOUTS[@]}"; do
    read -r m v t p f <<<"$r"
    body=$(jq -cn --arg name "bench-$m-$v-$t" --arg v "$v" --arg m "$m" --arg t "$t" --argjson p "$p" --arg f "$f" \
      '{name: $name, firmware_version: $v, device_model: $m, target_type: $t, rollout_percentage: $p, is_active: true}
       + (if $f == "-" then {} else {target_filter: ($f | fromjson)} end)')
    admin POST /api/admin/rollout/create -H 'Content-Type: application/json' --data-binary "$body"
  done
}

seed_catalog_sql() {
  say "SEED=sql: writing ${#RELEASES[@]} releases and ${#ROLLOUTS[@]} rollouts straight into the database (development only)"
  local r m v t p f sha hex
  for r in "${RELEASES[@]}"; do
    set -- $r
    sha=$(sha256sum "$out/fw/$1-$2.bin" | cut -c1-64)
    hex=$(od -An -v -tx1 "$out/fw/$1-$2.bin" | tr -d ' \n')
    printf "insert into firmware_binaries (sha256, size_bytes, content) values ('%s', %d, decode('%s', 'hex')) on conflict do nothing;\n
            insert into firmware_releases (version, device_model, checksum_sha256, size_bytes, release_notes) values ('%s', '%s', '%s', %d, 'benchmark image');\n" \
      "$sha" $FIRMWARE_BYTES "$hex" "$2" "$1" "$sha" $FIRMWARE_BYTES
  done | psql_q -d paku >/dev/null || die "SQL seeding of releases failed"
  for r in "${ROLLOUTS[@]}"; do
    read -r m v t p f <<<"$r"
    [ "$f" = - ] && f='{}'
    sql "insert into rollouts (name, release_id, firmware_version, device_model, target_type, target_filter, rollout_percentage)
         select 'bench-$m-$v-$t', id, version, device_model, '$t', '$f'::jsonb, $p from firmware_releases where device_model = '$m' and version = '$v'" >/dev/null \
      || die "SQL seeding of rollout $m $v failed"
  done
  sleep 3   # the service notices the catalog generation within Ota:Catalog:RefreshSeconds (2 s)
}

# Walks ids first, first+step, ... below last through the device check with wrk until every one of them has
# checked in since the walk began (registration for new ids, a fresh check for existing ones).
walk_devices() { # label first last step new|again
  local label=$1 first=$2 last=$3 step=$4 mode=$5
  local expected=$(( (last - first + step - 1) / step ))
  local since t0 raw pid progress done_count=0 prev=-1 stalled=0 inserted0
  since=$(sql "select now()")
  inserted0=$(sql "select n_tup_ins from pg_stat_user_tables where relname = 'devices'")
  t0=$SECONDS
  raw="$out/raw/seed-$label.txt"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d 3600s --timeout 10s -s "$bench/lua/register.lua" "$svc" -- "$first" "$last" "$step" "$THREADS" >"$raw" 2>&1 &
  pid=$!
  remember "wrk-seed" $pid
  local where="last_seen >= '$since' and device_id >= '$(printf 'dev-%07d' "$first")' and device_id < '$(printf 'dev-%07d' "$last")'"
  [ "$step" -gt 1 ] && where="$where and (substr(device_id, 5)::int - $first) % $step = 0"
  while :; do
    sleep 2
    kill -0 $pid 2>/dev/null || { cat "$raw" >&2; die "wrk stopped while seeding $label"; }
    # registering: PostgreSQL's insert counter is a cheap progress gauge; the exact count confirms at the end
    progress=$expected
    [ "$mode" = new ] && progress=$(( $(sql "select n_tup_ins from pg_stat_user_tables where relname = 'devices'") - inserted0 ))
    if [ "$progress" -ge "$expected" ]; then
      done_count=$(sql "select count(*) from devices where $where")
      [ "$done_count" -ge "$expected" ] && break
      progress=$done_count
    fi
    if [ "$progress" = "$prev" ]; then stalled=$((stalled + 2)); else stalled=0; fi
    [ $stalled -ge 60 ] && die "seeding $label made no progress for 60 s at $progress of $expected devices (see $out/logs/service.log)"
    [ $((SECONDS - t0)) -ge "$SEED_TIMEOUT" ] && die "seeding $label took longer than SEED_TIMEOUT=$SEED_TIMEOUT s ($progress of $expected)"
    [ $(( (SECONDS - t0) % 30 )) -lt 2 ] && [ "$mode" = new ] && say "  $label: $progress of $expected devices after $((SECONDS - t0)) s"
    prev=$progress
  done
  kill -INT $pid; wait $pid || true
  forget $pid
  local line; line=$(grep '^BENCH_RESULT' "$raw" || true)
  [ -n "$line" ] || { cat "$raw" >&2; die "wrk printed no result while seeding $label"; }
  local errors; errors=$(awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } } END { print v["status"] + v["connect"] + v["read"] + v["write"] + v["timeout"] }' <<<"$line")
  [ "$errors" = 0 ] || { cat "$raw" >&2; die "seeding $label: $errors requests failed (non-2xx or socket errors)"; }
  local secs=$((SECONDS - t0))
  local requests; requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
  printf '%s\t%d\t%d\t%d\n' "$label" "$expected" "$secs" "$requests" >>"$out/seeding.tsv"
  say "seeded $label: $expected devices in ${secs} s ($requests checks, 0 errors)"
}

# About one device in ten gets groups: site:north / site:south+ring:beta / site:east / site:north+ring:beta.
assign_groups() { # first last
  local first=$1 last=$2 chunk_first chunk_last
  say "assigning groups to every 10th device in [$first, $last) ($SEED)"
  for ((chunk_first = first; chunk_first < last; chunk_first += 100000)); do
    chunk_last=$((chunk_first + 100000)); [ $chunk_last -gt "$last" ] && chunk_last=$last
    if [ "$SEED" = sql ]; then
      sql "update devices set metadata = jsonb_set(metadata, '{groups}',
             (array['[\"site:north\"]', '[\"site:south\",\"ring:beta\"]', '[\"site:east\"]', '[\"site:north\",\"ring:beta\"]'])[(substr(device_id, 5)::int / 10) % 4 + 1]::jsonb)
           where device_id >= '$(printf 'dev-%07d' "$chunk_first")' and device_id < '$(printf 'dev-%07d' "$chunk_last")'
             and substr(device_id, 5)::int % 10 = 0" >/dev/null
    else
      awk -v a="$chunk_first" -v b="$chunk_last" 'BEGIN {
            g[0] = "[\"site:north\"]"; g[1] = "[\"site:south\",\"ring:beta\"]"; g[2] = "[\"site:east\"]"; g[3] = "[\"site:north\",\"ring:beta\"]"
            s = int((a + 9) / 10) * 10; printf "{\"devices\":{"; sep = ""
            for (i = s; i < b; i += 10) { printf "%s\"dev-%07d\":%s", sep, i, g[(i / 10) % 4]; sep = "," }
            print "}}" }' >"$out/logs/groups.json"
      admin PUT /api/admin/devices/groups -H 'Content-Type: application/json' --data-binary "@$out/logs/groups.json"
    fi
  done
}

# Registers [first, last), gives every 10th device groups, and has those check in again so the service
# records what the group rollouts offer them: the measured checks then see a settled fleet.
grow_fleet() { # first last
  local first=$1 last=$2
  walk_devices "register-$first-$last" "$first" "$last" 1 new
  assign_groups "$first" "$last"
  walk_devices "grouped-$first-$last" $(( (first + 9) / 10 * 10 )) "$last" 10 again
  sql "vacuum analyze devices" >/dev/null
  sql "vacuum analyze rollout_devices" >/dev/null
}

# ---------------------------------------------------------------- measuring

cpu_ticks_of() { local p t=0; for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
# the postmaster with its reaped children (backends that ended during a run: cutime + cstime), and the live backends
pg_ticks() { echo $(( $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$POSTMASTER/stat") + $(cpu_ticks_of $(pgrep -P "$POSTMASTER" || true)) )); }
nginx_pids() { echo "$NGINX_PID"; pgrep -P "$NGINX_PID" || true; }
# Sets SNAPSHOT to: busy ticks of the machine, of the service, of PostgreSQL, of the baseline app, of nginx, of
# this script's finished children (the load tools), and the time in ns. Must run in the main shell: the load
# tools' CPU comes from `times`, which a subshell would not see.
cpu_snapshot() {
  times >"$out/.times"
  SNAPSHOT="$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat) $(cpu_ticks_of "$SVC_PID") $(pg_ticks) \
$(cpu_ticks_of "$BASE_PID") $(cpu_ticks_of $(nginx_pids)) \
$(awk -v hz="$(getconf CLK_TCK)" 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * hz }' "$out/.times") \
$(date +%s%N)"
}
# prints: total svc pg baseline nginx loadgen (cores busy over the run)
cpu_delta() { awk -v hz="$(getconf CLK_TCK)" '{ for (i = 1; i <= 7; i++) a[NR, i] = $i }
  END { w = (a[2, 7] - a[1, 7]) / 1e9; for (i = 1; i <= 6; i++) printf "%.2f ", (a[2, i] - a[1, i]) / hz / w; print "" }' <(echo "$1") <(echo "$2"); }

record() { # scenario run valid rps p50_ms p99_ms mbps errors requests cpu(6) note
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" "${10}" "${11:-}" >>"$out/results.tsv"
}

# One bounded wrk run: scenario run url script args...
wrk_run() {
  local scenario=$1 run=$2 url=$3 script=$4; shift 4
  local raw="$out/raw/$scenario.$run.txt" before after cpu line
  cpu_snapshot; before=$SNAPSHOT
  wrk -t"$THREADS" -c"$CONNECTIONS" -d "${DURATION}s" --timeout 10s -s "$bench/lua/$script" "$url" -- "$@" >"$raw" 2>&1 || true
  cpu_snapshot; after=$SNAPSHOT
  cpu=$(cpu_delta "$before" "$after")
  line=$(grep '^BENCH_RESULT' "$raw" || true)
  if [ -z "$line" ]; then
    record "$scenario" "$run" no 0 0 0 0 1 0 "$cpu" "wrk printed no result (see $raw)"
    report_last
    return
  fi
  awk -v s="$scenario" -v r="$run" -v cpu="$cpu" '{
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      secs = v["duration_us"] / 1e6
      errors = v["status"] + v["connect"] + v["read"] + v["write"] + v["timeout"]
      note = errors ? sprintf("non-2xx %d, connect %d, read %d, write %d, timeout %d", v["status"], v["connect"], v["read"], v["write"], v["timeout"]) : ""
      printf "%s\t%s\t%s\t%.1f\t%.3f\t%.3f\t%.1f\t%d\t%d\t%s\t%s\n", s, r, errors ? "no" : "yes", v["requests"] / secs,
        v["p50_us"] / 1000, v["p99_us"] / 1000, v["bytes"] / secs / 1048576, errors, v["requests"], cpu, note }' <<<"$line" >>"$out/results.tsv"
  report_last
}

# One bounded TLS run with ab: TLS_PROCS processes, each with its own device certificate (CN dev-000000k) and
# TLS_CONC connections, a new connection (and full handshake) per request. scenario run base_url path_format
ab_run() {
  local scenario=$1 run=$2 base=$3 format=$4
  local dir="$out/raw/$scenario.$run" k id model before after cpu pids=()
  local models=(esp32 esp32s3 esp32c3)
  mkdir -p "$dir"
  cpu_snapshot; before=$SNAPSHOT
  for ((k = 0; k < TLS_PROCS; k++)); do
    id=$(printf 'dev-%07d' "$k"); model=${models[$((k % 3))]}
    local cert=(-E "$out/pki/devices/$id.pem"); [ -n "${AB_NO_CERT:-}" ] && cert=()
    ab -q -l -t "$DURATION" -n 100000000 -c "$TLS_CONC" -s 10 "${cert[@]}" -e "$dir/$k.csv" \
      "$base$(printf "$format" "$id" "$model")" >"$dir/$k.txt" 2>&1 &
    pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k" || true; done
  cpu_snapshot; after=$SNAPSHOT
  cpu=$(cpu_delta "$before" "$after")
  # requests/s add up; percentiles are merged from each process's percentile table (-e), weighted by its requests
  awk -v s="$scenario" -v r="$run" -v cpu="$cpu" -v procs="$TLS_PROCS" '
    FNR == 1 { name = FILENAME; sub(/.*\//, "", name); k = int(name) + 1; txt = name ~ /\.txt$/ }
    txt && /^Complete requests:/ { done[k] = $3 }
    txt && /^Failed requests:/ { failed += $3 }
    txt && /^Non-2xx responses:/ { non2xx += $3 }
    txt && /^Total transferred:/ { bytes += $3 }
    txt && /^Time taken for tests:/ { secs[k] = $5 }
    !txt && FNR > 1 { split($0, c, ","); if (c[1] < 100) { n++; val[n] = c[2] + 0; from[n] = k } }
    END {
      for (i = 1; i <= procs; i++) if (secs[i] > 0) { rps += done[i] / secs[i]; total += done[i]; if (secs[i] > maxsecs) maxsecs = secs[i] }
      for (i = 1; i <= n; i++) w[i] = done[from[i]] / 100   # each row stands for 1 % of its process
      for (i = 2; i <= n; i++) { v = val[i]; x = w[i]; j = i - 1; while (j > 0 && val[j] > v) { val[j + 1] = val[j]; w[j + 1] = w[j]; j-- } val[j + 1] = v; w[j + 1] = x }
      acc = 0; p50 = p99 = -1
      for (i = 1; i <= n; i++) { acc += w[i]; if (p50 < 0 && acc >= total * 0.50) p50 = val[i]; if (p99 < 0 && acc >= total * 0.99) p99 = val[i] }
      missing = 0; for (i = 1; i <= procs; i++) if (!(secs[i] > 0)) missing++
      errors = failed + non2xx + missing
      note = errors ? sprintf("failed %d, non-2xx %d, ab processes without a result %d", failed, non2xx, missing) : ""
      printf "%s\t%s\t%s\t%.1f\t%.3f\t%.3f\t%.1f\t%d\t%d\t%s\t%s\n", s, r, errors ? "no" : "yes", rps, p50, p99,
        (maxsecs ? bytes / maxsecs / 1048576 : 0), errors, total, cpu, note
    }' $(for ((k = 0; k < TLS_PROCS; k++)); do echo "$dir/$k.txt" "$dir/$k.csv"; done) >>"$out/results.tsv"
  report_last
}

pgbench_run() {
  local run=$1
  local dir="$out/raw/pgbench.$run" before after cpu
  mkdir -p "$dir"; rm -f "$dir"/*
  cpu_snapshot; before=$SNAPSHOT
  (cd "$dir" && "$PGBIN/pgbench" -h $HOST -p "$PG_PORT" -U postgres -n -M prepared -c "$PGBENCH_CLIENTS" -j "$THREADS" \
    -T "$DURATION" -D fleet="$FLEET" -f "$bench/conf/pgbench-upsert.sql" -l --log-prefix=tx bench_baseline >"$dir/out.txt" 2>&1) || true
  cpu_snapshot; after=$SNAPSHOT
  cpu=$(cpu_delta "$before" "$after")
  local tps failed p50 p99 n
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$dir/out.txt")
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$dir/out.txt"); failed=${failed:-0}
  n=$(cat "$dir"/tx* 2>/dev/null | wc -l)
  read -r p50 p99 < <(cat "$dir"/tx* 2>/dev/null | awk '{ print $3 }' | sort -n | awk -v n="$n" '
    NR == int(n * 0.50 + 0.5) { a = $1 } NR == int(n * 0.99 + 0.5) { b = $1 } END { printf "%.3f %.3f\n", a / 1000, b / 1000 }')
  if [ -z "$tps" ] || [ "$failed" != 0 ]; then
    record pgbench "$run" no "${tps:-0}" "$p50" "$p99" 0 "${failed:-1}" "$n" "$cpu" "see $dir/out.txt"
  else
    record pgbench "$run" yes "$tps" "$p50" "$p99" 0 0 "$n" "$cpu" ""
  fi
  report_last
  rm -f "$dir"/tx*
}

# Every started server must outlive every run: a run against a dead server is no figure, and nothing after it is either.
require_alive() {
  local entry
  for entry in "${started[@]}"; do
    case ${entry% *} in
      service|baseline|nginx) kill -0 "${entry##* }" 2>/dev/null || die "the ${entry% *} process (${entry##* }) is gone after $1 (log: $out/logs/${entry% *}.log)" ;;
    esac
  done
  kill -0 "$POSTMASTER" 2>/dev/null || die "PostgreSQL is gone after $1 (log: $out/pg/postgres.log)"
}

report_last() {
  require_alive "$(tail -1 "$out/results.tsv" | cut -f1,2 | tr '\t' ' ')"
  local l; l=$(tail -1 "$out/results.tsv")
  awk -F'\t' '{ printf "  %-16s run %s: %10.0f req/s  p50 %7.2f ms  p99 %7.2f ms  %8.1f MB/s  cpu[total svc pg base nginx load] %s%s\n",
    $1, $2, $4, $5, $6, $7, $10, ($3 == "yes" ? "" : "  REFUSED: " $11) }' <<<"$l" | tee -a "$out/run.log" >&2
}

CHECK_PATH='/api/firmware/check?device_id=%s&device_model=%s&current_version=1.0.0'

scenario() { # name run
  case $1 in
    floor|floor@*)  wrk_run "$1" "$2" "http://$HOST:$BASE_HTTP_PORT" device.lua "/floor?device_id=%s&device_model=%s&current_version=1.0.0" "$FLEET" ;;
    one-upsert)     wrk_run one-upsert "$2" "http://$HOST:$BASE_HTTP_PORT" device.lua "/upsert?device_id=%s&device_model=%s&current_version=1.0.0" "$FLEET" ;;
    check)          wrk_run check "$2" "$svc" device.lua "$CHECK_PATH" "$FLEET" ;;
    check-10k)      wrk_run check-10k "$2" "$svc" device.lua "$CHECK_PATH" "$FLEET_SMALL" ;;
    check-1M)       wrk_run check-1M "$2" "$svc" device.lua "$CHECK_PATH" "$FLEET_LARGE" ;;
    download)       wrk_run download "$2" "$svc" download.lua "/api/firmware/download/1.1.0?device_model=esp32" $FIRMWARE_BYTES full ;;
    download-range) wrk_run download-range "$2" "$svc" download.lua "/api/firmware/download/1.1.0?device_model=esp32" $FIRMWARE_BYTES range ;;
    nginx)          wrk_run nginx "$2" "http://$HOST:$NGINX_PORT" download.lua /fw/esp32-1.1.0.bin $FIRMWARE_BYTES full ;;
    nginx-range)    wrk_run nginx-range "$2" "http://$HOST:$NGINX_PORT" download.lua /fw/esp32-1.1.0.bin $FIRMWARE_BYTES range ;;
    status)         wrk_run status "$2" "$svc" status.lua "$out/status-devices.txt" ;;
    mtls-check)     ab_run mtls-check "$2" "https://$HOST:$SVC_HTTPS_PORT" "$CHECK_PATH" ;;
    tls)            ab_run tls "$2" "https://$HOST:$BASE_HTTPS_PORT" "/floor?device_id=%s&device_model=%s&current_version=1.0.0" ;;
    tls-anon)       AB_NO_CERT=1 ab_run tls-anon "$2" "https://$HOST:$BASE_HTTPS_PORT" "/floor?device_id=%s&device_model=%s&current_version=1.0.0" ;;
    pgbench)        pgbench_run "$2" ;;
    *) die "unknown scenario $1" ;;
  esac
}

valid_runs() { awk -F'\t' -v s="$1" '$1 == s && $3 == "yes"' "$out/results.tsv" | wc -l; }

# RUNS runs of each scenario, round-robin. A scenario left with fewer than RUNS valid runs (a run with errors
# is refused, and stays listed as refused in the report) is measured again, at most MAX_EXTRA more times.
measure() { # scenarios...
  local run s extra
  for run in $(seq 1 "$RUNS"); do
    for s in "$@"; do scenario "$s" "$run"; done
  done
  for s in "$@"; do
    extra=0
    while [ "$(valid_runs "$s")" -lt "$RUNS" ] && [ $extra -lt "$MAX_EXTRA" ]; do
      extra=$((extra + 1))
      say "$s has $(valid_runs "$s") valid runs of $RUNS: one more"
      scenario "$s" $((RUNS + extra))
    done
  done
}

warm_up() { # scenarios...: short unrecorded runs, so JIT, pools and caches are warm before anything counts
  local saved=$DURATION s
  DURATION=$WARMUP
  for s in "$@"; do scenario "$s" warmup; done
  DURATION=$saved
  # warm-up figures never count
  awk -F'\t' '$2 != "warmup"' "$out/results.tsv" >"$out/results.tmp" && mv "$out/results.tmp" "$out/results.tsv"
}

check_device_answers() { # a sanity check of the seeded fleet through the real device API
  local answer
  answer=$(curl -fsS "$svc/api/firmware/check?device_id=dev-0000000&device_model=esp32&current_version=1.0.0") || die "the device check fails for dev-0000000"
  [ "$(jq -r .update_available <<<"$answer")" = true ] || die "dev-0000000 (in the specific rollout) is offered nothing: $answer"
  [ "$(jq -r .latest_version <<<"$answer")" = 2.0.0 ] || die "dev-0000000 should be offered 2.0.0 by the specific rollout: $answer"
  answer=$(curl -fsS --cert "$out/pki/devices/dev-0000001.crt" --key "$out/pki/devices/dev-0000001.key" --cacert "$out/pki/ca/ca.crt" \
    "https://$HOST:$SVC_HTTPS_PORT/api/firmware/check?device_id=dev-0000001&device_model=esp32s3&current_version=1.0.0") \
    || die "the mTLS check fails for dev-0000001"
  local code
  code=$(curl -sS -o /dev/null -w '%{http_code}' --cert "$out/pki/devices/dev-0000001.crt" --key "$out/pki/devices/dev-0000001.key" --cacert "$out/pki/ca/ca.crt" \
    "https://$HOST:$SVC_HTTPS_PORT/api/firmware/check?device_id=dev-0000002&device_model=esp32c3&current_version=1.0.0")
  [ "$code" = 403 ] || die "the service let dev-0000001's certificate act as dev-0000002 (answered $code, expected 403)"
}

rss_mib() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$SVC_PID/status"; }

profile_check() {
  say "PROFILE=1: dotnet-counters and dotnet-trace during an extra check run"
  local tools="$out/tools"
  [ -x "$tools/dotnet-trace" ] || dotnet tool install --tool-path "$tools" dotnet-trace >>"$out/run.log" 2>&1 || { say "could not install dotnet-trace"; return; }
  [ -x "$tools/dotnet-counters" ] || dotnet tool install --tool-path "$tools" dotnet-counters >>"$out/run.log" 2>&1 || say "could not install dotnet-counters"
  rm -rf "$out/profile"; mkdir -p "$out/profile"
  if [ -x "$tools/dotnet-counters" ]; then
    "$tools/dotnet-counters" collect -p "$SVC_PID" --format csv -o "$out/profile/counters.csv" \
      --counters System.Runtime,Microsoft.AspNetCore.Hosting,Npgsql --duration "00:00:00:$(printf '%02d' "$DURATION")" >>"$out/run.log" 2>&1 &
    local counters_pid=$!
    remember dotnet-counters $counters_pid
  fi
  # CPU samples from the kernel (collect-linux) where perf events are allowed; wall-clock thread samples otherwise
  local how=cpu-sampling
  ( "$tools/dotnet-trace" collect-linux -p "$SVC_PID" --profile cpu-sampling -o "$out/profile/check.nettrace" \
      --duration "00:00:00:$(printf '%02d' "$DURATION")" >>"$out/run.log" 2>&1 \
    || { echo "dotnet-trace collect-linux failed; falling back to dotnet-sampled-thread-time" >>"$out/run.log"; echo thread-time >"$out/profile/how";
         "$tools/dotnet-trace" collect -p "$SVC_PID" --profile dotnet-sampled-thread-time -o "$out/profile/check.nettrace" \
           --duration "00:00:00:$(printf '%02d' "$DURATION")" >>"$out/run.log" 2>&1; } ) &
  local trace_pid=$!
  remember dotnet-trace $trace_pid
  sleep 2
  scenario check profile
  wait $trace_pid || say "dotnet-trace failed (see $out/run.log)"
  forget $trace_pid
  if [ -n "${counters_pid:-}" ]; then wait "$counters_pid" || true; forget "$counters_pid"; fi
  awk -F'\t' '$2 != "profile"' "$out/results.tsv" >"$out/results.tmp" && mv "$out/results.tmp" "$out/results.tsv"
  [ -s "$out/profile/how" ] || echo "$how" >"$out/profile/how"
  "$tools/dotnet-trace" report "$out/profile/check.nettrace" topN -n 400 --inclusive >"$out/profile/top-inclusive.txt" 2>&1 || true
}

# ---------------------------------------------------------------- the run

main() {
  mkdir -p "$out/logs" "$out/raw"
  rm -rf "$out/raw"/* "$out/logs"/*
  : >"$out/run.log"; : >"$out/results.tsv"; : >"$out/seeding.tsv"; : >"$out/memory.tsv"
  say "Paku OTA benchmark: ${DURATION} s x $RUNS runs, $CONNECTIONS connections, fleets $FLEET_SMALL / $FLEET / $FLEET_LARGE, seeding via $SEED"
  [ "$SEED" = api ] || [ "$SEED" = sql ] || die "SEED must be api or sql"
  install_tools
  describe_machine
  build
  start_postgres
  make_material
  start_service
  start_baseline
  start_nginx

  if [ "$SEED" = api ]; then seed_catalog_api; else seed_catalog_sql; fi

  # --- a small fleet
  grow_fleet 0 "$FLEET_SMALL"
  check_device_answers
  warm_up check-10k
  # floor@10k / floor@1M: the floor measured again between the runs of these phases, to show how busy the shared
  # machine was then (check-10k and check-1M are minutes apart and cannot be interleaved)
  measure check-10k floor@10k

  # --- the main fleet: every scenario and baseline, interleaved run by run so drift hits them alike
  grow_fleet "$FLEET_SMALL" "$FLEET"
  sql "select device_id, offered_version from devices where offered_version is not null and device_id < '$(printf 'dev-%07d' "$FLEET")'" \
    | tr '|' ' ' >"$out/status-devices.txt"
  [ -s "$out/status-devices.txt" ] || die "no device was offered an update: the status scenario has no devices"
  local main_set=(floor one-upsert check download download-range nginx nginx-range status mtls-check tls tls-anon pgbench)
  warm_up "${main_set[@]}"
  measure "${main_set[@]}"
  printf 'after-%s\t%s\n' "$FLEET" "$(rss_mib)" >>"$out/memory.tsv"
  [ "$PROFILE" = 1 ] && profile_check

  # --- the large fleet
  grow_fleet "$FLEET" "$FLEET_LARGE"
  printf 'after-seeding-%s\t%s\n' "$FLEET_LARGE" "$(rss_mib)" >>"$out/memory.tsv"
  warm_up check-1M
  measure check-1M floor@1M
  printf 'after-check-%s\t%s\n' "$FLEET_LARGE" "$(rss_mib)" >>"$out/memory.tsv"
  sql "select pg_size_pretty(pg_total_relation_size('devices')) || ' devices, ' || pg_size_pretty(pg_total_relation_size('rollout_devices')) || ' rollout_devices, ' || pg_size_pretty(pg_total_relation_size('device_update_status')) || ' device_update_status'" >"$out/db-size.txt"

  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.env"
  echo "total_seconds=$((SECONDS - t_start))" >>"$out/machine.env"
  [ -f "$RESULTS" ] && cp "$RESULTS" "$out/RESULTS.previous.md"
  KEEP_FROM=$out/RESULTS.previous.md "$bench/report.sh" "$out" >"$RESULTS" || die "could not write the report"
  say "wrote $RESULTS (total $((SECONDS - t_start)) s)"
  if awk -F'\t' '$3 != "yes"' "$out/results.tsv" | grep -q .; then
    say "runs refused as figures (errors during the run; they are listed as refused in the report):"
    awk -F'\t' '$3 != "yes" { printf "  %s run %s: %s\n", $1, $2, $11 }' "$out/results.tsv" | tee -a "$out/run.log" >&2
  fi
  local short
  short=$(cut -f1 "$out/results.tsv" | sort -u | while read -r s; do [ "$(valid_runs "$s")" -ge "$RUNS" ] || echo "$s"; done)
  [ -z "$short" ] || die "fewer than $RUNS valid runs for: $(echo $short) (the report marks them)"
}

main "$@"; exit   # on one line: bash reads a script as it runs, and must not read past this point
