-- The hub store's database and its two roles, least privilege (docs/operations.md, "The hub
-- store's roles"). Run once, as a superuser, with psql:
--   psql -v ON_ERROR_STOP=1 -v owner=hub_owner -v runtime=hub -v database=hub \
--        -v owner_password=... -v runtime_password=... -f hub-store-roles.sql
-- :"owner" owns the database and its schema: it alone creates and changes tables, and logs in
--   only for `hub airflow-init` (HUB_STORE_OWNER_URL), which creates the store's tables.
-- :"runtime" is what DAG tasks, the `hub` command line and the webhook receiver log in as
--   (HUB_STORE_URL): it reads and writes rows of the tables the owner made and nothing else --
--   no DDL, no other database, no role or server administration.
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE :"runtime" LOGIN PASSWORD :'runtime_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
CREATE DATABASE :"database" OWNER :"owner";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"runtime";
\connect :"database"
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"runtime";
-- Rows only, on every table and sequence the owner creates from now on.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"runtime";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"runtime";
