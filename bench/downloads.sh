#!/usr/bin/env bash
# Download scenarios measured against the service's own build, each against a baseline made in the same run.
#
#   bench/downloads.sh memory    service memory while many devices download one image slowly (issue 13 item 2)
#   bench/downloads.sh offload   offloaded downloads (the service's 302 + nginx secure_link) vs plain nginx
#                                serving the same file (issue 15 item 2)
#   SERVICE_DIR=/path/to/publish LABEL=main bench/downloads.sh memory   measures another build (e.g. main's)
#
# Both start a private PostgreSQL (PG_PORT, default 55493) and the service (SVC_HTTP_PORT, default 18380) on
# 127.0.0.1, upload one image through the admin API and stop everything they started. Results are printed and
# appended to bench/out/downloads.tsv.
#
# memory: an IMAGE_MIB (16) MiB image; READERS (64) downloads of it with curl --limit-rate RATE (64k), one every
# STAGGER (0.25) seconds as devices arrive over time, so each stays in flight for the whole sampling window.
# Samples the service's /proc/PID/status (VmRSS, VmHWM) every second: idle before the downloads, while they
# run (HOLD_SECONDS, 30), and after they are closed (AFTER_SECONDS, 60). STORE=directory keeps the image in
# an artifact directory (Ota:Artifacts:Store) instead of PostgreSQL.
#
# offload: a 1.5 MiB image in the artifact directory, served by nginx with deploy/nginx's configuration
# (NGINX_PORT, 18370) and, as the baseline, by nginx with bench/conf/nginx.conf.in (plain static file,
# BASE_HTTP_PORT, 18390). One curl process (--parallel, PARALLEL 16 transfers at a time, keep-alive)
# fetches DOWNLOADS (400) images per run: from the service's download URL following its redirect (-L), or
# straight from the plain nginx; RUNS (3) runs of each, alternating. Reports downloads/s of each (median)
# and their ratio.
set -euo pipefail
bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench/.." && pwd)
out=${BENCH_OUT:-$bench/out}/downloads
PG_PORT=${PG_PORT:-55493}
SVC_HTTP_PORT=${SVC_HTTP_PORT:-18380}
READERS=${READERS:-64}
STAGGER=${STAGGER:-0.25}
RATE=${RATE:-64k}
IMAGE_MIB=${IMAGE_MIB:-16}
MODE=${1:-}
case $MODE in memory|offload) ;; *) sed -n '2,9p' "$0" >&2; exit 2 ;; esac
NGINX_PORT=${NGINX_PORT:-18370}
BASE_HTTP_PORT=${BASE_HTTP_PORT:-18390}
DOWNLOADS=${DOWNLOADS:-400}
PARALLEL=${PARALLEL:-16}
RUNS=${RUNS:-3}
HOLD_SECONDS=${HOLD_SECONDS:-30}
AFTER_SECONDS=${AFTER_SECONDS:-60}
STORE=${STORE:-postgresql}
LABEL=${LABEL:-$(git -C "$repo" rev-parse --short HEAD)}
HOST=127.0.0.1
svc=http://$HOST:$SVC_HTTP_PORT

say() { printf '%s downloads %s: %s\n' "$(date +%H:%M:%S)" "$MODE" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

pids=()
readers=()
pg_started=0
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ "$pg_started" = 0 ] || PAKU_PG_DIR=$out/pg PAKU_PG_PORT=$PG_PORT "$repo/scripts/pg-stop.sh" >/dev/null 2>&1 || true
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$out/pg" "$out/artifacts" "$out/curl" "$out/nginx" "$out/www"
mkdir -p "$out/logs" "$out/curl"
if [ "$MODE" = offload ]; then
  STORE=directory IMAGE_MIB=0
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$NGINX" ] || die "nginx is not installed (apt-get install nginx-light)"
  SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
fi

if [ -z "${SERVICE_DIR:-}" ]; then
  say "building the service (Release)"
  dotnet publish "$repo/src/Paku.Ota.Api" -c Release -o "$out/build" -nologo -v q -clp:ErrorsOnly >"$out/logs/build.log" 2>&1 \
    || { tail -20 "$out/logs/build.log" >&2; die "the service does not build"; }
  SERVICE_DIR=$out/build
fi
ota() { dotnet "$SERVICE_DIR/Paku.Ota.Api.dll" "$@"; }

pg_started=1
CS=$(PAKU_PG_DIR=$out/pg PAKU_PG_PORT=$PG_PORT PAKU_PG_DB=paku "$repo/scripts/pg-start.sh" 2>>"$out/logs/pg.log" | tail -1) \
  || die "PostgreSQL did not start (see $out/logs/pg.log)"

