#!/usr/bin/env bash
# Rules of the device code that a compiler cannot see, checked in the sources:
#  - no 64-bit printf/scanf conversions in the core or the ESP-IDF port:
#    newlib-nano (the default libc of the ESP32-C2 and a common size option
#    elsewhere) has none, so "%llu" prints garbage there; use paku_ota_u64_str;
#  - the component never erases an NVS partition: it holds the application's
#    data (Wi-Fi credentials ...) too;
#  - no deprecated ESP-IDF call without a version guard is enforced by the
#    real-header compile checks (-Werror=deprecated-declarations), not here.
set -euo pipefail
root="${1:?usage: check-portability.sh COMPONENT_DIR}"
fail=0
device_sources=("$root/src/core" "$root/src/port/esp_idf")
if hits=$(grep -rnE '%(ll|j|q|L)[diouxX]|PRI[diouxX](64|MAX)|SCN[diouxX]64|strto(u)?ll|strtoimax|strtoumax' \
            "${device_sources[@]}" --include='*.c' --include='*.h'); then
  echo "64-bit printf/scanf in device code (use paku_ota_u64_str):"
  echo "$hits"
  fail=1
fi
if hits=$(grep -rnE '\bnvs_flash_erase(_partition)?\b' "$root/src" --include='*.c'); then
  echo "the component must never erase NVS:"
  echo "$hits"
  fail=1
fi
[ "$fail" -eq 0 ] && echo "device code: no 64-bit printf/scanf, no NVS erase"
exit "$fail"
