#!/usr/bin/env bash
# run.sh - `./flashsale bench`: wrk against a bench stack, beside the two ceilings of DESIGN.md
# measured in the same run, and the order-writer's drain rate; prints one table.
#
# A stack of its own in $FLASHSALE_BENCH_VAR (default $FLASHSALE_VAR/bench) on 127.0.0.1:
# $FLASHSALE_BENCH_PORT (default FLASHSALE_PORT + 20000), test mode (cheap password hashes so
# thousands of users register quickly); seckill tokens live 1 h there so tokens made before the
# runs outlive them. The ceilings: a second nginx (same worker settings) on port + 1 answering
# a fixed JSON body (/fixed) and proxying to bench/ceiling-fcgi (/fcgi), a minimal libfcgi
# program under spawn-fcgi/multiwatch running the same purchase Lua script per request.
# Knobs: FLASHSALE_BENCH_DURATION (10 s per run), FLASHSALE_BENCH_CONNS (200),
# FLASHSALE_BENCH_USERS (2000), FLASHSALE_BENCH_KEEP=1 leaves the stack running (and the cluster),
# FLASHSALE_BENCH_CLUSTER=0 skips the Redis Cluster rows (bench/cluster.sh).
set -euo pipefail
TOP=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
BUILD=${FLASHSALE_BUILD:-$TOP/build}
PORT=${FLASHSALE_PORT:-8080}
VAR=${FLASHSALE_VAR:-$TOP/var}
source "$TOP/tools/stack.sh"
source "$TOP/bench/cpu.sh"

BVAR=${FLASHSALE_BENCH_VAR:-$VAR/bench}
BPORT=${FLASHSALE_BENCH_PORT:-$((PORT + 20000))}
CPORT=$((BPORT + 1))
DUR=${FLASHSALE_BENCH_DURATION:-10}
CONNS=${FLASHSALE_BENCH_CONNS:-200}
USERS=${FLASHSALE_BENCH_USERS:-2000}
# Threads per FastCGI process ([http] threads of the stack's config; 1 where it has none).
THREADS=${FLASHSALE_HTTP_THREADS:-$(awk -F' *= *' '/^\[/ {sec = $0} sec == "[http]" && $1 == "threads" {print $2}' \
	"$TOP/flashsale.conf")}
THREADS=${THREADS:-1}
CEILING_ID=900000000 # an activity id only the ceiling program uses (never in MySQL)
export FLASHSALE_SECKILL_TOKEN_TTL=3600
# The bench's users never pay: a run with the cluster rows lasts longer than the 15 minutes an
# order waits for its payment, and the cron's order-timeout would then cancel the first rows'
# orders (a job of its own, not the purchase path) while later rows are measured.
export FLASHSALE_ORDER_PAY_TIMEOUT=86400
# Order-writers in the stack's consumer group (tools/stack.sh): two, so one's Redis work
# overlaps the other's MySQL transaction.
WRITERS=${FLASHSALE_ORDER_WRITERS:-2}
export FLASHSALE_ORDER_WRITERS=$WRITERS
# Production's trace sampling (the test-mode config traces every request).
export FLASHSALE_TRACE_SAMPLE_PERCENT=${FLASHSALE_TRACE_SAMPLE_PERCENT:-1}

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
ulimit -n 65536 2>/dev/null || true

# Stop what this run started (the stack stops *.extra.pid files too).
cleanup() {
	if [ -n "${WRITER:-}" ]; then kill -CONT $WRITER 2>/dev/null || true; fi
	[ "${FLASHSALE_BENCH_KEEP:-}" = 1 ] && return
	stack_down "$BVAR" quiet
	"$TOP/tools/redis-cluster.sh" stop "$BVAR/redis-cluster"
}

