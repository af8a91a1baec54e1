#!/usr/bin/env bash
# `make up` and `make up-scale`: build the images and start the stack of a compose file
# (docker-compose.yml unless one is named) with Docker Compose v2, which waits until
# every container's healthcheck passes; then print where to go.
#
#   scripts/up.sh                              # docker-compose.yml
#   scripts/up.sh docker-compose.scale.yml     # the scaled-out stack
set -euo pipefail
cd "$(dirname "$0")/.."

file=${1:-docker-compose.yml}
AUTH_PORT=${AUTH_PORT:-9000}
CLIENT_PORT=${CLIENT_PORT:-3000}
API_PORT=${API_PORT:-8000}

if ! docker compose version >/dev/null 2>&1; then
  echo "up: this needs Docker Compose v2 ('docker compose'); see docs/docker.md." >&2
  exit 1
fi

if ! docker compose -f "$file" up --detach --build --wait --wait-timeout 120; then
  docker compose -f "$file" logs --tail=30 >&2
  exit 1
fi

cat <<MSG

  PAR Lab is running in Docker. Open the client in a browser and log in as alice / alice:

    client_app   (the notes app)       http://localhost:$CLIENT_PORT
    auth_server  (the issuer)          http://localhost:$AUTH_PORT
    notes_api    (the resource server) http://localhost:$API_PORT

MSG
if [ "$file" = docker-compose.scale.yml ]; then
  cat <<MSG
  The issuer is three auth_server replicas on PostgreSQL, taking turns behind nginx.
  Watch them: docker compose -f $file logs -f auth_proxy
  (each line ends with the replica that served it)     Stop: make down-scale

MSG
else
  cat <<MSG
  Logs: docker compose logs -f     Stop: make down (your notes stay on the volumes)

MSG
fi
