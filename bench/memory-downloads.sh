#!/usr/bin/env bash
# Service memory while many devices download one image slowly (issue 13 item 2).
#
#   bench/memory-downloads.sh                 builds the service from this checkout (Release)
#   SERVICE_DIR=/path/to/publish LABEL=main bench/memory-downloads.sh   measures another build (e.g. main's)
#
# Starts a private PostgreSQL (PG_PORT, default 55493) and the service (SVC_HTTP_PORT, default 18380) on
# 127.0.0.1, uploads one IMAGE_MIB (16) MiB image through the admin API, then opens READERS (64) downloads
# of it with curl --limit-rate RATE (64k), one every STAGGER (0.25) seconds as devices arrive over time, so
# each stays in flight for the whole sampling window. It samples
# the service's /proc/PID/status (VmRSS, VmHWM) every second: idle before the downloads, while they run
# (HOLD_SECONDS, 30), and after they are closed (AFTER_SECONDS, 60). STORE=directory puts the image in an
# artifact directory (Ota:Artifacts:Store) instead of PostgreSQL. Prints one result line and appends it to
# bench/out/memory.tsv; stops everything it started.
set -euo pipefail
bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench/.." && pwd)
out=${BENCH_OUT:-$bench/out}/memory
PG_PORT=${PG_PORT:-55493}
SVC_HTTP_PORT=${SVC_HTTP_PORT:-18380}
READERS=${READERS:-64}
STAGGER=${STAGGER:-0.25}
RATE=${RATE:-64k}
IMAGE_MIB=${IMAGE_MIB:-16}
HOLD_SECONDS=${HOLD_SECONDS:-30}
AFTER_SECONDS=${AFTER_SECONDS:-60}
STORE=${STORE:-postgresql}
LABEL=${LABEL:-$(git -C "$repo" rev-parse --short HEAD)}
HOST=127.0.0.1
svc=http://$HOST:$SVC_HTTP_PORT

say() { printf '%s memory: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
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

rm -rf "$out/pg" "$out/artifacts" "$out/curl"
mkdir -p "$out/logs" "$out/curl"

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
{ printf '\xe9'; head -c $((IMAGE_MIB * 1048576 - 1)) /dev/urandom; } >"$image"

(
  cd "$SERVICE_DIR"
  export ASPNETCORE_ENVIRONMENT=Production ConnectionStrings__Ota="$CS"
  export Ota__ListenAddress=$HOST Ota__Http__Port=$SVC_HTTP_PORT Ota__Devices__AllowPlainHttp=true
  export Ota__ApiKeys__0__Name=bench Ota__ApiKeys__0__Hash=$API_KEY_HASH Ota__ApiKeys__0__Scope=write
  export Ota__Upload__MaxBytes=$((IMAGE_MIB * 1048576)) Ota__Database__MigrateOnStart=true
  # every reader comes from 127.0.0.1 without a certificate, i.e. one client: lift the per-client cap
  export Ota__Downloads__MaxConcurrent=4096 Ota__Downloads__MaxPerDevice=4096
  if [ "$STORE" = directory ]; then export Ota__Artifacts__Store=directory Ota__Artifacts__Directory=$out/artifacts; fi
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
curl -fsS -o "$out/whole.bin" "$url" || die "one whole download failed"
cmp -s "$out/whole.bin" "$image" || die "the downloaded image differs from the upload"

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
line=$(printf '%s\t%s\t%d readers x %d MiB at %s/s, one every %s s, %d in flight at the end\tidle %d MiB\tduring max %d MiB\tVmHWM %d MiB\t%d s after close %d MiB' \
  "$LABEL" "$STORE" "$READERS" "$IMAGE_MIB" "$RATE" "$STAGGER" "$active" $((idle / 1024)) $((peak / 1024)) $((hwm / 1024)) "$AFTER_SECONDS" $((after / 1024)))
echo "$line" | tee -a "$(dirname "$out")/memory.tsv"
