#!/usr/bin/env bash
# Upgrade the Docker Compose service to a new image, rolling back by itself on failure
# (docs/operations/upgrade.md, "Automatic upgrade (Docker Compose)").
#
#   deploy/compose-upgrade.sh soulspot:1.3.0        # run next to docker-compose.yml
#
# The image in use is SOULSPOT_IMAGE in .env (docker-compose.yml: image: ${SOULSPOT_IMAGE}).
# Steps: verified backup + schema record with the running container, new tag into .env,
# `docker compose up -d`, wait until /health/ready answers with /health naming the new
# version (and the container is not restarting over and over). On failure: stop, downgrade
# the schema with the NEW image (or restore the pre-upgrade backup when that cannot run), put
# the old tag back, start, check, and record deploy.rolled_back with `soulspot deploy record`.
# Exit 0 upgraded, 1 rolled back, 2 refused (nothing changed), 3 the rollback failed too.
#
# NOT TESTED against a Docker engine: the machine the test suite runs on has none; the suite
# only checks this file's syntax (bash -n). Try it on a staging copy of the volume first.
set -euo pipefail

new_image=${1:?usage: deploy/compose-upgrade.sh NEW_IMAGE (e.g. soulspot:1.3.0)}
ready_timeout=${SOULSPOT_UPGRADE_READY_TIMEOUT:-120}
settle=${SOULSPOT_UPGRADE_SETTLE:-10}
max_restarts=${SOULSPOT_UPGRADE_MAX_RESTARTS:-3}
env_file=.env
old_image=$(sed -n 's/^SOULSPOT_IMAGE=//p' "$env_file" 2>/dev/null | tail -n 1)
old_image=${old_image:-soulspot:latest}
record="upgrades/$(date -u +%Y%m%dT%H%M%SZ)-compose"
mkdir -p "$record"

say() {
  echo "compose-upgrade: $*" >&2
  printf '%s %s\n' "$(date -u +%FT%TZ)" "$*" >>"$record/upgrade.log"
}
in_service() { docker compose exec -T soulspot soulspot "$@"; }
with_image() {
  local image=$1
  shift
  SOULSPOT_IMAGE=$image docker compose run --rm -T --no-deps soulspot "$@"
}
image_version() { with_image "$1" --version | awk '{print $NF}'; }
set_image() {
  if grep -q '^SOULSPOT_IMAGE=' "$env_file" 2>/dev/null; then
    sed -i "s|^SOULSPOT_IMAGE=.*|SOULSPOT_IMAGE=$1|" "$env_file"
  else
    echo "SOULSPOT_IMAGE=$1" >>"$env_file"
  fi
}
restarts() {
  local id
  id=$(docker compose ps -q soulspot)
  if [ -n "$id" ]; then docker inspect -f '{{.RestartCount}}' "$id"; else echo 0; fi
}
probe() {
  # ready, and /health names the expected version (not an older container still answering)
  docker compose exec -T soulspot python -c '
import json, sys, urllib.request as u
health = json.load(u.urlopen("http://127.0.0.1:8765/health", timeout=4))
u.urlopen("http://127.0.0.1:8765/health/ready", timeout=4).close()
sys.exit(health["versions"]["soulspot"] != sys.argv[1])' "$1" >/dev/null 2>&1
}
wait_ready() {
  local version=$1 base deadline ready_since=""
  base=$(restarts)
  deadline=$((SECONDS + ready_timeout))
  while ((SECONDS < deadline)); do
    if (($(restarts) - base >= max_restarts)); then
      say "version $version crash-loops"
      return 1
    fi
    if probe "$version"; then
      ready_since=${ready_since:-$SECONDS}
      if ((SECONDS - ready_since >= settle)); then return 0; fi
    elif [ -n "$ready_since" ]; then
      say "version $version was ready, then not"
      return 1
    fi
    sleep 2
  done
  say "version $version not ready within ${ready_timeout}s"
  return 1
}

old_version=$(image_version "$old_image") || { say "refused: cannot run $old_image"; exit 2; }
new_version=$(image_version "$new_image") || { say "refused: cannot run $new_image"; exit 2; }
if ! probe "$old_version"; then
  say "refused: the current version $old_version is not ready; fix that first"
  exit 2
fi
say "upgrading $old_version ($old_image) -> $new_version ($new_image)"
if ! backup_id=$(in_service backup create | tail -n 1) ||
  ! in_service db status --json >"$record/schema-before-upgrade.json"; then
  say "refused: the pre-upgrade backup or the schema record failed; nothing was changed"
  exit 2
fi
echo "$backup_id" >"$record/backup-before-upgrade.id"
say "pre-upgrade backup $backup_id verified; schema recorded"

set_image "$new_image"
docker compose up -d soulspot
if wait_ready "$new_version"; then
  say "UPGRADED $old_version -> $new_version"
  in_service deploy record upgraded --from "$old_version" --to "$new_version" || true
  exit 0
fi

say "rolling back to $old_version"
docker compose stop soulspot
how="the schema had not changed"
if with_image "$new_image" db status --json >"$record/schema-now.json" &&
  python3 - "$record/schema-before-upgrade.json" "$record/schema-now.json" \
    >"$record/downgrades.txt" <<'PY'
import json, sys
before = {p["plugin"]: p["applied"] for p in json.load(open(sys.argv[1]))["plugins"]}
for p in json.load(open(sys.argv[2]))["plugins"]:
    if p["applied"] > before.get(p["plugin"], 0):
        print(p["plugin"], before.get(p["plugin"], 0))
PY
then
  downgraded=yes
  while read -r plugin version; do
    with_image "$new_image" db downgrade "$plugin" "$version" --yes || downgraded=no
    how="schema downgraded with the new version's code"
  done <"$record/downgrades.txt"
else
  downgraded=no
fi
if [ "$downgraded" = no ]; then
  aside="set-aside/$(basename "$record")"
  SOULSPOT_IMAGE=$old_image docker compose run --rm -T --no-deps --entrypoint sh soulspot \
    -c "mkdir -p /data/$aside && mv /data/soulspot.db* /data/$aside/"
  with_image "$old_image" backup restore "$backup_id" --yes
  how="pre-upgrade backup $backup_id restored (newer data in the volume's $aside)"
fi
set_image "$old_image"
docker compose up -d soulspot
if wait_ready "$old_version"; then
  say "ROLLED BACK $new_version -> $old_version: $how"
  in_service deploy record rolled_back --from "$old_version" --to "$new_version" \
    --reason "$new_version did not become ready; $how" || true
  exit 1
fi
say "ROLLBACK FAILED: $old_version is not ready either; backup $backup_id, record $record"
exit 3