mkdir -p "$BVAR"
stack_down "$BVAR" quiet
"$TOP/tools/redis-cluster.sh" stop "$BVAR/redis-cluster"
# Every run is a new sale on empty stores. Left over, an earlier run's data skews this one: its
# hundreds of thousands of unpaid orders pass their deadline and the cron's order-timeout
# cancels them during the rows (minutes of MariaDB and Redis work), and each count and B-tree
# is larger than the last run's.
rm -rf "$BVAR/mysql" "$BVAR/redis" "$BVAR/redis-cluster"
say "bench stack on 127.0.0.1:$BPORT ($BVAR)"
(stack_up "$BVAR" "$BPORT" test) || die "the bench stack did not start"
trap cleanup EXIT
BVAR=$(cd "$BVAR" && pwd)
RUN=$(readlink -f "$BVAR/run")
RCLI=(redis-cli -s "$RUN/redis.sock")

for d in usercenter product seckill; do
	wait_for 100 curl -sf -o /dev/null "http://127.0.0.1:$BPORT/$d/v1/healthz" ||
		die "$d is not answering on the bench stack"
done
say "preparing $USERS users, tokens and activities"
IDS=$(FLASHSALE_URL="http://127.0.0.1:$BPORT" FLASHSALE_TEST_VAR="$BVAR" FLASHSALE_TEST_RUN="$RUN" \
	FLASHSALE_BUILD="$BUILD" python3 "$TOP/bench/prepare.py" "$USERS" "$BVAR/tokens")
id_of() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$IDS" "$1"; }
BIG=$(id_of big)
SOLDOUT=$(id_of soldout)
PRODUCT=$(id_of product)
POW=$(id_of pow)

say "starting the ceilings on 127.0.0.1:$CPORT ($JOBS_PER_DOMAIN processes x $THREADS threads)"
cc -O2 -pthread -o "$BVAR/ceiling-fcgi" "$TOP/bench/ceiling-fcgi.c" -lfcgi -lhiredis ||
	die "cannot build bench/ceiling-fcgi.c"
# Ceiling 3's Redis: a second redis-server, no AOF, no snapshots (non-persistent).
rm -f "$RUN/ceiling-redis.sock"
redis-server --port 0 --unixsocket "$RUN/ceiling-redis.sock" --unixsocketperm 777 \
	--appendonly no --save "" --daemonize yes --pidfile "$RUN/ceiling-redis.extra.pid" \
	--logfile "$BVAR/log/ceiling-redis.log" --dir "$BVAR" >/dev/null ||
	die "the ceiling's redis-server did not start"
CRCLI=(redis-cli -s "$RUN/ceiling-redis.sock")
wait_for 50 "${CRCLI[@]}" PING >/dev/null || die "the ceiling's redis-server is silent"
"${CRCLI[@]}" SET "{a:$CEILING_ID}:stock" 1000000000 >/dev/null
for mode in fixed lua4; do
	rm -f "$RUN/ceiling-$mode.sock"
	spawn-fcgi -s "$RUN/ceiling-$mode.sock" -M 0660 -G www-data \
		-P "$RUN/ceiling-$mode.extra.pid" -- /usr/bin/multiwatch -f "$JOBS_PER_DOMAIN" -- \
		"$BVAR/ceiling-fcgi" "$mode" "$THREADS" "$RUN/ceiling-redis.sock" "$CEILING_ID" \
		>/dev/null || die "cannot start the $mode ceiling"
