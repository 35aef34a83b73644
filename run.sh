#!/usr/bin/env bash
# Runs the service on http://localhost:8080 (and https://localhost:8443 for devices with certificates).
# Without ConnectionStrings__Ota it starts a private PostgreSQL under .local/pg and uses that;
# migrations are applied at start-up; the development profile makes its own CA, certificates and API key.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$repo"
if [ -z "${ConnectionStrings__Ota:-}" ]; then
  ConnectionStrings__Ota=$(scripts/pg-start.sh)
  export ConnectionStrings__Ota
  echo "run.sh: using the private PostgreSQL cluster: $ConnectionStrings__Ota"
fi
export ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development}
export Ota__Database__MigrateOnStart=${Ota__Database__MigrateOnStart:-true}
dotnet build src/Paku.Ota.Api -c Release -nologo -v q -clp:ErrorsOnly
out=$repo/src/Paku.Ota.Api/bin/Release/net10.0
export Ota__Development__Directory=${Ota__Development__Directory:-$repo/.local/dev}
exec dotnet "$out/Paku.Ota.Api.dll" serve --contentRoot "$out" "$@"
