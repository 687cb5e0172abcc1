-- Roles and database for csplatform. Run once, as a superuser, on an empty
-- server (docker-compose runs it through postgres-init.sh on first start):
--   psql -v owner_password=... -v app_password=... -f deploy/postgres-init.sql
--
-- csp_owner owns the database and every table; only migrations use it.
-- csp_app serves requests and tasks: no superuser, no BYPASSRLS, owns nothing,
-- so the forced row-level-security policies apply to every query it makes.
\set ON_ERROR_STOP on

CREATE ROLE csp_owner LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEROLE NOCREATEDB;
CREATE ROLE csp_app LOGIN PASSWORD :'app_password' NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB;

CREATE DATABASE csplatform OWNER csp_owner;
REVOKE ALL ON DATABASE csplatform FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE csplatform TO csp_owner, csp_app;

\connect csplatform
-- The app role may use the schema but not create objects in it; table
-- privileges are granted by `manage.py migrate` (post_migrate) after each run.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO csp_app;
