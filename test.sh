#!/usr/bin/env bash
# Runs every test suite of the project against real parts: a private PostgreSQL (started here),
# real HTTP and TLS, and the C client's CTest suite. Ends with one line: "N passed, M failed".
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$repo"
results=$repo/.local/test-results
rm -rf "$results" && mkdir -p "$results"

passed=0; failed=0; broken=()

# 0. Debian packages the suites need (only those missing).
scripts/install-test-deps.sh || broken+=("installing test dependencies")

# 1. PostgreSQL: the private cluster (or PAKU_TEST_PG when it points at another server).
if [ -z "${PAKU_TEST_PG:-}" ]; then
  cs=$(scripts/pg-start.sh) || { echo "test.sh: could not start PostgreSQL"; echo "0 passed, 1 failed"; exit 1; }
  export PAKU_TEST_PG=${cs%;Database=*}
fi

# 2. .NET suites (NUnit), one TRX file per test project.
if dotnet build Paku.Ota.sln -c Release -nologo -v q -clp:ErrorsOnly; then
  dotnet test Paku.Ota.sln -c Release --no-build --nologo \
    --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results/dotnet" || broken+=("dotnet test")
  for trx in "$results"/dotnet/*.trx; do
    [ -f "$trx" ] || continue
    counters=$(grep -o '<Counters [^>]*>' "$trx")
    p=$(sed -E 's/.* passed="([0-9]+)".*/\1/' <<<"$counters")
    f=$(sed -E 's/.* failed="([0-9]+)".*/\1/' <<<"$counters")
    e=$(sed -E 's/.* error="([0-9]+)".*/\1/' <<<"$counters")
    passed=$((passed + p)); failed=$((failed + f + e))
  done
else
  broken+=("dotnet build")
fi

# 3. The C client (CTest + cmocka): installs its Debian packages when missing.
if [ -x esp-idf-client/scripts/test.sh ]; then
  esp-idf-client/scripts/test.sh 2>&1 | tee "$results/ctest.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || broken+=("esp-idf-client tests")
  summary=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$results/ctest.log" | tail -1)
  if [ -n "$summary" ]; then
    f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
    t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$summary")
    # a skipped case (e.g. no ESP-IDF headers or cross compiler here) is in ctest's total
    # but proves nothing: it is not counted as passed
    s=$(grep -cE '^[[:space:]]*[0-9]+ - .* \(Skipped\)$' "$results/ctest.log")
    [ "$s" -eq 0 ] || echo "test.sh: $s C test(s) skipped, not counted as passed"
    passed=$((passed + t - f - s)); failed=$((failed + f))
  fi
fi

# suite LABEL SCRIPT...: runs a shell suite that ends with "LABEL: N passed, M failed" and counts it;
# a suite that ends without that line counts as one failure.
suite() {
  local label=$1 log summary
  shift
  log="$results/$label.log"
  "$@" 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || broken+=("$label")
  summary=$(grep -E "^$label: [0-9]+ passed, [0-9]+ failed" "$log" | tail -1)
  if [ -n "$summary" ]; then
    passed=$((passed + $(sed -E "s/^$label: ([0-9]+) passed.*/\1/" <<<"$summary")))
    failed=$((failed + $(sed -E "s/^$label: [0-9]+ passed, ([0-9]+) failed.*/\1/" <<<"$summary")))
  else
    failed=$((failed + 1))
  fi
}

# 4. The deployment stack: Prometheus rules (promtool), configuration files, image/compose wiring.
[ -x deploy/test.sh ] && suite deploy deploy/test.sh

# 5. The reference topology (etcd, Patroni + two PostgreSQL, two replicas, HAProxy) under the short
#    fault test: a replica and the PostgreSQL primary are killed under device traffic (about 3 min).
[ -x deploy/local/fault-test.sh ] && suite topology deploy/local/fault-test.sh

if [ ${#broken[@]} -gt 0 ]; then
  echo "test.sh: failed steps: ${broken[*]}"
  [ "$failed" -gt 0 ] || failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
