#!/bin/sh
# make run: start a local Redis (unless [redis] url in $PREGON_CONF points at
# one that answers), start pregond with the outbox adapters, put a job in,
# and show the outbox line and the events coming out. Ctrl-C stops it all.
# Every command it runs is printed first, exactly as it runs it ("$ ..."),
# so that a reader can type it again (issue 13). PREGON_BIN: the folder of
# the binaries (default build).
set -eu
cd "$(dirname "$0")/.."
BIN=${PREGON_BIN:-build}
RUN=var/run
mkdir -p "$RUN" var/outbox
CONF=${PREGON_CONF:-}
PORT=${PREGON_REDIS_PORT:-6390}
REDIS_PID=""
PREGOND_PID=""

cleanup() {
	[ -n "$PREGOND_PID" ] && kill "$PREGOND_PID" 2>/dev/null && wait "$PREGOND_PID" 2>/dev/null
	[ -n "$REDIS_PID" ] && redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1
	true
}
trap cleanup EXIT INT TERM

# Prints a pregon command line exactly as it runs it (with NOTE after it as
# a comment, if any), then runs it: the config comes from PREGON_CONF,
# exported (and printed) once.
shown() {	# NOTE ARGS...
	note=$1
	shift
	echo "\$ $BIN/pregon $*${note:+     # $note}"
	"$BIN/pregon" "$@"
}

# Waits (up to 2 s) until the outbox has N lines of job ID, then shows them.
show_outbox() {	# ID N TITLE
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ "$(grep -c "\"$1\"" var/outbox/sms.jsonl 2>/dev/null)" -ge "$2" ] && break
		sleep 0.2
	done
	echo
	echo "$3"
	grep "\"$1\"" var/outbox/sms.jsonl
}

if [ -z "$CONF" ]; then
	# A local Redis with the durability pregon recommends (appendonly yes).
	if ! redis-cli -p "$PORT" ping >/dev/null 2>&1; then
		echo "\$ redis-server --port $PORT --bind 127.0.0.1 --dir $RUN --appendonly yes" \
			"--hash-max-listpack-value 512 --save '' --daemonize yes" \
			"--pidfile $PWD/$RUN/redis.pid --logfile $PWD/$RUN/redis.log"
		redis-server --port "$PORT" --bind 127.0.0.1 --dir "$RUN" --appendonly yes \
			--hash-max-listpack-value 512 \
			--save '' --daemonize yes --pidfile "$PWD/$RUN/redis.pid" \
			--logfile "$PWD/$RUN/redis.log"
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
			sleep 0.2
		done
		REDIS_PID=$(cat "$RUN/redis.pid")
		echo "started redis-server on 127.0.0.1:$PORT (data in $RUN)"
	else
		echo "using the redis-server already on 127.0.0.1:$PORT"
	fi
	CONF=$RUN/pregon.conf
	# Quiet hours off, so the demo shows a message leaving at any hour
	# (with them on, a message at night waits for 08:00 in Los Angeles).
	echo "\$ sed -e 's|^url = redis://127.0.0.1:6379/0|url = redis://127.0.0.1:$PORT/0|'" \
		"-e 's|^quiet_hours = .*|quiet_hours = none|' config/pregon.conf > $CONF"
	sed -e "s|^url = redis://127.0.0.1:6379/0|url = redis://127.0.0.1:$PORT/0|" \
		-e "s|^quiet_hours = .*|quiet_hours = none|" \
		config/pregon.conf > "$CONF"
fi

# Both programs find the config through PREGON_CONF (then the installed
# one; never built-in defaults).
echo "\$ export PREGON_CONF=$CONF"
export PREGON_CONF="$CONF"
echo "\$ $BIN/pregond 2> $RUN/pregond.log &"
"$BIN/pregond" 2> "$RUN/pregond.log" &
PREGOND_PID=$!
sleep 0.5
echo "pregond running (pid $PREGOND_PID, log $RUN/pregond.log)"

ID="demo-$(date +%s)"
cat > "$RUN/demo-job.json" <<JOB
{"id": "$ID", "kind": "message",
 "recipient": {"id": "client-7", "name": "Ana", "phone": "+13235550100",
               "email": "ana@example.org", "channels": ["sms", "email"]},
 "body": "Hello Ana, this is a test from pregon. Reply STOP to opt out.",
 "subject": "pregon test"}
JOB
echo
shown "" send "$RUN/demo-job.json"
show_outbox "$ID" 1 "outbox (var/outbox/sms.jsonl), what would have been sent:"
echo
shown "" status "$ID"
echo
shown "events (pregon:events), for this job" tail --all --job "$ID" --count 3

# An action alert to a list: contacts from a CSV file, one urgent alert in
# two languages, one message per person.
cat > "$RUN/demo-contacts.csv" <<CSV
id,name,phone,lang
resp-1,Luis,+13235550101,es
resp-2,Kim,+13235550102,en
resp-3,"Rosa, the organizer",+13235550103,es
CSV
echo
shown "" contacts import "$RUN/demo-contacts.csv" --list demo-responders
AID="demo-alert-$(date +%s)"
cat > "$RUN/demo-alert.json" <<JOB
{"id": "$AID", "kind": "action_alert", "urgent": true,
 "audience": {"list": "demo-responders"},
 "message": {"en": "Demo alert: ICE activity reported at 5th & Main. Reply 1 if responding, 2 if not.",
             "es": "Alerta de prueba: actividad de ICE en 5th y Main. Responda 1 si va, 2 si no."},
 "replies": {"1": "responding", "2": "cannot"}}
JOB
shown "" send "$RUN/demo-alert.json"
show_outbox "$AID" 3 "outbox: the alert, each person in their language:"
echo
shown "" status "$AID"
# A court reminder: a hearing ten days from now, 08:30 in Los Angeles. The
# enrolment notice leaves now; four reminders wait in the schedule.
CID="demo-court-$(date +%s)"
DAY=$(date -u -d "+10 days" +%Y-%m-%d)
cat > "$RUN/demo-court.json" <<JOB
{"id": "$CID", "kind": "court_reminder",
 "case": {"ref": "DEMO-$(date +%H%M%S)", "court": "Clara Shortridge Foltz CJC", "department": "Dept. 30",
          "address": "210 W Temple St, Los Angeles, CA 90012", "tz": "America/Los_Angeles",
          "charge": "never shown to anyone"},
 "appearance": "${DAY}T08:30:00",
 "recipient": {"id": "client-7", "name": "Ana", "phone": "+13235550100", "lang": "es"}}
JOB
echo
shown "" send "$RUN/demo-court.json"
show_outbox "$CID" 1 "outbox: the enrolment notice, in Spanish (the charge is in no text):"
echo
shown "(four reminders scheduled)" status "$CID"
echo
cat > "$RUN/demo-vars.json" <<VARS
{"name": "Ana", "court": "Clara Shortridge Foltz CJC", "department": "Dept. 30",
 "appearance": "${DAY}T08:30:00", "tz": "America/Los_Angeles", "tomorrow": true}
VARS
shown "the day-before text" template render court_reminder es sms "$RUN/demo-vars.json"
echo
echo "Now try: PREGON_CONF=$CONF $BIN/pregon tail     (in another terminal)"
echo "         PREGON_CONF=$CONF $BIN/pregon send FILE.json"
echo "pregond keeps running; Ctrl-C stops pregond and the local Redis."
[ "${DEMO_ONCE:-0}" = 1 ] && exit 0
wait "$PREGOND_PID"
