#!/bin/sh
# Installs the Debian 12 packages pregon builds and runs with (`run`: what
# `make run` needs: the compiler, the libraries' headers, Redis for the
# demo) and, by default (`test`), what the tests add: cmocka, mosquitto
# and the Python clients. `--list run|test` prints the packages and exits.
# Idempotent: does nothing when everything is there. Needs root (or sudo).
set -eu
RUN_PKGS="build-essential pkg-config libuv1-dev libhiredis-dev libcurl4-openssl-dev
libmosquitto-dev libjansson-dev libinih-dev libhttp-parser-dev libical-dev libssl-dev
libsignal-protocol-c-dev redis-server redis-tools python3-yaml"
# python3-yaml: the build turns docs/openapi.yaml into the JSON pregond
# serves (tools/openapi_embed.py).
# libsignal-protocol-c-dev: pregond links it for [signal] provider native
# (its runtime library, libsignal-protocol-c2.3.2 in Debian 12, comes with it).
# python3-jsonschema: test_api.py checks every answer against docs/openapi.yaml.
# systemd: its systemd-analyze checks the units in test_install.py (a
# bare Debian root, as fresh-check.sh builds, has none); procps: /bin/kill,
# the units' ExecReload, which systemd-analyze verify insists exists.
# chromium: the browser test_dashboard.py drives with playwright-core
# (tests/node), rather than a browser Playwright would download.
TEST_PKGS="libcmocka-dev mosquitto mosquitto-clients python3
python3-redis python3-aiosmtpd python3-paho-mqtt python3-jsonschema systemd procps chromium"
list=no
if [ "${1:-}" = "--list" ]; then list=yes; shift; fi
case "${1:-test}" in
run) PKGS="$RUN_PKGS" ;;
test) PKGS="$RUN_PKGS $TEST_PKGS" ;;
*) echo "usage: install-deps.sh [--list] [run|test]" >&2; exit 2 ;;
esac
if [ "$list" = yes ]; then
	# shellcheck disable=SC2086
	printf '%s\n' $PKGS
	exit 0
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
# The tests' npm packages (tests/node: the OpenAPI linter) want node and
# npm; a node already installed (NodeSource, say) is used as it is.
if [ "${1:-test}" = test ] && ! command -v npm >/dev/null; then
	missing="$missing nodejs npm"
fi
if [ -n "$missing" ]; then
	echo "installing:$missing"
	if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; else
		echo "make deps: need root to install:$missing" >&2; exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing
fi
if [ "${1:-test}" = test ]; then
	# Pinned by tests/node/package-lock.json; install scripts are not run.
	node_dir="$(dirname "$0")/../tests/node"
	if [ ! -x "$node_dir/node_modules/.bin/spectral" ] ||
	   [ ! -d "$node_dir/node_modules/playwright-core" ] ||
	   [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules" ]; then
		npm ci --prefix "$node_dir" --ignore-scripts --no-audit --no-fund --loglevel=error ||
			echo "make deps: npm ci in tests/node failed: the OpenAPI lint and dashboard tests will be skipped" >&2
	fi
fi
# Debian starts redis-server and mosquitto as services on install; pregon's
# tests and `make run` start their own on free ports, so those are left alone.
exit 0
