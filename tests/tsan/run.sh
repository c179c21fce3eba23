#!/usr/bin/env bash
# run.sh - the tsan suite (`./flashsale test tsan`): a sale against the threaded seckill program
# built with -fsanitize=thread, on the running test stack; fails on any ThreadSanitizer report.
# Builds $FLASHSALE_TSAN_BUILD (default build-tsan: ./configure --enable-tsan) when needed,
# swaps it in for the seckill program, runs tests/tsan/test_tsan.py (a crowd sale, sold-out
# answers, results, the dashboard), then puts the normal program back. Prints
# "N passed, N failed" (the Python tests, "the workers run the instrumented build" and
# "no race reported").
# env: FLASHSALE_TOP, FLASHSALE_TEST_VAR, FLASHSALE_TEST_RUN (run-tests.sh exports them), URL in $1.
set -uo pipefail
TOP=${FLASHSALE_TOP:?}
TVAR=${FLASHSALE_TEST_VAR:?}
RUN=${FLASHSALE_TEST_RUN:?}
URL=$1
TB=${FLASHSALE_TSAN_BUILD:-$TOP/build-tsan}
BUILD=${FLASHSALE_BUILD:-$TOP/build}
source "$TOP/tools/stack.sh"

mkdir -p "$TB"
if [ ! -f "$TB/Makefile" ]; then
	say "configure --enable-tsan in $TB"
	(cd "$TB" && "$TOP/configure" --enable-tsan >configure.log 2>&1) ||
		{ tail -20 "$TB/configure.log"; echo "0 passed, 1 failed"; exit 1; }
fi
say "building the seckill program with ThreadSanitizer"
make -C "$TB" -j2 fcgi/seckill/flashsale-seckill >"$TB/make.log" 2>&1 ||
	{ tail -20 "$TB/make.log"; echo "0 passed, 1 failed"; exit 1; }

LOGDIR="$TVAR/log/tsan"
rm -rf "$LOGDIR"
mkdir -p "$LOGDIR"
chmod 777 "$LOGDIR"
# Swap the program: the same stack, the instrumented binary, 8 threads per process.
restart_seckill() {
	stop_pidfile "$RUN/seckill.pid"
	(
		DOMAINS=seckill
		[ -n "${1:-}" ] && BUILD=$1
		export FLASHSALE_HTTP_THREADS=8
		export TSAN_OPTIONS="log_path=$LOGDIR/race halt_on_error=0 second_deadlock_stack=1"
		stack_fcgi_start "$TVAR" "$RUN"
	)
	wait_for 200 curl -sf -o /dev/null "$URL/seckill/v1/healthz"
}
restart_seckill "$TB"
# The workers really are the instrumented ones (else "no report" would prove nothing).
descendants() { for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
instrumented=0
for p in $(descendants "$(cat "$RUN/seckill.pid")"); do
	[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$(readlink -f "$TB/fcgi/seckill/flashsale-seckill")" ] &&
		instrumented=$((instrumented + 1))
done
echo "workers running the ThreadSanitizer build: $instrumented"
TSAN_COUNTS="$LOGDIR/counts" FLASHSALE_URL="$URL" python3 -c '
import os, sys, unittest
sys.path.insert(0, os.path.join(os.environ["FLASHSALE_TOP"], "tests", "http"))
sys.path.insert(0, os.path.join(os.environ["FLASHSALE_TOP"], "tests", "tsan"))
import test_tsan
res = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(
    unittest.defaultTestLoader.loadTestsFromModule(test_tsan))
bad = len(res.failures) + len(res.errors)
open(os.environ["TSAN_COUNTS"], "w").write("%d %d\n" % (res.testsRun - bad, bad))
'
# The workers write their reports at exit: stop them before looking.
restart_seckill ""
read -r p f <"$LOGDIR/counts" 2>/dev/null || { p=0 f=1; }
if [ "$instrumented" -gt 0 ]; then p=$((p + 1)); else f=$((f + 1)); fi
reports=$(cat "$LOGDIR"/race.* 2>/dev/null | grep -c "WARNING: ThreadSanitizer" || true)
if [ "$reports" -gt 0 ]; then
	echo "ThreadSanitizer: $reports report(s); the first:"
	cat "$LOGDIR"/race.* | sed -n '1,60p'
	f=$((f + 1))
else
	echo "ThreadSanitizer: no report"
	p=$((p + 1))
fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
