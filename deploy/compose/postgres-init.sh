#!/bin/sh
# First start of the postgres container only (docker-entrypoint-initdb.d): the hub store gets its
# own database beside Airflow's, owned by `hub_owner` (creates the tables: `hub airflow-init`)
# and used by `hub` (rows only) -- hub-store-roles.sql. The passwords come from the environment,
# never a file.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner=hub_owner -v runtime=hub -v database=hub \
  --set=owner_password="$HUB_STORE_OWNER_PASSWORD" --set=runtime_password="$HUB_STORE_PASSWORD" \
  -f /docker-entrypoint-initdb.d/hub-store-roles.sql.in
