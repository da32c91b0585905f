#!/usr/bin/env bash
# Run once by the postgres image on an empty data folder (/docker-entrypoint-initdb.d/): one login
# role and one database per service, each database owned by its role and closed to every other
# role, so a service cannot read another's tables. Passwords come from <SERVICE>_DB_PASSWORD.
set -euo pipefail
for service in registry metrics assessment permits; do
  var="${service^^}_DB_PASSWORD"
  password="${!var:?$var is not set}"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v name="devzones_$service" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
  echo "devzones_$service: role and database created"
done