API_KEY=mem-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
API_KEY_HASH=$(ota hash-key --key "$API_KEY" | awk '/^hash:/ { print $2 }')
image=$out/image.bin
image_bytes=$((IMAGE_MIB * 1048576)); [ "$MODE" = offload ] && image_bytes=$((1536 * 1024))
{ printf '\xe9'; head -c $((image_bytes - 1)) /dev/urandom; } >"$image"

(
  cd "$SERVICE_DIR"
  export ASPNETCORE_ENVIRONMENT=Production ConnectionStrings__Ota="$CS"
  export Ota__ListenAddress=$HOST Ota__Http__Port=$SVC_HTTP_PORT Ota__Devices__AllowPlainHttp=true
  export Ota__ApiKeys__0__Name=bench Ota__ApiKeys__0__Hash=$API_KEY_HASH Ota__ApiKeys__0__Scope=write
  export Ota__Upload__MaxBytes=$((image_bytes > 16777216 ? image_bytes : 16777216)) Ota__Database__MigrateOnStart=true
  # every reader comes from 127.0.0.1 without a certificate, i.e. one client: lift the per-client cap
  export Ota__Downloads__MaxConcurrent=4096 Ota__Downloads__MaxPerDevice=4096
  if [ "$STORE" = directory ]; then export Ota__Artifacts__Store=directory Ota__Artifacts__Directory=$out/artifacts; fi
  if [ "$MODE" = offload ]; then
    export Ota__Offload__Enabled=true Ota__Offload__BaseUrl=http://$HOST:$NGINX_PORT/fw Ota__Offload__Secret=$SECRET
    export Ota__RateLimit__DeviceRequestsPerWindow=1000000000
  fi
  exec dotnet Paku.Ota.Api.dll serve --contentRoot "$SERVICE_DIR"
) >"$out/logs/service.log" 2>&1 &
SVC=$!
pids+=("$SVC")
for _ in $(seq 1 120); do
  kill -0 $SVC 2>/dev/null || { tail -30 "$out/logs/service.log" >&2; die "the service exited"; }
  curl -fsS -o /dev/null --max-time 2 "$svc/health" 2>/dev/null && break
  sleep 0.5
done
curl -fsS -o /dev/null "$svc/health" || die "the service is not healthy"

code=$(curl -sS -o "$out/logs/upload.json" -w '%{http_code}' -X POST -H "X-API-Key: $API_KEY" \
  "$svc/api/admin/firmware/upload?version=1.0.0&device_model=esp32" -F "file=@$image")
[ "$code" = 201 ] || { cat "$out/logs/upload.json" >&2; die "upload answered $code"; }
sleep 3 # the catalog refresh picks the release up

url="$svc/api/firmware/download/1.0.0?device_model=esp32"
if [ "$MODE" = memory ]; then
  curl -fsS -o "$out/whole.bin" "$url" || die "one whole download failed"
  cmp -s "$out/whole.bin" "$image" || die "the downloaded image differs from the upload"
fi