done
nuser=www-data
runuser -u www-data -- test -r "$TOP/www/index.html" 2>/dev/null || nuser=root
mkdir -p "$BVAR/ceiling-nginx"
stack_fcgi_keepalive # FCGI_KEEPALIVE, FCGI_KEEP_CONN: as the stack's nginx.conf has them
cat >"$BVAR/ceiling-nginx/nginx.conf" <<EOF
# The bench's ceilings: the same nginx settings as the stack, nothing behind the fixed body.
user $nuser;
worker_processes 2;
pid $RUN/ceiling-nginx.extra.pid;
error_log $BVAR/log/ceiling-nginx-error.log warn;
events {
	worker_connections 8192;
	multi_accept on;
}
http {
	keepalive_timeout 30;
	client_body_temp_path $BVAR/ceiling-nginx/body;
	fastcgi_temp_path $BVAR/ceiling-nginx/fastcgi;
	# What every answer of the stack's server carries too: an access log line, the
	# request id and security headers, the FastCGI parameters (nginx.conf).
	log_format fs_main '\$remote_addr [\$time_iso8601] "\$request" \$status \$body_bytes_sent '
			   '\$request_time rid=\$request_id ua="\$http_user_agent"';
	upstream ceiling_fixed {
		server unix:$RUN/ceiling-fixed.sock;
		keepalive $FCGI_KEEPALIVE;
	}
	upstream ceiling_lua4 {
		server unix:$RUN/ceiling-lua4.sock;
		keepalive $FCGI_KEEPALIVE;
	}
	server {
		listen 127.0.0.1:$CPORT backlog=4096 reuseport;
		access_log $BVAR/log/ceiling-access.log fs_main buffer=64k flush=1s;
		add_header X-Request-Id \$request_id always;
		add_header X-Content-Type-Options nosniff always;
		add_header Referrer-Policy same-origin always;
		fastcgi_param REQUEST_METHOD \$request_method;
		fastcgi_param REQUEST_URI \$request_uri;
		fastcgi_param DOCUMENT_URI \$document_uri;
		fastcgi_param SCRIPT_NAME \$fastcgi_script_name;
		fastcgi_param QUERY_STRING \$query_string;
		fastcgi_param CONTENT_TYPE \$content_type;
		fastcgi_param CONTENT_LENGTH \$content_length;
		fastcgi_param SERVER_PROTOCOL \$server_protocol;
		fastcgi_param SERVER_NAME \$server_name;
		fastcgi_param SERVER_PORT \$server_port;
		fastcgi_param REMOTE_ADDR \$remote_addr;
		fastcgi_param REMOTE_PORT \$remote_port;
		fastcgi_param REQUEST_ID \$request_id;
		fastcgi_param GATEWAY_INTERFACE CGI/1.1;
		location = /fixed {
			default_type application/json;
			return 200 '{"code":200,"msg":"OK","data":{"requestId":"x","status":"queued"}}';
		}
		# The stack's keep-alive to FastCGI for /seckill/do (nginx.conf), the same here.
		location = /fcgi-fixed {
			fastcgi_keep_conn $FCGI_KEEP_CONN;
			fastcgi_pass ceiling_fixed;
		}
		location = /fcgi-lua {
			fastcgi_keep_conn $FCGI_KEEP_CONN;
			fastcgi_pass ceiling_lua4;
		}
	}
}
EOF
nginx -c "$BVAR/ceiling-nginx/nginx.conf" -e "$BVAR/log/ceiling-nginx-error.log" ||
	die "ceiling nginx did not start"
wait_for 50 curl -sf -o /dev/null "http://127.0.0.1:$CPORT/fixed" || die "ceiling nginx is silent"

ROWS=()
# One wrk run: name, connections, url, wrk script, script args...; appends
# "name conns rps p50 p99 non2xx" to ROWS.
bench() {
	local name=$1 conns=$2 url=$3 script=$4
	shift 4
	local out
	out=$(wrk -t2 -c"$conns" -d"${DUR}s" --timeout 10s --latency -s "$script" "$url" -- "$@")
	printf '%s\n' "$out" >"$BVAR/log/wrk-$name-$conns.log"
	local rps p50 p99 bad
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
	ROWS+=("$name $conns ${rps:-0} ${p50:--} ${p99:--} ${bad:-0}")
	say "$name @ $conns: $rps req/s, p50 $p50, p99 $p99, non-2xx ${bad:-0}"
}

