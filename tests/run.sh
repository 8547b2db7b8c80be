#!/bin/sh
# Runs every test and prints one closing line "N passed, N failed".
#
# Unit tests (cmocka, TAP output) and integration tests (Python, TAP output,
# real redis-server) run against the ASan+UBSan build in build-asan/, so
# every test is also a sanitizer run. A binary that crashes loses its
# planned tests: they count as failed (plans are totalled).
# LONG=1 adds the long soak tests. PREGON_BIN overrides the binaries' dir.
set -u
cd "$(dirname "$0")/.."
BIN=${PREGON_BIN:-build-asan}
LOG=$(mktemp /tmp/pregon-tests.XXXXXX)
export PREGON_BIN="$BIN"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export CMOCKA_MESSAGE_OUTPUT=TAP
PY=/usr/bin/python3	# Debian's: it has python3-redis and python3-aiosmtpd

run() {	# name, command...
	name=$1; shift
	start=$(date +%s)
	"$@" > "$LOG.one" 2>&1
	rc=$?
	# A plan line with no results means the binary died before its tests.
	cat "$LOG.one" >> "$LOG"
	fails=$(grep -c '^not ok' "$LOG.one")
	oks=$(grep -c '^ok' "$LOG.one")
	printf '%-40s %3d ok %3d not ok  (%ss)\n' "$name" "$oks" "$fails" "$(( $(date +%s) - start ))"
	if [ "$fails" -gt 0 ] || [ "$rc" -ne 0 ]; then
		grep -v '^ok' "$LOG.one" | head -80 | sed 's/^/    /'
		if [ "$rc" -ne 0 ]; then
			echo "    (exit status $rc)"
			# An exit status with no "not ok" line (sanitizer report at
			# exit, for instance) still fails the run.
			[ "$fails" -eq 0 ] && echo "not ok - $name exited with status $rc" >> "$LOG"
		fi
	fi
}

for t in "$BIN"/tests/test_*; do
	[ -x "$t" ] || continue
	run "unit/$(basename "$t")" "$t"
done
for t in tests/integration/test_*.py; do
	case "$t" in
	*_long.py) [ "${LONG:-0}" = 1 ] || continue ;;
	esac
	run "integration/$(basename "$t" .py)" "$PY" "$t"
done

awk '/^1\.\.[0-9]+/ { split($0, a, "\\.\\."); plan += a[2] }
     /^ok /        { p++ }
     /^not ok /    { f++; if ($0 ~ / exited with status /) extra++ }
     END { missing = plan - p - (f - extra); if (missing > 0) f += missing;
           printf "%d passed, %d failed\n", p, f; exit (f > 0) }' "$LOG"
rc=$?
rm -f "$LOG" "$LOG.one"
exit $rc