if [ "$MODE" = offload ]; then
  # the plain baseline: the same file, nginx's static serving (sendfile), the bench's own configuration
  sha=$(sha256sum "$image" | cut -c1-64)
  mkdir -p "$out/www/fw" "$out/nginx/tmp" "$out/offload-nginx"
  cp "$image" "$out/www/fw/image.bin"
  user_line="# not root: nginx runs as $(id -un) anyway"; [ "$(id -u)" = 0 ] && user_line="user root;"
  sed -e "s|@OUT@|$out|g" -e "s|@PORT@|$BASE_HTTP_PORT|g" -e "s|@USER_LINE@|$user_line|" "$bench/conf/nginx.conf.in" >"$out/nginx/nginx.conf"
  printf '%s' "$SECRET" >"$out/secret"
  conf=$("$repo/deploy/nginx/render.sh" "$out/offload-nginx" "$HOST:$NGINX_PORT" "$out/artifacts" "$out/secret")
  sed -i 's|^    access_log .*|    access_log off;|' "$conf"   # as the baseline: no access log
  "$NGINX" -c "$out/nginx/nginx.conf" -p "$out/nginx" -e "$out/nginx/error.log" >"$out/logs/nginx-plain.log" 2>&1 &
  pids+=($!)
  "$NGINX" -c "$conf" -p "$out/offload-nginx" -e "$out/offload-nginx/error.log" >"$out/logs/nginx-offload.log" 2>&1 &
  pids+=($!)
  sleep 2
  plain_url="http://$HOST:$BASE_HTTP_PORT/fw/image.bin"
  curl -fsS -o "$out/plain.bin" "$plain_url" && cmp -s "$out/plain.bin" "$image" || die "plain nginx does not serve the image"
  curl -fsSL -o "$out/offloaded.bin" "$url" && cmp -s "$out/offloaded.bin" "$image" || die "the offloaded download differs from the image"
  code=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$url")
  case $code in "302 http://$HOST:$NGINX_PORT/fw/${sha:0:2}/$sha?"*) ;; *) die "the service answered '$code', not a 302 to nginx" ;; esac
  for kind in plain offload; do
    target=$plain_url; [ $kind = offload ] && target=$url
    : >"$out/curl-$kind.cfg"
    for i in $(seq 1 "$DOWNLOADS"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$target" >>"$out/curl-$kind.cfg"; done
  done
  run_once() { # kind -> prints seconds
    local follow="" t0 t1
    [ "$1" = offload ] && follow="-L"
    t0=$(date +%s.%N)
    curl -sS $follow --fail --parallel --parallel-max "$PARALLEL" -K "$out/curl-$1.cfg" 2>>"$out/logs/curl-$1.log" || die "a $1 download failed (see $out/logs/curl-$1.log)"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
  }
  run_once plain >/dev/null; run_once offload >/dev/null   # warm-up
  plain_rates=() offload_rates=()
  for r in $(seq 1 "$RUNS"); do
    s=$(run_once plain); plain_rates+=("$(awk -v n="$DOWNLOADS" -v s="$s" 'BEGIN { printf "%.1f", n / s }')")
    s=$(run_once offload); offload_rates+=("$(awk -v n="$DOWNLOADS" -v s="$s" 'BEGIN { printf "%.1f", n / s }')")
    say "run $r: plain nginx ${plain_rates[-1]} downloads/s, offloaded (302 + nginx) ${offload_rates[-1]} downloads/s"
  done
  median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  p=$(median "${plain_rates[@]}"); o=$(median "${offload_rates[@]}")
  line=$(printf 'offload\t%s\t%d x %d KiB image, %d at a time, %d runs\tplain nginx %s/s\toffloaded %s/s\tratio %s\truns plain [%s] offload [%s]' \
    "$LABEL" "$DOWNLOADS" $((image_bytes / 1024)) "$PARALLEL" "$RUNS" "$p" "$o" "$(awk -v a="$o" -v b="$p" 'BEGIN { printf "%.2f", a / b }')" \
    "${plain_rates[*]}" "${offload_rates[*]}")
  echo "$line" | tee -a "$(dirname "$out")/downloads.tsv"
  exit 0
fi

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$SVC/status"; }
sleep 5
idle=$(kib VmRSS)
say "idle after upload and one download: VmRSS $((idle / 1024)) MiB; opening $READERS readers at $RATE/s, one every $STAGGER s"
for i in $(seq 1 "$READERS"); do
  curl -sS --limit-rate "$RATE" -o "$out/curl/$i.part" "$url" 2>/dev/null &
  pids+=($!)
  readers+=($!)
  sleep "$STAGGER"
done
peak=0
for _ in $(seq 1 "$HOLD_SECONDS"); do
  sleep 1
  r=$(kib VmRSS); [ "$r" -gt "$peak" ] && peak=$r
done
active=0
for p in "${readers[@]}"; do kill -0 "$p" 2>/dev/null && active=$((active + 1)); done
hwm=$(kib VmHWM)
got=$(du -cb "$out"/curl/*.part | tail -1 | cut -f1)
say "after ${HOLD_SECONDS} s: $active of $READERS readers still downloading ($((got / 1048576)) MiB received in all); VmRSS max $((peak / 1024)) MiB, VmHWM $((hwm / 1024)) MiB"
for p in "${readers[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${readers[@]}"; do wait "$p" 2>/dev/null || true; done
sleep "$AFTER_SECONDS"
after=$(kib VmRSS)
line=$(printf 'memory\t%s\t%s\t%d readers x %d MiB at %s/s, one every %s s, %d in flight at the end\tidle %d MiB\tduring max %d MiB\tVmHWM %d MiB\t%d s after close %d MiB' \
  "$LABEL" "$STORE" "$READERS" "$IMAGE_MIB" "$RATE" "$STAGGER" "$active" $((idle / 1024)) $((peak / 1024)) $((hwm / 1024)) "$AFTER_SECONDS" $((after / 1024)))
echo "$line" | tee -a "$(dirname "$out")/downloads.tsv"