# Redis's CPU seconds (user + sys, all its threads) and its commandstats totals (calls, usec).
redis_cpu() { "${RCLI[@]}" INFO cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f", s}'; }
redis_cmds() {
	# Calls of every command (a script's own calls included), usec of the top-level ones only
	# (scripts and stream reads: a script's usec already holds its commands').
	"${RCLI[@]}" INFO commandstats | tr -d '\r' | awk -F'[:,=]' '/^cmdstat_/ {
		for (i = 2; i < NF; i += 2) {
			if ($i == "calls") c += $(i + 1)
			if ($i == "usec" && ($1 ~ /^cmdstat_(eval|evalsha|xreadgroup|xautoclaim)$/)) u += $(i + 1)
		}
	} END {printf "%d %d", c, u}'
}
# Times Redis read from a client socket (INFO stats): a read carries one or more commands, so
# per purchase it shows how many purchases the seckill program's pipelined connection brought
# in each read (one read each without [redis] pipeline).
redis_reads() { "${RCLI[@]}" INFO stats | tr -d '\r' | awk -F: '/^total_reads_processed:/ {print $2}'; }
stock_left() { "${RCLI[@]}" GET "{a:$BIG}:stock"; }
orders_of() {
	mariadb --socket="$RUN/mysql.sock" -uroot --batch --skip-column-names -e \
		"SELECT COUNT(*) FROM flashsale_order.orders WHERE activity_id = $1"
}
# Orders of activity $1 with an id above $2: a primary-key range, so polling it during the drain
# reads the new rows only (counting the activity's index would scan every order of it each time,
# a third of a second of MariaDB's CPU at 250,000 orders, taken from the drain it measures).
orders_since() {
	mariadb --socket="$RUN/mysql.sock" -uroot --batch --skip-column-names -e \
		"SELECT COUNT(*) FROM flashsale_order.orders WHERE id > $2 AND activity_id = $1"
}
max_order_id() {
	mariadb --socket="$RUN/mysql.sock" -uroot --batch --skip-column-names -e \
		"SELECT COALESCE(MAX(id), 0) FROM flashsale_order.orders"
}
DO=("$TOP/bench/do.lua" "$BVAR/tokens" "$BIG")

say "ceilings"
for c in "$CONNS" 1000; do
	bench nginx-fixed "$c" "http://127.0.0.1:$CPORT/fixed" "$TOP/bench/post.lua"
	bench fcgi-fixed "$c" "http://127.0.0.1:$CPORT/fcgi-fixed" "$TOP/bench/post.lua"
	[ "$c" != 1000 ] || ceil0=$(cpu_snap_ceiling)
	bench fcgi-lua4 "$c" "http://127.0.0.1:$CPORT/fcgi-lua" "$TOP/bench/post.lua"
	[ "$c" != 1000 ] || ceil1=$(cpu_snap_ceiling)
done
# Requests a row's wrk run answered (its log's "N requests in").
answered() { awk '/ requests in / {print $1}' "$BVAR/log/wrk-$1.log"; }

# The purchase runs with the order-writer running, as in a real sale. Redis's CPU and command
# counters are read around the 1,000-connection run: per accepted unit, the writer's share in.
# Every order-writer process (the supervisors' children), paused and resumed together.
WRITER=$(for f in "$RUN/order-writer.pid" "$RUN"/order-writer-[0-9]*.extra.pid; do
	pgrep -P "$(cat "$f")" | head -1 || true
done | xargs)
[ "$(wc -w <<<"$WRITER")" -eq "$WRITERS" ] || die "not $WRITERS order-writer processes: $WRITER"
say "/seckill/do while stock lasts (order-writer running)"
s0=$(stock_left)
cpu0=$(redis_cpu)
reads0=$(redis_reads)
read -r calls0 usec0 <<<"$(redis_cmds)"
tiers0=$(cpu_snap "$RUN/redis.pid")
bench do-stock 1000 "http://127.0.0.1:$BPORT" "${DO[@]}"
tiers1=$(cpu_snap "$RUN/redis.pid")
s1=$(stock_left)
cpu1=$(redis_cpu)
reads1=$(redis_reads)
read -r calls1 usec1 <<<"$(redis_cmds)"
bench do-stock "$CONNS" "http://127.0.0.1:$BPORT" "${DO[@]}"
ACCEPTED=$((s0 - s1))
# The Lua ceiling once more right after (A-B-A): the purchase rows are given against the mean of
# both runs, so the box's drift between the first ceilings and the purchase is not in the ratio.
say "the Lua ceiling again"
for c in 1000 "$CONNS"; do
	bench fcgi-lua4-again "$c" "http://127.0.0.1:$CPORT/fcgi-lua" "$TOP/bench/post.lua"
