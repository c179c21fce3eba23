#!/usr/bin/env bash
# run-tests.sh - every test against a fresh test stack; prints one total line, exits 1 on failure.
# Called by `./flashsale test` after install and build. Suites: unit (make check), HTTP through
# nginx, HTTP through Apache (usercenter, product, order), browser, and payment -> order over
# Kafka. The stack lives in $FLASHSALE_TEST_VAR (default var/test) on port $FLASHSALE_TEST_PORT
# (default FLASHSALE_PORT + 10000).
set -uo pipefail
TOP=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
BUILD=${FLASHSALE_BUILD:-$TOP/build}
PORT=${FLASHSALE_PORT:-8080}
VAR=${FLASHSALE_VAR:-$TOP/var}
source "$TOP/tools/stack.sh"

TVAR=${FLASHSALE_TEST_VAR:-$VAR/test}
TPORT=${FLASHSALE_TEST_PORT:-$((PORT + 10000))}
# The test stack's ports, once: exported as FLASHSALE_TEST_PORT_{WEB,APACHE,SIM,OTLP} for tests.
stack_ports "$TPORT"
APORT=$PORT_APACHE
ONLY=${1:-all}

passed=0 failed=0 skipped=0
summary=()

# Add a suite's counts to the totals.
record() {
	local name=$1 p=$2 f=$3 s=${4:-0}
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	summary+=("$(printf '%-16s %4d passed, %d failed, %d skipped' "$name" "$p" "$f" "$s")")
}

# Run a suite that prints "N passed, N failed[, N skipped]" as its last such line.
run_counted() {
	local name=$1
	shift
	local log="$TVAR/results/$name.log"
	say "suite $name"
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -z "$line" ]; then
		record "$name" 0 1
		echo "suite $name crashed (exit $rc) before reporting" >&2
		return
	fi
	local p f s
	p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
	s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	record "$name" "$p" "$f" "${s:-0}"
}

# make check: unit tests of common/ (server-backed ones use the test stack's sockets).
run_unit() {
	say "suite unit (make check)"
	FLASHSALE_TEST_REDIS_SOCKET="$RUN/redis.sock" FLASHSALE_TEST_MYSQL_SOCKET="$RUN/mysql.sock" \
		make -C "$BUILD" -s check >"$TVAR/results/unit.log" 2>&1
	local rc=$?
	local tl="$BUILD/test-suite.log"
	cat "$TVAR/results/unit.log" | grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS|# )' || true
	local p f s e
	p=$(grep -E '^# PASS:' "$TVAR/results/unit.log" | awk '{print $3}' | tail -1)
	f=$(grep -E '^# FAIL:' "$TVAR/results/unit.log" | awk '{print $3}' | tail -1)
	e=$(grep -E '^# ERROR:' "$TVAR/results/unit.log" | awk '{print $3}' | tail -1)
	s=$(grep -E '^# SKIP:' "$TVAR/results/unit.log" | awk '{print $3}' | tail -1)
	if [ -z "$p" ]; then
		tail -30 "$TVAR/results/unit.log"
		[ -f "$tl" ] && tail -50 "$tl"
		record unit 0 1
		return
	fi
	f=$((${f:-0} + ${e:-0}))
	[ $rc -ne 0 ] && [ $f -eq 0 ] && f=1
	[ $f -gt 0 ] && [ -f "$tl" ] && cat "$tl"
	record unit "$p" "$f" "${s:-0}"
}

mkdir -p "$TVAR"
stack_down "$TVAR" quiet
rm -rf "$TVAR"
mkdir -p "$TVAR/results"
say "starting the test stack on 127.0.0.1:$TPORT ($TVAR)"
( stack_up "$TVAR" "$TPORT" test ) || { echo "0 passed, 1 failed"; exit 1; }
TVAR=$(cd "$TVAR" && pwd)
RUN=$(readlink -f "$TVAR/run")
trap 'stack_down "$TVAR" quiet' EXIT

export FLASHSALE_TOP="$TOP" FLASHSALE_BUILD="$BUILD" FLASHSALE_TEST_VAR="$TVAR" \
	FLASHSALE_TEST_RUN="$RUN" FLASHSALE_TEST_RESULTS="$TVAR/results"

case "$ONLY" in all | unit) run_unit ;; esac
case "$ONLY" in all | http)
	# FLASHSALE_HTTP_SUITES (e.g. "order payment") runs only those suites, for development.
	# shellcheck disable=SC2086
	run_counted http-nginx python3 "$TOP/tests/http/run.py" --url "http://127.0.0.1:$TPORT" \
		${FLASHSALE_HTTP_SUITES:-} ;;
esac
case "$ONLY" in all | apache)
	say "starting Apache on 127.0.0.1:$APORT"
	if ( stack_apache_start "$TVAR" "$RUN" "$APORT" ); then
		run_counted http-apache python3 "$TOP/tests/http/run.py" --url "http://127.0.0.1:$APORT" \
			--server apache ${FLASHSALE_APACHE_SUITES:-usercenter product order hardening}
	else
		record http-apache 0 1
	fi
	stop_pidfile "$RUN/apache.pid"
	;;
esac
case "$ONLY" in all | browser)
	if [ -f "$TOP/tests/browser/run.mjs" ]; then
		run_counted browser node "$TOP/tests/browser/run.mjs" --url "http://127.0.0.1:$TPORT"
	fi
	;;
esac

# Not part of all (it builds a second, ThreadSanitizer tree first: minutes on a shared box):
# a sale against the threaded seckill program under -fsanitize=thread, no race allowed.
case "$ONLY" in tsan)
	run_counted tsan "$TOP/tests/tsan/run.sh" "http://127.0.0.1:$TPORT"
	;;
esac

# Last, as it restarts part of the stack: payment -> order over Kafka (librdkafka's mock
# cluster, real TCP): the payment and order programs and the event daemons on events.transport
# kafka, the same flow as the Redis Streams default.
case "$ONLY" in all | kafka)
	say "starting librdkafka's mock cluster; payment, order and event daemons on Kafka"
	"$BUILD/tools/kafka-mock" >"$TVAR/kafka.bootstrap" 2>"$TVAR/log/kafka-mock.log" &
	echo $! >"$RUN/kafka-mock.extra.pid"
	wait_for 100 test -s "$TVAR/kafka.bootstrap"
	BROKERS=$(head -1 "$TVAR/kafka.bootstrap")
	(
		export FLASHSALE_EVENTS_TRANSPORT=kafka FLASHSALE_EVENTS_KAFKA_BROKERS="$BROKERS"
		DOMAINS="payment order" DAEMONS="order-events notify"
		for d in $DOMAINS; do stop_pidfile "$RUN/$d.pid"; done
		for j in $DAEMONS; do stop_pidfile "$RUN/$j.pid"; done
		stack_fcgi_start "$TVAR" "$RUN"
		stack_daemons_start "$TVAR" "$RUN"
	)
	wait_for 100 curl -sf -o /dev/null "http://127.0.0.1:$TPORT/payment/v1/healthz"
	run_counted kafka env FLASHSALE_TEST_KAFKA_BROKERS="$BROKERS" \
		python3 "$TOP/tests/http/run.py" --url "http://127.0.0.1:$TPORT" kafka
	;;
esac

echo
echo "== results (logs and screenshots in $TVAR/results)"
printf '%s\n' "${summary[@]}"
echo "TOTAL: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
