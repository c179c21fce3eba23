#!/usr/bin/env bash
# run-tests.sh - every test against a fresh test stack; prints one total line, exits 1 on failure.
# Called by `./flashsale test` after install and build. Suites: unit (make check), HTTP through
# nginx, HTTP through Apache (usercenter, product, order), browser, payment -> order over Kafka,
# openapi (every response above against doc/openapi.yaml), deb and distcheck; then, on a stack
# with a MariaDB replica, replica and the Redis Cluster (cluster: the cache on it, then a sale
# with faults). The stack lives in $FLASHSALE_TEST_VAR (default var/test)
# on port $FLASHSALE_TEST_PORT (default FLASHSALE_PORT + 10000).
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

# Run Check programs (NAME ENV=... ...) one by one; print "N passed, N failed" over all checks.
run_checks() {
	local p=0 f=0 prog line n fl er
	for prog in "$@"; do
		echo "-- $prog"
		out=$("$BUILD/tests/unit/$prog" 2>&1)
		local rc=$?
		grep -v '"level"' <<<"$out"
		line=$(grep -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' <<<"$out" | tail -1)
		if [ -z "$line" ]; then
			f=$((f + 1))
			continue
		fi
		n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		fl=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		er=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		p=$((p + n - fl - er))
		f=$((f + fl + er))
		[ "$rc" -ne 0 ] && [ $((fl + er)) -eq 0 ] && f=$((f + 1))
	done
	echo "$p passed, $f failed"
}

# Redis Cluster: 3 masters + 3 replicas on TPORT+30.., the project's Redis-backed unit suites
# with cache on the cluster, then the cluster client's own suite (its failover case last); then
# the sale. On the stack in VAR/RUN, which runs in replica mode (a MariaDB GTID replica): the
# sale stops that replica too.
run_cluster() {
	CVAR=$1 CRUN=$2
	local dir="$TVAR/redis-cluster" base=$((TPORT + 30)) seeds log="$CVAR/log/redis-cluster.log"
	make -C "$BUILD" -s check TESTS= >"$TVAR/results/cluster-build.log" 2>&1 ||
		{ tail -20 "$TVAR/results/cluster-build.log"; record cluster 0 1; return; }
	say "starting a Redis Cluster (3 masters + 3 replicas) on 127.0.0.1:$base-$((base + 5))"
	if ! "$TOP/tools/redis-cluster.sh" start "$dir" "$base" >"$log" 2>&1; then
		cat "$log"
		record cluster 0 1
		"$TOP/tools/redis-cluster.sh" stop "$dir"
		return
	fi
	seeds=$("$TOP/tools/redis-cluster.sh" nodes "$dir")
	FLASHSALE_TEST_REDIS_SOCKET="$CRUN/redis.sock" FLASHSALE_TEST_MYSQL_SOCKET="$CRUN/mysql.sock" \
		FLASHSALE_TEST_REDIS_ON_CLUSTER="$seeds" FLASHSALE_TEST_REDIS_CLUSTER="$seeds" \
		run_counted cluster run_checks test-lock test-ratelimit test-auth test-event \
		test-stock test-cache-cluster
	"$TOP/tools/redis-cluster.sh" stop "$dir"
	# The sale on a fresh cluster, once per redis.wait_replicas (0, then 1): the loss of each.
	local w
	for w in 0 1; do
		rm -rf "$dir"
		if ! "$TOP/tools/redis-cluster.sh" start "$dir" "$base" >>"$log" 2>&1; then
			tail -5 "$log"
			record "cluster-sale-w$w" 0 1
			continue
		fi
		cluster_stack_on "$seeds" "$w"
		FLASHSALE_TEST_VAR="$CVAR" FLASHSALE_TEST_RUN="$CRUN" \
			FLASHSALE_TEST_REDIS_CLUSTER="$seeds" FLASHSALE_TEST_CLUSTER_DIR="$dir" \
			FLASHSALE_TEST_WAIT_REPLICAS=$w run_counted "cluster-sale-w$w" python3 \
			"$TOP/tests/http/run.py" --url "http://127.0.0.1:$TPORT" cluster_sale
		"$TOP/tools/redis-cluster.sh" stop "$dir"
	done
	cluster_stack_off
}

# Stop the cluster stack's FastCGI programs and daemons (usercenter's hashing pool, the extra
# seckill host and writer too): stack_fcgi_start starts them all again.
cluster_stack_stop() {
	local d files=("$CRUN/seckill-2.extra.pid" "$CRUN/order-writer-2.extra.pid"
		"$CRUN/usercenter-auth.extra.pid")
	for d in $DOMAINS $DAEMONS; do files+=("$CRUN/$d.pid"); done
	stop_pidfiles "${files[@]}"
}

# Restart the programs and daemons on the cluster SEEDS (sessions, tokens and the sale all in
# one Redis) with redis.wait_replicas WAIT: seckill as two socket sets (nginx's upstream
# reloaded with both), a second order-writer in the same consumer group.
cluster_stack_on() {
	local seeds=$1 wait=$2
	cluster_stack_stop
	(
		export FLASHSALE_REDIS_CLUSTER="$seeds" FLASHSALE_REDIS_WAIT_REPLICAS="$wait" \
			FLASHSALE_SECKILL_HOSTS=2
		stack_fcgi_start "$CVAR" "$CRUN"
		stack_daemons_start "$CVAR" "$CRUN"
		(FLASHSALE_CONF="$CVAR/flashsale.conf" FLASHSALE_LOG_FILE="$CVAR/log/order-writer.log" \
			as_stack setsid "$TOP/tools/supervise.sh" "$CRUN/order-writer-2.extra.pid" \
			"$BUILD/jobs/flashsale-order-writer" </dev/null >/dev/null 2>&1 &)
		stack_nginx_config "$CVAR" "$CRUN" "$TPORT"
		nginx -c "$CVAR/nginx/nginx.conf" -e "$CVAR/log/nginx-error.log" -s reload
	)
	wait_for 100 curl -sf -o /dev/null "http://127.0.0.1:$TPORT/seckill/v1/healthz"
}

# Back to one seckill socket set and one order-writer on the stack's own Redis.
cluster_stack_off() {
	cluster_stack_stop
	(
		stack_fcgi_start "$CVAR" "$CRUN"
		stack_daemons_start "$CVAR" "$CRUN"
		stack_nginx_config "$CVAR" "$CRUN" "$TPORT"
		nginx -c "$CVAR/nginx/nginx.conf" -e "$CVAR/log/nginx-error.log" -s reload
	)
	wait_for 100 curl -sf -o /dev/null "http://127.0.0.1:$TPORT/seckill/v1/healthz"
}

mkdir -p "$TVAR"
stack_down "$TVAR" quiet
"$TOP/tools/redis-cluster.sh" stop "$TVAR/redis-cluster"
rm -rf "$TVAR"
mkdir -p "$TVAR/results"
# The replica or cluster suite alone: the test stack itself runs with a MariaDB replica (in
# `all`, both run last, on a stack of their own in replica mode).
case "$ONLY" in replica | cluster) STACK_REPLICA=1 ;; esac
say "starting the test stack on 127.0.0.1:$TPORT ($TVAR)"
( stack_up "$TVAR" "$TPORT" test ) || { echo "0 passed, 1 failed"; exit 1; }
TVAR=$(cd "$TVAR" && pwd)
RUN=$(readlink -f "$TVAR/run")
trap 'stack_down "$TVAR" quiet; "$TOP/tools/redis-cluster.sh" stop "$TVAR/redis-cluster"' EXIT

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
			--server apache ${FLASHSALE_APACHE_SUITES:-usercenter product order payment refund latepay hardening coupon}
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

