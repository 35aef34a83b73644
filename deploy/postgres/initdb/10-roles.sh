#!/usr/bin/env bash
# Run by the postgres image once, when it initialises an empty data volume (files in
# /docker-entrypoint-initdb.d). Creates:
#   OTA_DB_USER      the service's role: owns database POSTGRES_DB, so the `migrate` service can
#                    create the schema in it; not a superuser.
#   GRAFANA_DB_USER  Grafana's role: may connect and SELECT the tables the service creates, nothing else.
# For a database that already exists, run the same statements by hand (see deploy/README.md).
set -euo pipefail
: "${POSTGRES_DB:?}" "${OTA_DB_USER:?}" "${OTA_DB_PASSWORD:?}" "${GRAFANA_DB_USER:?}" "${GRAFANA_DB_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname "$POSTGRES_DB" \
  --set=db="$POSTGRES_DB" \
  --set=ota_user="$OTA_DB_USER" --set=ota_password="$OTA_DB_PASSWORD" \
  --set=reader="$GRAFANA_DB_USER" --set=reader_password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE :"ota_user" LOGIN PASSWORD :'ota_password';
-- The database owner owns schema public (pg_database_owner, PostgreSQL 15+) and may create in it.
ALTER DATABASE :"db" OWNER TO :"ota_user";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;

CREATE ROLE :"reader" LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
-- tables that the migrations create later, as the service's role
ALTER DEFAULT PRIVILEGES FOR ROLE :"ota_user" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
ALTER ROLE :"reader" SET default_transaction_read_only = on;
SQL
