#!/usr/bin/env bash
# Runs Docker Compose with the given arguments: Compose v2 (`docker compose`) if it is
# installed, else Compose v1 (`docker-compose`, Debian's package). docker-compose.yml
# works with both.
set -euo pipefail
cd "$(dirname "$0")/.."

if docker compose version >/dev/null 2>&1; then
  exec docker compose "$@"
elif command -v docker-compose >/dev/null; then
  exec docker-compose "$@"
fi
echo "compose: neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed." >&2
echo "compose: install Docker (https://docs.docker.com/get-docker/) or, on Debian, 'apt-get install docker.io docker-compose'." >&2
exit 1