done

# Drain: a backlog built with the writer paused, then drained while purchases keep arriving.
# The runs that build it are the purchase alone (do-stock-paused): against do-stock, they show
# what the writer's share of the two cores (its own CPU and MariaDB's) costs the accept path.
say "/seckill/do while stock lasts, order-writer paused (building the drain's backlog)"
kill -STOP $WRITER
for c in 1000 "$CONNS"; do
	bench do-stock-paused "$c" "http://127.0.0.1:$BPORT" "${DO[@]}"
done
say "order-writer drain while purchases arrive"
ID0=$(max_order_id)
o0=0
BACKLOG=$("${RCLI[@]}" XLEN "{a:$BIG}:intents")
wrk -t2 -c"$CONNS" -d"${DUR}s" --timeout 10s -s "$TOP/bench/do.lua" "http://127.0.0.1:$BPORT" \
	-- "$BVAR/tokens" "$BIG" >"$BVAR/log/wrk-drain.log" 2>&1 &
WRK=$!
sleep 0.3
t0=$(date +%s.%N)
kill -CONT $WRITER
o1=$o0 t1=$t0
while kill -0 "$WRK" 2>/dev/null; do
	sleep 0.5
	o1=$(orders_since "$BIG" "$ID0") t1=$(date +%s.%N)
	[ "$("${RCLI[@]}" XLEN "{a:$BIG}:intents")" -lt 50 ] && break
done
wait "$WRK" || true
DRAIN=$(python3 -c "print(round(($o1 - $o0) / max($t1 - $t0, 0.001)))")
DRAINED=$((o1 - o0))
# What the drain left: written before the next rows, which must not share the box with it.
stream_empty() {
	local deadline=$(($(date +%s) + 120))
	while [ "$("${RCLI[@]}" XLEN "{a:$BIG}:intents")" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]
	do
		sleep 0.5
	done
}
stream_empty

# Restart the seckill program with extra environment (config overrides): a variant, the WAIT row.
restart_seckill() {
	stop_pidfile "$RUN/seckill.pid"
	(
		export "$@"
		DOMAINS=seckill
		stack_fcgi_start "$BVAR" "$RUN"
	)
	wait_for 100 curl -sf -o /dev/null "http://127.0.0.1:$BPORT/seckill/v1/healthz" ||
		die "seckill did not come back"
}

if [ "${FLASHSALE_BENCH_VARIANTS:-}" = 1 ]; then
	say "/seckill/do while stock lasts, metrics off"
	restart_seckill FLASHSALE_METRICS_DIR=""
	bench do-stock-nometrics "$CONNS" "http://127.0.0.1:$BPORT" "${DO[@]}"
	say "/seckill/do while stock lasts, request log, tracing and metrics off"
	restart_seckill FLASHSALE_METRICS_DIR="" FLASHSALE_TRACE_SOCKET="" FLASHSALE_LOG_LEVEL=warn
	bench do-stock-quiet "$CONNS" "http://127.0.0.1:$BPORT" "${DO[@]}"
fi
# The largest seckill worker of this stack (its processes are the descendants of seckill.pid).
descendants() { for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
RSS=$(for p in $(descendants "$(cat "$RUN/seckill.pid")"); do
	case $(cat "/proc/$p/comm" 2>/dev/null) in flashsale-secki*) ps -o rss= -p "$p" ;; esac
done | sort -n | tail -1)

