#!/bin/sh
# First start: a cluster in $PGDATA (local socket: trust, so that `docker compose exec postgres
# pg_dump` needs no password; TCP: scram-sha-256), then the platform's role and database.
# Later starts: only the server.
set -eu
: "${POSTGRES_USER:=drydock}" "${POSTGRES_DB:=drydock}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "drydock-postgres: POSTGRES_PASSWORD is empty; set it (see .env.example)" >&2
        exit 2
    fi
    initdb -D "$PGDATA" -U postgres -E UTF8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    password=$(printf '%s' "$POSTGRES_PASSWORD" | sed "s/'/''/g")
    postgres --single -D "$PGDATA" postgres >/dev/null <<SQL
CREATE ROLE "$POSTGRES_USER" LOGIN PASSWORD '$password';
SQL
    postgres --single -D "$PGDATA" postgres >/dev/null <<SQL
CREATE DATABASE "$POSTGRES_DB" OWNER "$POSTGRES_USER";
SQL
    echo "drydock-postgres: cluster created, role $POSTGRES_USER, database $POSTGRES_DB"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/run/postgresql "$@"