case "$ONLY" in cluster) run_cluster "$TVAR" "$RUN" ;; esac
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
	say "starting librdkafka's mock cluster; payment, order, event daemons and order-writers on Kafka"
	"$BUILD/tools/kafka-mock" -p 4 payment.status order.paid order.closed seckill.intents \
		>"$TVAR/kafka.bootstrap" 2>"$TVAR/log/kafka-mock.log" &
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
		# writer.transport kafka: the relay and two order-writers in one consumer group; a
		# short session so a killed writer's partitions move on in seconds; each batch held
		# mid-way (writer.test_stall_ms) so the suite can kill -9 one there.
		export FLASHSALE_WRITER_TRANSPORT=kafka FLASHSALE_WRITER_KAFKA_SESSION_TIMEOUT_MS=3000 \
			FLASHSALE_WRITER_TEST_STALL_MS=600 FLASHSALE_SECKILL_CLAIM_IDLE_MS=2000
		DAEMONS="order-writer"
		stop_pidfile "$RUN/order-writer.pid"
		stack_daemons_start "$TVAR" "$RUN"
		(FLASHSALE_CONF="$TVAR/flashsale.conf" FLASHSALE_LOG_FILE="$TVAR/log/order-writer.log" \
			as_stack setsid "$TOP/tools/supervise.sh" "$RUN/order-writer-2.extra.pid" \
			"$BUILD/jobs/flashsale-order-writer" </dev/null >/dev/null 2>&1 &)
	)
	wait_for 100 curl -sf -o /dev/null "http://127.0.0.1:$TPORT/payment/v1/healthz"
	run_counted kafka env FLASHSALE_TEST_KAFKA_BROKERS="$BROKERS" \
		python3 "$TOP/tests/http/run.py" --url "http://127.0.0.1:$TPORT" kafka kafka_writers
	;;
