#!/bin/sh
# Runs every test and prints one closing line "N passed, N failed", or
# "N passed, N failed, N skipped" when some test was skipped.
#
# Unit tests (cmocka, TAP output) and integration tests (Python, TAP output,
# real redis-server) run against the ASan+UBSan build in build-asan/, so
# every test is also a sanitizer run. A binary that crashes loses its
# planned tests: they count as failed (plans are totalled).
# A skip is neither a pass nor a failure: a TAP line with a "# SKIP"
# directive, "ok 3 - name # SKIP why" from harness.skip() and
# "not ok 3 # SKIP name" from cmocka's skip(), counts as skipped, in both
# runners alike; each file's line shows its skips and their lines. The exit
# status is non-zero only when a test failed.
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

# A test line with a SKIP directive (TAP: "# skip", any case, after the
# description). cmocka 1.1 writes "not ok N # SKIP name", the harness
# "ok N - name # SKIP why"; both are skips, not results.
SKIP_RE='^(not )?ok( [^#]*)?#[ 	]*[Ss][Kk][Ii][Pp]'

run() {	# name, command...
	name=$1; shift
	start=$(date +%s)
	"$@" > "$LOG.one" 2>&1
	rc=$?
	# A plan line with no results means the binary died before its tests.
	cat "$LOG.one" >> "$LOG"
	skips=$(grep -Ec "$SKIP_RE" "$LOG.one")
	fails=$(grep -E '^not ok( |$)' "$LOG.one" | grep -Evc "$SKIP_RE")
	oks=$(grep -E '^ok( |$)' "$LOG.one" | grep -Evc "$SKIP_RE")
	printf '%-40s %3d ok %3d not ok %3d skipped  (%ss)\n' "$name" "$oks" "$fails" "$skips" \
		"$(( $(date +%s) - start ))"
	grep -E "$SKIP_RE" "$LOG.one" | head -20 | sed 's/^/    skipped: /'
	if [ "$fails" -gt 0 ] || [ "$rc" -ne 0 ]; then
		grep -v '^ok' "$LOG.one" | grep -Ev "$SKIP_RE" | head -80 | sed 's/^/    /'
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

# Tests planned but never reported (the binary died) count as failed; the
# "exited with status" lines above are failures no plan counted.
awk -v skip_re="$SKIP_RE" '
     /^1\.\.[0-9]+/ { split($0, a, "\\.\\."); plan += a[2] }
     $0 ~ skip_re     { s++; next }
     /^ok( |$)/       { p++ }
     /^not ok( |$)/   { f++; if ($0 ~ / exited with status /) extra++ }
     END { missing = plan - p - s - (f - extra); if (missing > 0) f += missing;
           printf "%d passed, %d failed", p, f
           if (s > 0) printf ", %d skipped", s
           printf "\n"; exit (f > 0) }' "$LOG"
rc=$?
rm -f "$LOG" "$LOG.one"
exit $rc
