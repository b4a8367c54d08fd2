#!/usr/bin/env bash
# Debian packages the test suite needs: chromium (browser tests), prometheus (promtool),
# sqlite3 (benchmark baseline), systemd (systemd-analyze checks the service unit;
# systemd-socket-activate hands the listening socket over in the restart tests), jq (the
# log recipes of the docs are run as written).
# Installs only what is missing; needs root or sudo.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v systemd-socket-activate >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
mapfile -t need < <(printf "%s\n" "${need[@]}" | sort -u)
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
