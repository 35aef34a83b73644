#!/usr/bin/env bash
# Configures, builds and tests the host side of esp-idf-client:
#   - out of tree in esp-idf-client/build/
#   - warnings are errors (-Wall -Wextra ... -Werror)
#   - AddressSanitizer + UndefinedBehaviorSanitizer on every target
#     (set PAKU_OTA_SANITIZE=OFF to build without them)
#   - ctest --output-on-failure
# The last line printed is ctest's own summary
# ("100% tests passed, 0 tests failed out of N"); the exit code is non-zero
# on any configure, build or test failure.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$here/build"
sanitize="${PAKU_OTA_SANITIZE:-ON}"
jobs="$(nproc 2>/dev/null || echo 2)"

if ! "$here/scripts/install-host-deps.sh"; then
  echo "test.sh: installing the host packages failed" >&2
  exit 1
fi

if ! cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
      -DPAKU_OTA_WERROR=ON -DPAKU_OTA_SANITIZE="$sanitize"; then
  echo "test.sh: configure failed" >&2
  exit 1
fi
if ! cmake --build "$build" -j"$jobs"; then
  echo "test.sh: build failed" >&2
  exit 1
fi

log="$build/ctest.log"
(cd "$build" && ctest --output-on-failure -j"$jobs") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

summary="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)"
if [[ -z "$summary" ]]; then
  echo "test.sh: ctest printed no summary" >&2
  exit 1
fi
echo
echo "$summary"
exit "$rc"