esac

# doc/openapi.yaml: linted (Redocly CLI, swagger-parser), then every response the HTTP suites
# above recorded (tests/http/fslib.py, results/responses.jsonl) validated against it with ajv.
case "$ONLY" in all | http | apache | kafka | openapi)
	run_counted openapi node "$TOP/tests/openapi/run.mjs" \
		--responses "$TVAR/results/responses.jsonl" --url "http://127.0.0.1:$TPORT" ;;
esac

# Packaging: the Debian package (dpkg-buildpackage, lintian, its contents) and `make distcheck`
# (the tarball builds, passes make check, installs and uninstalls cleanly). No stack needed.
case "$ONLY" in all | deb)
	run_counted deb "$TOP/tests/deb/run.sh" "$TVAR/deb" ;;
esac
case "$ONLY" in all | distcheck)
	run_counted distcheck bash -c 'make -C "$1" distcheck >"$2" 2>&1; rc=$?
		grep -E "^(PASS|FAIL|SKIP|ERROR):|^# [A-Z]+:|archives ready" "$2"
		[ $rc -eq 0 ] && echo "1 passed, 0 failed" || { tail -40 "$2"; echo "0 passed, 1 failed"; }
		exit $rc' distcheck "$BUILD" "$TVAR/results/distcheck-make.log" ;;
esac

# Last, as it needs its own stack: MariaDB primary + GTID replica (tools/stack-replica.sh), the
# reads that may lag on the replica. In `all`, the test stack is replaced by one in replica mode,
# and the cluster part (its sale stops the MariaDB replica) runs on it afterwards.
case "$ONLY" in all | replica)
	RVAR=$TVAR
	if [ "$ONLY" = all ]; then
		stack_down "$TVAR" quiet
		RVAR=$TVAR/replica-stack
		say "starting a test stack with a MariaDB replica ($RVAR)"
		if ( STACK_REPLICA=1 stack_up "$RVAR" "$TPORT" test ); then
			trap 'stack_down "$TVAR/replica-stack" quiet; stack_down "$TVAR" quiet
				"$TOP/tools/redis-cluster.sh" stop "$TVAR/redis-cluster"' EXIT
		else
			RVAR=""
		fi
	fi
	if [ -n "$RVAR" ]; then
		RRUN=$(readlink -f "$RVAR/run")
		run_counted replica env FLASHSALE_TEST_VAR="$RVAR" FLASHSALE_TEST_RUN="$RRUN" \
			python3 "$TOP/tests/http/run.py" --url "http://127.0.0.1:$TPORT" replica
		# db_reader against the real replica: reads after the caller's own write stay on the primary.
		run_counted replica-unit env FLASHSALE_TEST_MYSQL_SOCKET="$RRUN/mysql.sock" \
			FLASHSALE_TEST_MYSQL_REPLICA_SOCKET="$RRUN/mysql-replica.sock" \
			"$BUILD/tests/unit/test-db-replica"
		[ "$ONLY" = all ] && run_cluster "$RVAR" "$RRUN"
	else
		record replica 0 1
		[ "$ONLY" = all ] && record cluster 0 1
	fi
	;;
esac

echo
echo "== results (logs and screenshots in $TVAR/results)"
printf '%s\n' "${summary[@]}"
echo "TOTAL: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
