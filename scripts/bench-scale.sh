#!/usr/bin/env bash
# What `make bench-scale` runs: the scaled-out stack (docker-compose.scale.yml) in
# Docker, three auth_server replicas measured against one on the same PostgreSQL
# (bench/scale.py, a few minutes on 2 CPUs). Needs wrk, Docker and Compose v2.
#
# As root on a machine that reaches no registry (CI's kind), it sets Docker up as
# .ci/run does (scripts/ci-docker.sh): the engine and Compose v2 if missing, a dockerd
# of its own if none answers (stopped again on exit), and local stand-ins for the
# official images. Elsewhere it uses the engine and images you have.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "bench-scale needs wrk: sudo apt-get install wrk" >&2; exit 1; }
# shellcheck source=scripts/ci-docker.sh
source scripts/ci-docker.sh
trap dockerd_stop EXIT
if [ "$(id -u)" = 0 ]; then
  docker_packages
  compose_plugin .venv/bin/python
  dockerd_start
fi
docker compose version >/dev/null 2>&1 || { echo "bench-scale needs Docker Compose v2; see docs/docker.md" >&2; exit 1; }
# No registry (python:3.12-slim neither here nor reachable): build the stand-ins.
if [ -z "${BASE_IMAGE:-}" ] && ! docker image inspect python:3.12-slim >/dev/null 2>&1 \
   && ! timeout 20 docker pull --quiet python:3.12-slim >/dev/null 2>&1; then
  BASE_IMAGE=$(standin_base_image)
  POSTGRES_IMAGE=$(standin_image postgres "$BASE_IMAGE")
  PROXY_IMAGE=$(standin_image nginx "$BASE_IMAGE")
  export BASE_IMAGE POSTGRES_IMAGE PROXY_IMAGE
fi
.venv/bin/python -m bench.scale "$@"
