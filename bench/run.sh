#!/bin/bash
# bench/run.sh: pregond on the outbox adapter beside the BullMQ peer, on one
# redis-server of its own (free loopback port, temp dir), then the ratio.
#
#   bash bench/run.sh                 N=100000, both sides
#   N=20000 SKIP_PEER=1 bash bench/run.sh
#   AOF=1 bash bench/run.sh           the same with AOF (appendfsync everysec)
#   bash bench/run.sh signal          Signal sends through the signal-cli
#                                     provider to its Python fake
#                                     (bench_signal.py; no peer)
#   bash bench/run.sh signal-native   native Signal sends to the loopback
#                                     Signal-protocol server (bench_signal_native.py)
#   bash bench/run.sh alerts          action alerts through the Twilio
#                                     adapter to an nginx mock, and the
#                                     urgent lane (bench_alerts.py)
#   bash bench/run.sh smtp            email through the SMTP provider to a
#                                     C sink, beside nodemailer (bench_smtp.py)
#
# The server runs WITHOUT AOF (appendonly no, no RDB saves) unless AOF=1:
# the peer's reference figures (../shared/bench-peers/README.md) were taken
# that way, and the comparison must not measure the disk. Production pregon
# runs with AOF; tests/integration does too. Other knobs: see bench_outbox.py.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-outbox}
case "$what" in
outbox) script=bench/bench_outbox.py ;;
alerts) script=bench/bench_alerts.py ;;
schedule) script=bench/bench_schedule.py ;;	# court reminders: N=250000 jobs (bench_schedule.py)
signal) script=bench/bench_signal.py; SKIP_PEER=1 ;;	# Signal through signal-cli's fake (bench_signal.py)
smtp) script=bench/bench_smtp.py ;;	# email: N=20000 (bench_smtp.py)
signal-native) script=bench/bench_signal_native.py; SKIP_PEER=1 ;;	# native Signal to the loopback server (N=2000 R=50)
*) echo "usage: bash bench/run.sh [outbox|alerts|schedule|smtp|signal|signal-native]" >&2; exit 2 ;;
esac

for cmd in redis-server redis-cli /usr/bin/python3; do
	command -v "$cmd" >/dev/null || { echo "bench: $cmd not found (make deps)" >&2; exit 1; }
done
if [ "${SKIP_PEER:-}" != 1 ]; then
	for cmd in node npm; do
		command -v "$cmd" >/dev/null ||
			{ echo "bench: $cmd not found: install Node.js, or SKIP_PEER=1" >&2; exit 1; }
	done
fi
if [ "$what" = alerts ] && [ -z "${NGINX:-}" ] && [ ! -x /usr/sbin/nginx ] && ! command -v nginx >/dev/null; then
	echo "bench: nginx not found (apt-get install nginx), or set NGINX" >&2
	exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/pregon-bench-redis.XXXXXX")
redis_pid=
cleanup() {
	if [ -n "$redis_pid" ]; then
		kill "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port; the rare race with another process is caught by the PING wait.
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# AOF=1: appendonly with appendfsync everysec, as production runs.
persist=(--appendonly no)
[ "${AOF:-}" = 1 ] && persist=(--appendonly yes --appendfsync everysec)
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" "${persist[@]}" --save '' \
	--logfile "$dir/redis.log" &
redis_pid=$!
for _ in $(seq 100); do
	redis-cli -p "$port" ping >/dev/null 2>&1 && break
	kill -0 "$redis_pid" 2>/dev/null || { echo "bench: redis-server died:" >&2; cat "$dir/redis.log" >&2; exit 1; }
	sleep 0.1
done
redis-cli -p "$port" ping >/dev/null || { echo "bench: redis-server on port $port did not answer" >&2; exit 1; }

REDIS_PORT=$port /usr/bin/python3 "$script"