say "/seckill/do after sold out, answered by the program (no ?activityId)"
for c in "$CONNS" 1000; do
	bench do-soldout-prog "$c" "http://127.0.0.1:$BPORT" "$TOP/bench/do.lua" \
		"$BVAR/tokens.soldout" "$SOLDOUT" nohint
done
say "/seckill/do?activityId=N after sold out (the web server's marker)"
for c in "$CONNS" 1000; do
	bench do-soldout "$c" "http://127.0.0.1:$BPORT" "$TOP/bench/do.lua" \
		"$BVAR/tokens.soldout" "$SOLDOUT"
done
# The token route (not the hot path; it checks the session, the rules and, with a challenge,
# verifies the ALTCHA payload and marks it used in Redis).
say "/seckill/token without and with the proof-of-work challenge"
bench token-plain "$CONNS" "http://127.0.0.1:$BPORT" "$TOP/bench/token.lua" "$BVAR/tokens.plain" \
	"$BIG"
bench token-pow "$CONNS" "http://127.0.0.1:$BPORT" "$TOP/bench/token.lua" "$BVAR/tokens.pow" "$POW"
say "/product/v1/product/detail (cached)"
bench product-detail "$CONNS" "http://127.0.0.1:$BPORT/product/v1/product/detail?id=$PRODUCT" \
	"$TOP/bench/get.lua"
# The flash coupon claim (one Lua script, like /seckill/do), the coupon-writer paused too.
if [ -x "$BUILD/fcgi/coupon/flashsale-coupon" ]; then
	say "/coupon/v1/coupon/claim of a flash template (coupon-writer paused)"
	COUPON_TPL=$(FLASHSALE_URL="http://127.0.0.1:$BPORT" FLASHSALE_TEST_VAR="$BVAR" \
		FLASHSALE_TEST_RUN="$RUN" FLASHSALE_BUILD="$BUILD" python3 "$TOP/bench/coupon-prepare.py")
	CWRITER=$(pgrep -P "$(cat "$RUN/coupon-writer.pid" 2>/dev/null || echo 0)" | head -1 || true)
	if [ -n "$CWRITER" ]; then kill -STOP "$CWRITER"; fi
	bench coupon-claim "$CONNS" "http://127.0.0.1:$BPORT" "$TOP/bench/coupon.lua" "$BVAR/tokens" \
		"$COUPON_TPL"
	if [ -n "$CWRITER" ]; then kill -CONT "$CWRITER"; fi
	CWRITER=""
fi

say "waiting for the order-writer to finish the stream"
stream_empty
ORDERS=$(orders_of "$BIG")
SOLD=$(mariadb --socket="$RUN/mysql.sock" -uroot --batch --skip-column-names -e \
	"SELECT sold FROM flashsale_seckill.activity WHERE id = $BIG")

# The same purchase on a Redis Cluster (bench/cluster.sh; FLASHSALE_BENCH_CLUSTER=0 skips it).
CL_LINES=()
[ "${FLASHSALE_BENCH_CLUSTER:-1}" = 0 ] || source "$TOP/bench/cluster.sh"

echo
echo "== flashsale bench ($(nproc) cores, wrk -t2, ${DUR}s per run, $JOBS_PER_DOMAIN processes x" \
	"$THREADS threads, $WRITERS order-writers; logs in $BVAR/log)"
