#!/usr/bin/env bash
# Self-test of bench/tools/openloop.c against a private nginx (200, 503 + Retry-After: 2, a chunked body) and a
# listener that accepts connections but never answers. Prints ok/FAIL lines and a summary; exits 1 on any failure.
#
#   bench/tools/openloop-selftest.sh           all five checks (about 25 s)
#   SKIP_PEAK=1 bench/tools/openloop-selftest.sh   without check 5 (60,000 req/s, which needs two idle cores)
set -euo pipefail

tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$tools/build.sh"
openloop=$tools/../out/tools/openloop
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0 failed=0
check() { # check DESCRIPTION CONDITION...
  local description=$1; shift
  if "$@"; then echo "ok   $description"; passed=$((passed + 1)); else echo "FAIL $description"; failed=$((failed + 1)); fi
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local port=$1
  until port_free "$port"; do port=$((port + 1)); done
  echo "$port"
}
wait_for_port() {
  for _ in $(seq 50); do port_free "$1" || return 0; sleep 0.1; done
  echo "nothing listens on port $1" >&2; exit 1
}

nginx_port=$(free_port 18990)
silent_port=$(free_port $((nginx_port + 1)))
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body; proxy_temp_path $tmp/nginx/proxy; fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi; scgi_temp_path $tmp/nginx/scgi;
  keepalive_requests 1000000;
  log_format device '\$arg_device';
  server {
    listen 127.0.0.1:$nginx_port backlog=4096;
    location /ok { return 200 '{"update":false}\n'; }
    location /shed { access_log $tmp/shed.log device; add_header Retry-After 2 always; return 503 'busy\n'; }
    # sub_filter drops Content-Length, so nginx sends this body chunked
    location /chunked {
      default_type text/html; sub_filter 'x' 'y'; sub_filter_once off;
      return 200 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n';
    }
  }
}
EOF
/usr/sbin/nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
pids+=($!)
# accepts connections (the kernel completes them) but never reads or answers
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4096); time.sleep(3600)' "$silent_port" &
pids+=($!)
# answers every request with a chunked 503 (chunk extensions, a 300-byte header, a trailer, Retry-After: 1),
# written a few bytes at a time, so that the client's parser sees every line and chunk split across reads
dribble_port=$(free_port $((silent_port + 1)))
python3 -c 'import asyncio, sys
ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\nX-Long: " + b"z" * 300 + b"\r\nretry-after: 1\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1a\r\n" + b"b" * 26 + b"\r\n0\r\nX-Trailer: t\r\n\r\n")
async def serve(reader, writer):
    while True:
        try:
            await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        for i in range(0, len(ANSWER), 7):
            writer.write(ANSWER[i:i + 7])
            await writer.drain()
            await asyncio.sleep(0.001)
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())' "$dribble_port" &
pids+=($!)
wait_for_port "$nginx_port"
wait_for_port "$silent_port"
wait_for_port "$dribble_port"

# run NAME ARGS...: runs openloop; its result line goes to $tmp/NAME.out, its summary to $tmp/NAME.err
run() {
  local name=$1; shift
  "$openloop" --host 127.0.0.1 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  sed 's/^/    /' "$tmp/$name.err"
}
# field NAME KEY: a value of the run's OPENLOOP_RESULT line (or achieved_send_rate from its summary)
field() { grep -oh "\b$2=[^ ,]*" "$tmp/$1.out" "$tmp/$1.err" | head -1 | cut -d= -f2; }
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
# every counted arrival is accounted for exactly once
invariants() {
  local f=(scheduled sent suppressed client_dropped completed timeouts connect_errors read_errors) v=()
  for k in "${f[@]}"; do v+=("$(field "$1" "$k")"); done
  [ "${v[0]}" -eq $((v[1] + v[2] + v[3])) ] && [ "${v[1]}" -eq $((v[4] + v[5] + v[6] + v[7])) ]
}

echo "1. rate accuracy: 20,000 req/s for 3 s against /ok"
run rate --port "$nginx_port" --path '/ok?device={id}&model={model}' --models esp32,esp32s3 --fleet 10000 \
  --rate 20000 --duration 3 --connections 1024
check "scheduled = sent + suppressed + client_dropped, sent = completed + failures" invariants rate
check "achieved send rate $(field rate achieved_send_rate) is within 2 % of 20000" \
  within "$(field rate achieved_send_rate)" 19600 20400
