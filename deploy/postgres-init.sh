#!/bin/sh
# Run by the postgres image on first start (docker-entrypoint-initdb.d):
# passes the role passwords from the environment to postgres-init.sql.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$CSP_OWNER_DB_PASSWORD" \
  -v app_password="$CSP_APP_DB_PASSWORD" \
  -f /deploy/postgres-init.sql
