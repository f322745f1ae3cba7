#!/bin/sh
# First start of the postgres container only (docker-entrypoint-initdb.d): the hub store gets its
# own role and database beside Airflow's. The password comes from the environment, never a file.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=hub_password="$HUB_STORE_PASSWORD" <<'SQL'
CREATE ROLE hub LOGIN PASSWORD :'hub_password';
CREATE DATABASE hub OWNER hub;
SQL