check "all $(field rate sent) answers counted 2xx" test "$(field rate s2xx)" -eq "$(field rate sent)"

echo "2. a fleet that honours Retry-After: 2 (fleet 100, 1,000 req/s for 3 s against /shed)"
: >"$tmp/shed.log"
run honour --port "$nginx_port" --path '/shed?device={id}' --fleet 100 --rate 1000 --duration 3 --honour-retry-after
most_per_device=$(sort "$tmp/shed.log" | uniq -c | sort -n | tail -1 | awk '{print $1}')
check "invariants hold" invariants honour
check "nginx saw $(wc -l <"$tmp/shed.log") requests, as many as sent ($(field honour sent))" \
  test "$(wc -l <"$tmp/shed.log")" -eq "$(field honour sent)"
check "each device sent at most ceil(3/2)+1 = 3 requests (most: $most_per_device)" test "$most_per_device" -le 3
check "suppressed $(field honour suppressed) >= scheduled - 3 x fleet" \
  test "$(field honour suppressed)" -ge $(($(field honour scheduled) - 300))
check "s503 = sent" test "$(field honour s503)" -eq "$(field honour sent)"
run ignore --port "$nginx_port" --path '/shed?device={id}' --fleet 100 --rate 1000 --duration 3
check "without --honour-retry-after: suppressed = 0" test "$(field ignore suppressed)" -eq 0
check "without --honour-retry-after: sent = scheduled = s503" \
  test "$(field ignore sent)" -eq "$(field ignore scheduled)" -a "$(field ignore s503)" -eq "$(field ignore sent)"

echo "3. chunked bodies: 2,000 req/s for 2 s against /chunked, 16 connections"
check "nginx really sends /chunked chunked" \
  grep -qi '^transfer-encoding: chunked' <(curl -s -D - -o /dev/null "http://127.0.0.1:$nginx_port/chunked")
run chunked --port "$nginx_port" --path '/chunked?device={id}' --rate 2000 --duration 2 --connections 16
check "invariants hold" invariants chunked
check "s2xx = sent and no read errors" \
  test "$(field chunked s2xx)" -eq "$(field chunked sent)" -a "$(field chunked read_errors)" -eq 0
check "connections stay open: $(field chunked connections_opened) opened <= 16" \
  test "$(field chunked connections_opened)" -le 16

echo "3b. answers written a few bytes at a time (chunked 503 with extensions, trailer, Retry-After: 1): 50 req/s for 2 s"
run dribble --port "$dribble_port" --path '/x?device={id}' --fleet 10 --rate 50 --duration 2 --connections 16 \
  --honour-retry-after
check "invariants hold" invariants dribble
check "s503 = sent = $(field dribble sent) > 0, no read errors" \
  test "$(field dribble s503)" -eq "$(field dribble sent)" -a "$(field dribble sent)" -gt 0 -a "$(field dribble read_errors)" -eq 0
check "Retry-After: 1 honoured: sent $(field dribble sent) <= 2 s x 10 devices + 10" test "$(field dribble sent)" -le 30

echo "4. a server that never answers: 200 req/s for 2 s, --timeout-ms 1000, 64 connections"
began=$(date +%s%N)
run silent --port "$silent_port" --path '/x?device={id}' --rate 200 --duration 2 --timeout-ms 1000 --connections 64
elapsed_ms=$((($(date +%s%N) - began) / 1000000))
check "invariants hold" invariants silent
check "$(field silent timeouts) timeouts, no answers" \
  test "$(field silent timeouts)" -gt 0 -a "$(field silent completed)" -eq 0
check "the run ended in ${elapsed_ms} ms <= duration + timeout + 1 s" test "$elapsed_ms" -le 4000

if [ "${SKIP_PEAK:-0}" = 1 ]; then
  echo "5. skipped (SKIP_PEAK=1)"
else
  echo "5. 60,000 req/s for 3 s, 2 threads, against /ok (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
  run peak --port "$nginx_port" --path '/ok?device={id}' --rate 60000 --duration 3 --threads 2 --connections 1024
  check "invariants hold" invariants peak
  check "achieved send rate $(field peak achieved_send_rate) >= 57000 (95 %), own CPU $(field peak cpu_s) s" \
    within "$(field peak achieved_send_rate)" 57000 1e9
fi

echo "openloop-selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
