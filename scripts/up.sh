#!/usr/bin/env bash
# `make up`: build the three images, start them with Compose, wait until each
# container's healthcheck passes, then print where to go.
#
# `make up-scale` runs this too, for docker-compose.scale.yml: it sets COMPOSE_FILE and
# COMPOSE_PROJECT_NAME, which both Compose versions read.
set -euo pipefail
cd "$(dirname "$0")/.."

AUTH_PORT=${AUTH_PORT:-9000}
CLIENT_PORT=${CLIENT_PORT:-3000}
API_PORT=${API_PORT:-8000}

scripts/compose.sh up -d --build

# Compose v1 has no `up --wait`: ask the engine for each container's health instead.
echo "Waiting for the healthchecks..."
for _ in $(seq 1 90); do
  states=$(scripts/compose.sh ps -q | xargs docker inspect -f '{{.Name}} {{.State.Health.Status}}')
  not_ready=$(grep -v ' healthy$' <<<"$states" || true)
  [ -z "$not_ready" ] && break
  sleep 1
done
if [ -n "$not_ready" ]; then
  echo "Not healthy after 90 s:" >&2
  echo "$not_ready" >&2
  scripts/compose.sh logs --tail=30 >&2
  exit 1
fi

cat <<MSG

  PAR Lab is running in Docker. Open the client in a browser and log in as alice / alice:

    client_app   (the notes app)       http://localhost:$CLIENT_PORT
    auth_server  (the issuer)          http://localhost:$AUTH_PORT
    notes_api    (the resource server) http://localhost:$API_PORT

MSG
if [ "${COMPOSE_FILE:-}" = docker-compose.scale.yml ]; then
  cat <<MSG
  The issuer is three auth_server replicas on PostgreSQL, taking turns behind nginx.
  Watch them: scripts/compose.sh -p $COMPOSE_PROJECT_NAME -f $COMPOSE_FILE logs -f auth_proxy
  (each line ends with the replica that served it)     Stop: make down-scale

MSG
else
  cat <<MSG
  Logs: scripts/compose.sh logs -f     Stop: make down (your notes stay on the volumes)

MSG
fi
