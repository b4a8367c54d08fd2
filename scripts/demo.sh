#!/usr/bin/env bash
# `make demo`: click through Spotify sign-in offline. Starts the local OAuth provider from
# tests/support (a Spotify stand-in on 127.0.0.1:8766, with a generated library for "alice"
# that changes a little once a minute) and SoulSpot wired to it on 127.0.0.1:8765, with its data
# in ./data-demo. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
APP_PORT=${DEMO_PORT:-8765}
IDP_PORT=${DEMO_PROVIDER_PORT:-8766}
IDP="http://127.0.0.1:${IDP_PORT}"
LIBRARY_SEED=${DEMO_LIBRARY_SEED:-7}
MUTATE_EVERY=${DEMO_MUTATE_EVERY:-60}
LIBRARY_SCALE=${DEMO_LIBRARY_SCALE:-1}

"$BIN/python" tests/support/oauth_provider.py --port "$IDP_PORT" --client-id soulspot-demo \
    --redirect-uri "http://127.0.0.1:${APP_PORT}/auth/callback" \
    --library-seed "$LIBRARY_SEED" --mutate-every "$MUTATE_EVERY" \
    --library-scale "$LIBRARY_SCALE" &
IDP_PID=$!
trap 'kill "$IDP_PID" 2>/dev/null || true; wait "$IDP_PID" 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 50); do  # wait for the provider to listen (at most 5 s)
    if "$BIN/python" -c "import socket,sys; socket.create_connection(('127.0.0.1', $IDP_PORT), 0.2)" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

echo "Open http://127.0.0.1:${APP_PORT}/ and sign in as alice (the provider asks who you are);"
echo "her library is synced within a minute (or press Sync now on http://127.0.0.1:${APP_PORT}/library),"
echo "then every minute, recording what changed."
SOULSPOT__KERNEL__DATA_DIR=${DEMO_DATA_DIR:-./data-demo} \
SOULSPOT__KERNEL__PORT="$APP_PORT" \
SOULSPOT__SPOTIFY__CLIENT_ID=soulspot-demo \
SOULSPOT__SPOTIFY__AUTHORIZE_URL="$IDP/authorize" \
SOULSPOT__SPOTIFY__TOKEN_URL="$IDP/api/token" \
SOULSPOT__SPOTIFY__API_BASE_URL="$IDP/v1" \
SOULSPOT__SPOTIFY__ACCOUNT_APPS_URL="$IDP/" \
SOULSPOT__LIBRARY__SYNC_SCHEDULE="${DEMO_SYNC_SCHEDULE:-* * * * *}" \
    "$BIN/soulspot" serve --host 127.0.0.1 --port "$APP_PORT"
