#!/usr/bin/env bash
# Renders nginx.conf.in into PREFIX/nginx.conf for nginx serving offloaded firmware images.
#   deploy/nginx/render.sh PREFIX LISTEN ARTIFACT_ROOT SECRET_FILE [TLS_CERT TLS_KEY]
# PREFIX        a directory of its own for the rendered config, pid, logs and temp files
# LISTEN        what nginx listens on, e.g. 127.0.0.1:18370
# ARTIFACT_ROOT the service's Ota:Artifacts:Directory (absolute)
# SECRET_FILE   a file holding the service's Ota:Offload:Secret (32+ characters of A-Z a-z 0-9 _ -)
# TLS_CERT/KEY  optional: serve HTTPS with this certificate chain and key (PEM); devices that talk https to
#               the service follow only an https link
# Then: nginx -c PREFIX/nginx.conf -p PREFIX -e PREFIX/error.log   (runs in the foreground)
set -euo pipefail
[ $# -eq 4 ] || [ $# -eq 6 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prefix=$1 listen=$2 root=$3 secret_file=$4 cert=${5:-} key=${6:-}
case $root in /*) ;; *) echo "render.sh: ARTIFACT_ROOT must be absolute: $root" >&2; exit 2 ;; esac
secret=$(tr -d '\r\n' <"$secret_file")
if ! [[ $secret =~ ^[A-Za-z0-9_-]{32,}$ ]]; then
  echo "render.sh: the secret in $secret_file must be 32 or more characters of A-Z a-z 0-9 _ -" >&2
  exit 2
fi
mkdir -p "$prefix/tmp"
prefix=$(cd "$prefix" && pwd)
# run as whoever starts it; as root nginx would otherwise hand its workers to 'nobody'
user_line="# not root: nginx runs as $(id -un)"
[ "$(id -u)" != 0 ] || user_line="user root;"
tls="# plain HTTP (render.sh without TLS_CERT TLS_KEY)"
if [ -n "$cert" ]; then
  listen="$listen ssl"
  tls="ssl_certificate $cert; ssl_certificate_key $key; ssl_protocols TLSv1.2 TLSv1.3;"
fi
umask 077
sed -e "s|@PREFIX@|$prefix|g" -e "s|@LISTEN@|$listen|g" -e "s|@ROOT@|$root|g" -e "s|@TLS@|$tls|" \
    -e "s|@SECRET@|$secret|g" -e "s|@USER_LINE@|$user_line|" "$here/nginx.conf.in" >"$prefix/nginx.conf"
echo "$prefix/nginx.conf"
