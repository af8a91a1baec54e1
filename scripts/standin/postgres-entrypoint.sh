#!/bin/bash
# The stand-in postgres image's start-up (postgres.Dockerfile): on an empty data
# folder, create the cluster, the user and the database the way the official image
# does, then run the server as the `postgres` user on every interface.
set -euo pipefail

user=${POSTGRES_USER:-postgres}
database=${POSTGRES_DB:-$user}
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD, as the official image requires}"
as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups)

install -d -o postgres -g postgres -m 700 "$PGDATA"
install -d -o postgres -g postgres /run/postgresql

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  password_file=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
  chown postgres "$password_file"
  # Trust on the socket inside the container, passwords over the network.
  "${as_postgres[@]}" initdb -D "$PGDATA" -U "$user" --pwfile="$password_file" -E UTF8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$database" != postgres ]; then
    # Single-user mode: no server listens while the database is made.
    echo "CREATE DATABASE \"$database\" OWNER \"$user\";" \
      | "${as_postgres[@]}" postgres --single -D "$PGDATA" -j postgres >/dev/null
  fi
  echo "postgres-entrypoint: created user $user and database $database in $PGDATA"
fi

exec "${as_postgres[@]}" postgres -D "$PGDATA" -c listen_addresses='*' "$@"
