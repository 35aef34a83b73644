#!/usr/bin/env bash
# Installs the Debian packages the test suites need, only those that are missing:
# Prometheus (promtool for the alert rules, the server for the scrape test), strace (key-file modes), nginx,
# chromium (the console's browser tests drive it through Playwright, whose own browser download is not
# used) and the C client's build dependencies (mbedTLS, cJSON, libcurl, cmocka). PostgreSQL is handled
# by scripts/pg-start.sh.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
python3 -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
[ -n "${PAKU_CHROMIUM:-}" ] || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v strace >/dev/null 2>&1 || missing+=(strace)   # the key-file mode tests watch the verbs create their files
# the offloaded-download tests run Debian's nginx (secure_link module) with deploy/nginx's configuration
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# the packaged Prometheus and nginx services are not wanted: tests start their own on loopback ports
for unit in prometheus nginx; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$unit" 2>/dev/null; then
    systemctl stop "$unit" || true
  fi
done
bash "$repo/esp-idf-client/scripts/install-host-deps.sh"