printf '%s\n' "${ROWS[@]}" | awk '
# Milliseconds of a wrk latency ("748.12ms", "1.20s", "950.00us").
function ms(v) {
	if (v ~ /us$/) return v * 1e-3
	if (v ~ /ms$/) return v + 0
	if (v ~ /s$/) return v * 1e3
	return v + 0
}
{ rows[NR] = $0; split($0, f, " "); rps[f[1] "@" f[2]] = f[3] }
# The Lua ceiling at c connections: the mean of its run before the purchase and the one after.
function lua4(c) {
	if (!(("fcgi-lua4-again@" c) in rps))
		return rps["fcgi-lua4@" c]
	return (rps["fcgi-lua4@" c] + rps["fcgi-lua4-again@" c]) / 2
}
END {
	printf "%-17s %5s %10s %9s %9s %8s  %s\n", "path", "conns", "req/s", "p50", "p99",
		"non-2xx", "against the ceiling (DESIGN.md target)"
	for (i = 1; i <= NR; i++) {
		split(rows[i], f, " ")
		n = f[1]; c = f[2]; r = f[3]; ratio = "-"
		if (n == "do-stock-paused") {
			ratio = sprintf("%.2fx fcgi-lua4, %.2fx do-stock (writer paused: the front alone)",
				r / lua4(c), r / rps["do-stock@" c])
		} else if (n ~ /^do-stock/) {
			ratio = sprintf("%.2fx fcgi-lua4 (>= 0.75)", r / lua4(c))
			if (c == 1000) {
				little = 1000 * c / r
				ratio = ratio sprintf("; Little %.0fms, p99 %.2fx (<= 2)", little,
					ms(f[5]) / little)
			}
		}
		if (n ~ /^cluster-/)
			ratio = sprintf("%.2fx do-stock", r / rps["do-stock@" c])
		# Against the mean of cluster-hot and its rerun cluster-hot-again (A-B-A).
		if (n == "cluster-hot-wait1" || n == "cluster-spread")
			ratio = ratio sprintf(", %.2fx cluster-hot", 2 * r / (rps["cluster-hot@" c] + \
				rps["cluster-hot-again@" c]))
		if (n == "token-pow")
			ratio = sprintf("%.2fx token-plain", r / rps["token-plain@" c])
		if (n == "coupon-claim")
			ratio = sprintf("%.2fx fcgi-lua4", r / lua4(c))
		if (n == "fcgi-lua4-again")
			ratio = sprintf("%.2fx fcgi-lua4 (drift of the ceiling; ratios use the mean)",
				r / rps["fcgi-lua4@" c])
		if (n == "do-soldout-prog")
			ratio = sprintf("%.2fx fcgi-fixed (>= 0.8)", r / rps["fcgi-fixed@" c])
		if (n == "do-soldout" || n == "product-detail")
			ratio = sprintf("%.2fx nginx-fixed (>= 0.5)", r / rps["nginx-fixed@" c])
		printf "%-17s %5s %10s %9s %9s %8s  %s\n", n, c, r, f[4], f[5], f[6], ratio
	}
}'
python3 - "$ACCEPTED" "$cpu0" "$cpu1" "$calls0" "$calls1" "$usec0" "$usec1" "$reads0" "$reads1" <<'EOF'
import sys
n, c0, c1, k0, k1, u0, u1, r0, r1 = (float(x) for x in sys.argv[1:])
n = max(n, 1)
print("Redis per accepted purchase (do-stock @1000, writer running, %d accepted): "
      "%.1f us CPU (INFO cpu; target <= 50), %.1f commands, %.1f us in scripts and stream reads "
      "(commandstats), %.2f socket reads (INFO stats)"
      % (n, (c1 - c0) * 1e6 / n, (k1 - k0) / n, (u1 - u0) / n, (r1 - r0) / n))
EOF
cpu_line "do-stock @1000" "accepted purchase" "$CPU_STACK" "$ACCEPTED" "$tiers0" "$tiers1"
cpu_line "fcgi-lua4 @1000" "request" "$CPU_CEILING" "$(answered fcgi-lua4-1000)" "$ceil0" "$ceil1"
echo "order-writer drain while purchases arrive: $DRAIN orders/s ($DRAINED orders; backlog" \
	"$BACKLOG; target >= 10000)"
echo "orders in MySQL for the activity: $ORDERS, sold: $SOLD (must be equal)"
echo "largest seckill worker RSS: ${RSS:-?} KiB (target < 16384)"
echo "(do-soldout answers are 409 by design: all of them count as non-2xx)"
[ ${#CL_LINES[@]} -eq 0 ] || printf 'cluster: %s\n' "${CL_LINES[@]}"
