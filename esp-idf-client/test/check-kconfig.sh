#!/usr/bin/env bash
# Fails when the sources use a CONFIG_PAKU_OTA_* symbol Kconfig does not define.
set -euo pipefail
root="${1:?usage: check-kconfig.sh COMPONENT_DIR}"
used=$(grep -rhoE 'CONFIG_PAKU_OTA_[A-Z0-9_]+' "$root/src" "$root/include" "$root/CMakeLists.txt" | sort -u)
[ -n "$used" ] || { echo "no CONFIG_PAKU_OTA_ symbols found: wrong directory?"; exit 1; }
missing=0
for sym in $used; do
  name="${sym#CONFIG_}"
  if ! grep -qE "^[[:space:]]*config[[:space:]]+${name}\$" "$root/Kconfig"; then
    echo "missing from Kconfig: $sym"
    missing=1
  fi
done
count=$(echo "$used" | wc -l)
[ "$missing" -eq 0 ] && echo "all $count CONFIG_PAKU_OTA_* symbols are defined in Kconfig"
exit "$missing"
