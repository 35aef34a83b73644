#!/usr/bin/env bash
# Starts the reference topology on loopback from Debian packages, without containers:
#   etcd (one node) -> two PostgreSQL 15 nodes under Patroni (primary + synchronous standby)
#   -> the schema migration -> N service replicas (one build, each on its own ports)
#   -> HAProxy in front (device TLS passed through, device TLS terminated, admin), health checks on /health
# Everything listens on 127.0.0.1, ports PAKU_TOPO_PORT_BASE .. +99 (default 19000-19099); state, logs and
# generated secrets under PAKU_TOPO_STATE (default .local/topology, git-ignored). Safe to run again: what
# runs is kept. deploy/local/down.sh stops it all. See deploy/local/README.md.
#   PAKU_TOPO_NO_BUILD=1  reuse the last build in <state>/app
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
started_at=$SECONDS

# ---- packages ------------------------------------------------------------------------------------
need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v patroni >/dev/null || need+=(patroni)
/usr/bin/python3 -c 'import etcd' 2>/dev/null || need+=(python3-etcd)  # Patroni's etcd client
command -v haproxy >/dev/null || need+=(haproxy)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
[ -x "$topo_pg_bin/initdb" ] || need+=(postgresql-15)
# nginx serves the offloaded downloads (deploy/nginx, secure_link)
offload=0
[ -x "$topo_repo/deploy/nginx/render.sh" ] && [ "${PAKU_TOPO_OFFLOAD:-1}" = 1 ] && offload=1
[ "$offload" = 0 ] || [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    topo_say "missing ${need[*]}; install them (Debian: apt-get install ${need[*]}) or run as root"
    exit 1
  fi
  topo_say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq -o DPkg::Lock::Timeout=600 >&2
  # RUNLEVEL=1: the packages' own system services (etcd, haproxy) are not started
  RUNLEVEL=1 apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${need[@]}" >&2
fi
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

# ---- ports ---------------------------------------------------------------------------------------
mkdir -p "$topo_state"
if [ ! -s "$topo_state/etcd.pid" ] && [ ! -s "$(pg_dir 1)/patroni.pid" ]; then
  for port in $port_etcd $port_etcd_peer "$(port_pg 1)" "$(port_pg 2)" "$(port_patroni 1)" "$(port_patroni 2)" \
              $port_haproxy_passthrough $port_haproxy_terminate $port_haproxy_admin $port_haproxy_stats; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      topo_say "port $port is taken; set PAKU_TOPO_PORT_BASE to another free range of 100 ports"
      exit 1
    fi
  done
fi

# PostgreSQL runs as postgres, which must reach its data folders
if [ "$(id -u)" = 0 ] && [ ! -s "$topo_state/pg-base" ] && ! runuser -u postgres -- test -x "$topo_state"; then
  pg_base=/tmp/paku-topology-$(printf '%s' "$topo_state" | sha256sum | cut -c1-12)
  topo_say "the postgres user cannot reach $topo_state; the PostgreSQL nodes live in $pg_base"
  mkdir -p "$pg_base" && chmod 755 "$pg_base" && echo "$pg_base" >"$topo_state/pg-base"
fi

# ---- build the service once ----------------------------------------------------------------------
if [ "${PAKU_TOPO_NO_BUILD:-}" != 1 ] || [ ! -f "$topo_state/app/Paku.Ota.Api.dll" ]; then
  topo_say "building the service (Release) into $topo_state/app"
  dotnet publish "$topo_repo/src/Paku.Ota.Api/Paku.Ota.Api.csproj" -c Release -o "$topo_state/app" -nologo -v q -clp:ErrorsOnly >&2
fi
ota() { dotnet "$topo_state/app/Paku.Ota.Api.dll" "$@"; }

# ---- secrets (generated once, never committed) ---------------------------------------------------
secrets=$topo_state/secrets
mkdir -p "$secrets" && chmod 700 "$secrets"
[ -f "$secrets/ca.crt" ] || ota ca-create --out "$secrets" --name "Paku OTA topology fleet CA" >&2
[ -f "$secrets/server.crt" ] || ota cert-server --ca "$secrets" --dns localhost --ip 127.0.0.1 --out "$secrets" >&2
for name in pg-superuser-password pg-replication-password pg-app-password offload-secret; do
  [ -s "$secrets/$name" ] || openssl rand -hex 24 >"$secrets/$name"
done
if [ ! -s "$secrets/admin-api-key" ]; then
  ota hash-key >"$secrets/hash-key.out"
  sed -nE 's/^key:[[:space:]]*//p' "$secrets/hash-key.out" >"$secrets/admin-api-key"
  sed -nE 's/^hash:[[:space:]]*//p' "$secrets/hash-key.out" >"$secrets/admin-api-key.hash"
  rm -f "$secrets/hash-key.out"
  if [ ! -s "$secrets/admin-api-key" ] || [ ! -s "$secrets/admin-api-key.hash" ]; then
    topo_say "could not read the key and hash printed by hash-key"; exit 1
  fi
fi
# HAProxy wants the certificate and its key in one file
cat "$secrets/server.crt" "$secrets/server.key" >"$secrets/haproxy-server.pem"
chmod 600 "$secrets"/*

# ---- etcd ----------------------------------------------------------------------------------------
if ! pid_alive "$topo_state/etcd.pid"; then
  topo_say "starting etcd on 127.0.0.1:$port_etcd"
  setsid etcd --name paku-topology --data-dir "$topo_state/etcd" \
    --listen-client-urls "http://127.0.0.1:$port_etcd" --advertise-client-urls "http://127.0.0.1:$port_etcd" \
    --listen-peer-urls "http://127.0.0.1:$port_etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$port_etcd_peer" \
    --initial-cluster "paku-topology=http://127.0.0.1:$port_etcd_peer" --initial-cluster-state new \
    --enable-v2=true >>"$topo_state/etcd.log" 2>&1 </dev/null &
  echo $! >"$topo_state/etcd.pid"
fi
wait_for 60 "etcd to answer" http_ok "http://127.0.0.1:$port_etcd/health"

# ---- PostgreSQL under Patroni --------------------------------------------------------------------
superuser_pw=$(cat "$secrets/pg-superuser-password")
replication_pw=$(cat "$secrets/pg-replication-password")
for n in 1 2; do
  dir=$(pg_dir "$n")
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir" && chmod 700 "$dir"
  cat >"$dir/patroni.yml" <<YAML
# written by deploy/local/up.sh
scope: paku-topology
namespace: /paku-topology/
name: pg$n
log:
  level: INFO
restapi:
  listen: 127.0.0.1:$(port_patroni "$n")
  connect_address: 127.0.0.1:$(port_patroni "$n")
etcd3:
  hosts: 127.0.0.1:$port_etcd
bootstrap:
  dcs:
    # the leader key lives ttl seconds: a lost primary is replaced within about ttl + loop_wait
    ttl: 12
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    # Acknowledged writes survive a failover: a COMMIT returns only once the synchronous standby has
    # flushed its WAL (synchronous_commit on), Patroni promotes only that standby (synchronous_mode),
    # and it never drops synchronous replication to keep writing alone (synchronous_mode_strict: with
    # the standby gone, commits wait for it to come back instead of being acknowledged unreplicated).
    synchronous_mode: true
    synchronous_mode_strict: true
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      remove_data_directory_on_rewind_failure: true
      remove_data_directory_on_diverged_timelines: true
      parameters:
        synchronous_commit: "on"
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        max_connections: 200
        shared_buffers: 128MB
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
postgresql:
  listen: 127.0.0.1:$(port_pg "$n")
  connect_address: 127.0.0.1:$(port_pg "$n")
  data_dir: $dir/data
  bin_dir: $topo_pg_bin
  pgpass: $dir/pgpass
  authentication:
    superuser:
      username: postgres
      password: $superuser_pw
    replication:
      username: replicator
      password: $replication_pw
    rewind:
      username: postgres
      password: $superuser_pw
  parameters:
    unix_socket_directories: $dir
    password_encryption: scram-sha-256
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
YAML
  chmod 600 "$dir/patroni.yml"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/patroni.yml"
done
# both at once: on the first start one bootstraps the cluster and the other clones it; on a restart
# Patroni makes the node with the newest WAL the primary (the one that was primary when it stopped)
start_pg_node 1
start_pg_node 2
topo_say "waiting for a PostgreSQL primary (Patroni on 127.0.0.1:$(port_patroni 1) and :$(port_patroni 2))"
wait_for 180 "a PostgreSQL primary" primary_node
topo_say "waiting for the synchronous standby"
wait_for 240 "a synchronous standby" sync_standby_ready

# the service's own role and database
app_pw=$(cat "$secrets/pg-app-password")
psql_primary -d postgres -qAt >/dev/null <<SQL
select 'ok';
do \$\$ begin
  if not exists (select 1 from pg_roles where rolname = 'paku') then
    create role paku login password '$app_pw';
  end if;
end \$\$;
SQL
psql_primary -d postgres -qAt -c "select 1 from pg_database where datname = 'paku'" | grep -q 1 ||
  psql_primary -d postgres -q -c "create database paku owner paku"

# ---- nginx for offloaded downloads ---------------------------------------------------------------
if [ "$offload" = 1 ]; then
  mkdir -p "$topo_state/artifacts" "$topo_state/nginx"
  # over HTTPS with the server certificate: a device that talks https to the service follows only an
  # https link
  "$topo_repo/deploy/nginx/render.sh" "$topo_state/nginx" "127.0.0.1:$port_nginx" "$topo_state/artifacts" \
    "$secrets/offload-secret" "$secrets/server.crt" "$secrets/server.key" >/dev/null
  if ! pid_alive "$topo_state/nginx/nginx.pid"; then
    topo_say "starting nginx for offloaded downloads on 127.0.0.1:$port_nginx"
    setsid nginx -c "$topo_state/nginx/nginx.conf" -p "$topo_state/nginx" -e "$topo_state/nginx/error.log" \
      >>"$topo_state/nginx/nginx.log" 2>&1 </dev/null &
  fi
  wait_for 30 "nginx to listen" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port_nginx"
fi

# ---- the service's settings (one file, read by every replica and the migration) -------------------
hosts="127.0.0.1:$(port_pg 1),127.0.0.1:$(port_pg 2)"
cat >"$topo_state/service.env" <<ENV
# written by deploy/local/up.sh; read by every replica
ASPNETCORE_ENVIRONMENT=Production
DOTNET_gcServer=0
# both PostgreSQL nodes; Npgsql connects to whichever is the primary now, and after a failover
# finds the new one by itself (host states are rechecked every second, a broken connection is
# answered 503 + Retry-After and dropped from the pool)
ConnectionStrings__Ota="Host=$hosts;Target Session Attributes=primary;Host Recheck Seconds=1;Database=paku;Username=paku;Password=$app_pw;Timeout=3;Command Timeout=15;Keepalive=5;Tcp Keepalive=true"
Ota__Http__ListenAddress=127.0.0.1
Ota__ListenAddress=127.0.0.1
Ota__Https__CertificatePath=$secrets/server.crt
Ota__Https__KeyPath=$secrets/server.key
Ota__Devices__FleetCaPath=$secrets/ca.crt
# HAProxy terminates device TLS on its second frontend and forwards the client certificate (base64 DER)
Ota__Devices__ForwardedCertificateHeader=X-Client-Cert
Ota__Devices__TrustedProxies__0=127.0.0.1
Ota__ApiKeys__0__Name=topology-admin
Ota__ApiKeys__0__Hash=$(cat "$secrets/admin-api-key.hash")
Ota__ApiKeys__0__Scope=write
ENV
if [ "$offload" = 1 ]; then
  cat >>"$topo_state/service.env" <<ENV
# images in a content-addressed directory that nginx serves; downloads answered 302 to a signed,
# expiring nginx link (deploy/nginx)
Ota__Artifacts__Store=directory
Ota__Artifacts__Directory=$topo_state/artifacts
Ota__Offload__Enabled=true
Ota__Offload__BaseUrl=https://127.0.0.1:$port_nginx/fw
Ota__Offload__Secret=$(cat "$secrets/offload-secret")
ENV
fi
chmod 600 "$topo_state/service.env"

topo_say "applying the database migrations"
(set -a; . "$topo_state/service.env"; set +a; ota migrate >"$topo_state/migrate.log" 2>&1) ||
  { topo_say "migrate failed; see $topo_state/migrate.log"; exit 1; }

# ---- service replicas ----------------------------------------------------------------------------
for n in $(seq 1 "$topo_replicas"); do start_replica "$n"; done
for n in $(seq 1 "$topo_replicas"); do
  wait_for 120 "replica $n to be healthy" replica_healthy "$n" ||
    { topo_say "see $(replica_dir "$n")/service.log"; exit 1; }
done

# ---- HAProxy ---------------------------------------------------------------------------------------
mkdir -p "$topo_state/haproxy"
{
  cat <<CFG
# written by deploy/local/up.sh
global
  maxconn 4096
  log stdout format raw local0 notice
  ssl-default-bind-options ssl-min-ver TLSv1.2
  pidfile $topo_state/haproxy/haproxy.pid

defaults
  log global
  timeout connect 3s
  timeout client 90s
  timeout server 90s
  timeout check 3s
  # a connection a replica refuses (killed, restarting) is tried again on another one
  retries 3
  option redispatch
  default-server inter 1s fall 2 rise 2

# Devices, TLS passed through: each replica terminates mTLS itself.
frontend devices_passthrough
  mode tcp
  bind 127.0.0.1:$port_haproxy_passthrough
  default_backend replicas_tls

backend replicas_tls
  mode tcp
  balance leastconn
  option httpchk GET /health
  http-check expect status 200
CFG
  for n in $(seq 1 "$topo_replicas"); do
    echo "  server r$n 127.0.0.1:$(port_https "$n") check check-ssl verify none"
  done
  cat <<CFG

# Devices, TLS terminated here: the client certificate is requested and forwarded to the replicas in
# X-Client-Cert (base64 DER); the service checks it against the fleet CA and believes the header only
# from 127.0.0.1 (Ota:Devices:TrustedProxies). A header sent by the client is removed first.
frontend devices_terminate
  mode http
  bind 127.0.0.1:$port_haproxy_terminate ssl crt $secrets/haproxy-server.pem ca-file $secrets/ca.crt verify optional crt-ignore-err all ca-ignore-err all
  http-request del-header X-Client-Cert
  http-request set-header X-Client-Cert %[ssl_c_der,base64] if { ssl_c_used }
  # device API and health only: the admin API is not reachable from the device side
  http-request deny deny_status 404 unless { path_beg /api/firmware/ /api/device/ } || { path /health }
  default_backend replicas_http

# Admin API and console (loopback)
frontend admin
  mode http
  bind 127.0.0.1:$port_haproxy_admin
  http-request del-header X-Client-Cert
  default_backend replicas_http

backend replicas_http
  mode http
  balance leastconn
  option httpchk GET /health
  http-check expect status 200
  # a request a killed replica never answered is sent to another one (a repeated status report is
  # stored twice at worst, never lost)
  retry-on conn-failure empty-response junk-response
  # what a device hears when no replica is up: problem+json with Retry-After (shared with compose)
  errorfile 503 $topo_repo/deploy/haproxy/503.http
CFG
  for n in $(seq 1 "$topo_replicas"); do
    echo "  server r$n 127.0.0.1:$(port_http "$n") check"
  done
  cat <<CFG

listen stats
  mode http
  bind 127.0.0.1:$port_haproxy_stats
  stats enable
  stats uri /
  stats refresh 5s
CFG
} >"$topo_state/haproxy/haproxy.cfg"
haproxy -c -q -f "$topo_state/haproxy/haproxy.cfg" >&2
if pid_alive "$topo_state/haproxy/haproxy.pid"; then
  # a new configuration (another replica count) replaces the running one
  haproxy -D -f "$topo_state/haproxy/haproxy.cfg" -sf "$(cat "$topo_state/haproxy/haproxy.pid")" >>"$topo_state/haproxy/haproxy.log" 2>&1
else
  topo_say "starting HAProxy"
  haproxy -D -f "$topo_state/haproxy/haproxy.cfg" >>"$topo_state/haproxy/haproxy.log" 2>&1
fi
wait_for 30 "HAProxy to route to a healthy replica" http_ok "http://127.0.0.1:$port_haproxy_admin/health"

cat >&2 <<EOF
topology: up in $((SECONDS - started_at)) s
  devices, TLS passthrough   https://127.0.0.1:$port_haproxy_passthrough   (mTLS ends at the replicas)
  devices, TLS at HAProxy    https://127.0.0.1:$port_haproxy_terminate   (client certificate forwarded)
  admin API and console      http://127.0.0.1:$port_haproxy_admin         (X-API-Key: $secrets/admin-api-key)
  HAProxy stats              http://127.0.0.1:$port_haproxy_stats/
  offloaded downloads        $([ "$offload" = 1 ] && echo "nginx https://127.0.0.1:$port_nginx/fw (signed links; images in $topo_state/artifacts)" || echo "off (the replicas stream the images)")
  replicas                   $(for n in $(seq 1 "$topo_replicas"); do printf 'r%s http %s https %s  ' "$n" "$(port_http "$n")" "$(port_https "$n")"; done)
  PostgreSQL (Patroni)       127.0.0.1:$(port_pg 1) and :$(port_pg 2), primary: node $(primary_node); REST :$(port_patroni 1) :$(port_patroni 2)
  etcd                       127.0.0.1:$port_etcd
  fleet CA, server certificate, passwords: $secrets (git-ignored); logs: $topo_state/*/
  stop everything: PAKU_TOPO_STATE=$topo_state PAKU_TOPO_PORT_BASE=$topo_base deploy/local/down.sh
EOF
