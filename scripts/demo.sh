#!/usr/bin/env bash
# Runs the three parties natively, each under gunicorn with 2+ workers, on the
# documented ports. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."

AUTH_PORT=${AUTH_PORT:-9000}
CLIENT_PORT=${CLIENT_PORT:-3000}
API_PORT=${API_PORT:-8000}
# DEMO ONLY: the flow inspector shows the signed-in user their own tokens, in their own
# browser (they are the lesson); the client's secret is never shown. false keeps them
# on the server (client_app's default).
export INSPECTOR_SHOWS_TOKENS=${INSPECTOR_SHOWS_TOKENS:-true}
# The client's profiles, chosen on its home page for each login: classic (notes-classic,
# no PAR), par (notes-web, the default: PROFILE=par) and fapi2 (notes-fapi, FAPI 2.0:
# private_key_jwt, a signed request object through PAR, DPoP-bound tokens).
# The client makes its fapi2 key pairs at first start and serves the public one at
# http://localhost:3000/.well-known/jwks.json, where the AS fetches it; on another
# CLIENT_PORT, also set NOTES_FAPI_JWKS_URI and NOTES_WEB_REDIRECT_URI for the AS.
pids=()

# start NAME PORT: one service under gunicorn, its log lines prefixed with its name.
start() {
  local name=$1 port=$2
  PORT=$port PYTHONUNBUFFERED=1 .venv/bin/gunicorn -c "$name/gunicorn.conf.py" "$name:create_app()" \
    > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}

stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping the three services..."
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# wait_for NAME URL: poll until the service answers (gunicorn has started its workers).
wait_for() {
  for _ in $(seq 1 100); do
    if curl -fs -o /dev/null "$2"; then return 0; fi
    sleep 0.2
  done
  echo "$1 did not start; see its log lines above" >&2
  exit 1
}

# A port already taken (an earlier `make demo` still running) would make the health
# checks below answer for the old services: say so and stop instead.
for port in "$AUTH_PORT" "$API_PORT" "$CLIENT_PORT"; do
  if curl -s -o /dev/null "http://localhost:$port/"; then
    echo "Port $port is already in use (is another \`make demo\` running?); stop it first." >&2
    exit 1
  fi
done

start auth_server "$AUTH_PORT"
wait_for auth_server "http://localhost:$AUTH_PORT/.well-known/openid-configuration"
start notes_api "$API_PORT"
start client_app "$CLIENT_PORT"
wait_for notes_api "http://localhost:$API_PORT/healthz"
wait_for client_app "http://localhost:$CLIENT_PORT/healthz"

cat <<MSG

  PAR Lab is running. Open the client in a browser and log in as alice / alice:

    client_app   (the notes app)       http://localhost:$CLIENT_PORT
    auth_server  (the issuer)          http://localhost:$AUTH_PORT
    notes_api    (the resource server) http://localhost:$API_PORT

  Press Ctrl-C to stop all three.

MSG
wait
