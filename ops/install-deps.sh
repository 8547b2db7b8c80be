#!/bin/sh
# Installs the Debian 12 packages pregon builds and tests with.
# Idempotent: does nothing when everything is there. Needs root (or sudo).
set -eu
# systemd: its systemd-analyze checks the units in test_install.py (a
# bare Debian root, as fresh-check.sh builds, has none).
PKGS="build-essential pkg-config libuv1-dev libhiredis-dev libcurl4-openssl-dev
libmosquitto-dev libsignal-protocol-c-dev libjansson-dev libinih-dev
libhttp-parser-dev libical-dev libcmocka-dev libssl-dev
redis-server redis-tools mosquitto mosquitto-clients python3 python3-redis python3-aiosmtpd
python3-paho-mqtt systemd"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; else
	echo "make deps: need root to install:$missing" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
# Debian starts redis-server and mosquitto as services on install; pregon's
# tests and `make run` start their own on free ports, so those are left alone.
