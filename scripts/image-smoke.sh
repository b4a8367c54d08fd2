#!/usr/bin/env bash
# The container image as an operator runs it (docs/deployment.md#docker-and-compose), against a
# real Docker engine:  bash scripts/image-smoke.sh soulspot:<version>
#
# - with docker-compose.yml's hardening (read-only root, tmpfs /tmp, no capabilities,
#   no-new-privileges) and a named volume: it becomes healthy (the image's HEALTHCHECK
#   command), runs as uid 10001, cannot write outside /data and /tmp, makes a backup, and
#   stops cleanly on SIGTERM (exit 0);
# - as PUID:PGID 1234:1234 with /data and a file replica bind-mounted from the host: every
#   file it makes belongs to 1234, Litestream runs as its child, and after the container is
#   killed and the data folder emptied, `backup restore --latest` brings the database back
#   from the replica;
# - on a /data folder it cannot write: exit 2 with a message naming the uid, no traceback.
#
# No network is needed (--network none: every check runs inside the container). Exit 1 with
# the failing step named. The release workflow runs it on the image it built.
set -euo pipefail

IMAGE=${1:?usage: scripts/image-smoke.sh IMAGE}
DOCKER=${DOCKER:-docker}
NAME=soulspot-smoke-$$
VOLUME=$NAME-data
WORK=$(mktemp -d)
TMPFS="/tmp:size=64m,mode=1777"
HARDENING=(--network none --read-only --tmpfs "$TMPFS" --cap-drop ALL
           --security-opt no-new-privileges:true)

# The bind-mounted folders belong to uid 1234: changing and reading them takes root (sudo on
# a CI runner).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

cleanup() {
    "$DOCKER" rm -f "$NAME" "$NAME-b" >/dev/null 2>&1 || true
    "$DOCKER" volume rm "$VOLUME" >/dev/null 2>&1 || true
    as_root rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "image-smoke: FAILED: $*" >&2; exit 1; }
step() { echo "image-smoke: $*"; }

wait_healthy() {  # the image's own HEALTHCHECK command, inside the container
    local container=$1 check
    check=$("$DOCKER" inspect "$IMAGE" --format '{{range .Config.Healthcheck.Test}}{{.}}{{"\n"}}{{end}}')
    mapfile -t argv <<<"$check"
    [ "${argv[0]}" = CMD ] || fail "HEALTHCHECK is not an exec-form CMD"
    for _ in $(seq 1 60); do
        "$DOCKER" exec "$container" "${argv[@]:1}" 2>/dev/null && return 0
        sleep 0.5
    done
    "$DOCKER" logs "$container" >&2 || true
    fail "$container did not become healthy in 30 s"
}

label=$("$DOCKER" inspect "$IMAGE" --format '{{index .Config.Labels "org.opencontainers.image.version"}}')
version=$("$DOCKER" run --rm --network none "$IMAGE" --version | awk '{print $NF}')
if [ -z "$label" ] || [ "$label" != "$version" ]; then
    fail "label version '$label' != soulspot --version '$version'"
fi
step "label and soulspot --version agree: $version"

# --- the defaults: named volume, the image's user -------------------------------------------
"$DOCKER" run -d --name "$NAME" "${HARDENING[@]}" -v "$VOLUME:/data" "$IMAGE" >/dev/null
wait_healthy "$NAME"
[ "$("$DOCKER" exec "$NAME" id -u)" = 10001 ] || fail "the default user is not 10001"
for path in /app/x /usr/local/x /etc/x; do
    if "$DOCKER" exec "$NAME" touch "$path" 2>/dev/null; then fail "could write $path"; fi
done
"$DOCKER" exec "$NAME" soulspot backup create >/dev/null || fail "backup create"
"$DOCKER" exec "$NAME" sh -c 'ls /data/backups/*.tar' >/dev/null || fail "no archive in /data/backups"
"$DOCKER" stop -t 30 "$NAME" >/dev/null
code=$("$DOCKER" inspect "$NAME" --format '{{.State.ExitCode}}')
[ "$code" = 0 ] || fail "SIGTERM ended serve with exit code $code"
"$DOCKER" logs "$NAME" 2>&1 | tail -n 1 | grep -q '"event": "stopped"' || fail "no clean stop line"
step "defaults: healthy as uid 10001, read-only outside /data and /tmp, backup made, clean stop"

# --- PUID/PGID with bind mounts and a file replica ------------------------------------------
mkdir -p "$WORK/data" "$WORK/replica"
as_root chown 1234:1234 "$WORK/data" "$WORK/replica"
as_root chmod 0700 "$WORK/data"
as_owner=("${HARDENING[@]}" --user 1234:1234 -v "$WORK/data:/data" -v "$WORK/replica:/replica"
          -e SOULSPOT__REPLICATION__REPLICA_URL=file:///replica)
"$DOCKER" run -d --name "$NAME-b" "${as_owner[@]}" "$IMAGE" >/dev/null
wait_healthy "$NAME-b"
for _ in $(seq 1 60); do
    as_root test -d "$WORK/replica/ltx" && break
    sleep 0.5
done
as_root test -d "$WORK/replica/ltx" || fail "Litestream wrote nothing to the replica"
"$DOCKER" logs "$NAME-b" 2>&1 | grep -q '"event": "litestream started"' || fail "Litestream did not start"
foreign=$(as_root find "$WORK/data" "$WORK/replica" ! -uid 1234 -print -quit)
[ -z "$foreign" ] || fail "$foreign is not owned by 1234"
"$DOCKER" exec "$NAME-b" soulspot backup restore --latest --dry-run >/dev/null || fail "restore --dry-run"
"$DOCKER" kill -s KILL "$NAME-b" >/dev/null
as_root find "$WORK/data" -mindepth 1 -delete
"$DOCKER" run --rm "${as_owner[@]}" "$IMAGE" backup restore --latest --yes >/dev/null \
    || fail "backup restore --latest from the replica"
as_root test -s "$WORK/data/soulspot.db" || fail "no database after the restore"
[ "$(as_root stat -c %u "$WORK/data/soulspot.db")" = 1234 ] || fail "the restored database is not 1234's"
step "PUID/PGID 1234: bind-mounted /data and replica owned by 1234, restored from the replica"

# --- a folder the user cannot write: a clear refusal, no traceback --------------------------
mkdir -p "$WORK/theirs"
as_root chown 0:0 "$WORK/theirs"
as_root chmod 0700 "$WORK/theirs"
set +e
refusal=$("$DOCKER" run --rm "${HARDENING[@]}" --user 1234:1234 -v "$WORK/theirs:/data" "$IMAGE" 2>&1)
code=$?
set -e
[ "$code" = 2 ] || fail "serve on a folder it cannot write exited $code, not 2"
grep -q "not writable by uid 1234" <<<"$refusal" || fail "no clear refusal: $refusal"
if grep -q Traceback <<<"$refusal"; then fail "a traceback: $refusal"; fi
step "a /data it cannot write: exit 2, 'not writable by uid 1234', no traceback"
step "passed"
