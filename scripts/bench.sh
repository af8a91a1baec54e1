#!/usr/bin/env bash
# What `make bench` runs: installs the load generator and the peer if missing, then
# bench/run.py (about 10 minutes on 2 CPUs; the soak sends 100,000 pushed requests).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
  else echo "bench needs wrk: sudo apt-get install wrk" >&2; exit 1; fi
fi
command -v node >/dev/null || { echo "bench needs Node 20+ (the oidc-provider peer)" >&2; exit 1; }
[ -d tests/interop/node_modules ] || npm ci --prefix tests/interop --no-audit --no-fund
exec .venv/bin/python -m bench.run "$@"
