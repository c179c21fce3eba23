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
# FLASHSALE_BENCH_USERS (2000), FLASHSALE_BENCH_KEEP=1 leaves the stack running.
set -euo pipefail
TOP=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
BUILD=${FLASHSALE_BUILD:-$TOP/build}
PORT=${FLASHSALE_PORT:-8080}
VAR=${FLASHSALE_VAR:-$TOP/var}
source "$TOP/tools/stack.sh"

BVAR=${FLASHSALE_BENCH_VAR:-$VAR/bench}
BPORT=${FLASHSALE_BENCH_PORT:-$((PORT + 20000))}
CPORT=$((BPORT + 1))
DUR=${FLASHSALE_BENCH_DURATION:-10}
CONNS=${FLASHSALE_BENCH_CONNS:-200}
USERS=${FLASHSALE_BENCH_USERS:-2000}
CEILING_ID=900000000 # an activity id only the ceiling program uses (never in MySQL)
export FLASHSALE_SECKILL_TOKEN_TTL=3600
# Production's trace sampling (the test-mode config traces every request).
export FLASHSALE_TRACE_SAMPLE_PERCENT=${FLASHSALE_TRACE_SAMPLE_PERCENT:-1}

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
ulimit -n 65536 2>/dev/null || true

# Stop what this run started (the stack stops *.extra.pid files too).
cleanup() {
	[ -n "${WRITER:-}" ] && kill -CONT "$WRITER" 2>/dev/null
	[ -n "${CWRITER:-}" ] && kill -CONT "$CWRITER" 2>/dev/null
	[ "${FLASHSALE_BENCH_KEEP:-}" = 1 ] || stack_down "$BVAR" quiet
}

mkdir -p "$BVAR"
stack_down "$BVAR" quiet
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

say "starting the ceilings on 127.0.0.1:$CPORT"
sh "$TOP/tools/lua2c.sh" "$BVAR/lua-scripts.c" "$TOP/lua/purchase.lua" &&
	cc -O2 -o "$BVAR/ceiling-fcgi" "$TOP/bench/ceiling-fcgi.c" "$BVAR/lua-scripts.c" -lfcgi -lhiredis ||
	die "cannot build bench/ceiling-fcgi.c"
"${RCLI[@]}" HSET "{a:$CEILING_ID}:info" start 0 end 4102444800 limit 1000000000 price 100 \
	product 1 status 0 stock 1000000000 >/dev/null
"${RCLI[@]}" SET "{a:$CEILING_ID}:stock" 1000000000 >/dev/null
rm -f "$RUN/ceiling.sock"
spawn-fcgi -s "$RUN/ceiling.sock" -M 0660 -G www-data -P "$RUN/ceiling-fcgi.extra.pid" -- \
	/usr/bin/multiwatch -f "$JOBS_PER_DOMAIN" -- "$BVAR/ceiling-fcgi" "$RUN/redis.sock" \
	"$CEILING_ID" >/dev/null
nuser=www-data
runuser -u www-data -- test -r "$TOP/www/index.html" 2>/dev/null || nuser=root
mkdir -p "$BVAR/ceiling-nginx"
cat >"$BVAR/ceiling-nginx/nginx.conf" <<EOF
# The bench's ceilings: the same nginx settings as the stack, nothing behind the fixed body.
user $nuser;
worker_processes 2;
pid $RUN/ceiling-nginx.extra.pid;
error_log $BVAR/log/ceiling-nginx-error.log warn;
events { worker_connections 8192; }
http {
	keepalive_timeout 30;
	client_body_temp_path $BVAR/ceiling-nginx/body;
	fastcgi_temp_path $BVAR/ceiling-nginx/fastcgi;
	# What every answer of the stack's server carries too: an access log line, the
	# request id and security headers, the FastCGI parameters (nginx.conf).
	log_format fs_main '\$remote_addr [\$time_iso8601] "\$request" \$status \$body_bytes_sent '
			   '\$request_time rid=\$request_id ua="\$http_user_agent"';
	server {
		listen 127.0.0.1:$CPORT;
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
		location = /fcgi {
			fastcgi_pass unix:$RUN/ceiling.sock;
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

say "ceilings"
bench nginx-fixed "$CONNS" "http://127.0.0.1:$CPORT/fixed" "$TOP/bench/post.lua"
bench fcgi-lua "$CONNS" "http://127.0.0.1:$CPORT/fcgi" "$TOP/bench/post.lua"
bench fcgi-lua 1000 "http://127.0.0.1:$CPORT/fcgi" "$TOP/bench/post.lua"

# The order-writer pauses during the purchase runs so they fill its stream; its drain rate is
# measured afterwards on that backlog.
WRITER=$(pgrep -P "$(cat "$RUN/order-writer.pid")" | head -1 || true)
[ -n "$WRITER" ] && kill -STOP "$WRITER"
say "/seckill/do while stock lasts (order-writer paused)"
bench do-stock "$CONNS" "http://127.0.0.1:$BPORT" "$TOP/bench/do.lua" "$BVAR/tokens" "$BIG"
bench do-stock 1000 "http://127.0.0.1:$BPORT" "$TOP/bench/do.lua" "$BVAR/tokens" "$BIG"
# Restart the seckill program with extra environment (config overrides) for one variant.
restart_seckill() {
	stop_pidfile "$RUN/seckill.pid"
	(
		export "$@"
		DOMAINS=seckill
		stack_fcgi_start "$BVAR" "$RUN"
	)
	wait_for 50 curl -sf -o /dev/null "http://127.0.0.1:$BPORT/seckill/v1/healthz" ||
		die "seckill did not come back"
}
# The same with the shared-memory metrics off: what counting every request costs.
say "/seckill/do while stock lasts, metrics off"
restart_seckill FLASHSALE_METRICS_DIR=""
bench do-stock-nometrics "$CONNS" "http://127.0.0.1:$BPORT" "$TOP/bench/do.lua" "$BVAR/tokens" \
	"$BIG"
# And with the per-request log line, trace sampling and metrics all off (the ceiling program
# has none of them): what the layers of the framework cost on the hot path.
say "/seckill/do while stock lasts, request log, tracing and metrics off"
restart_seckill FLASHSALE_METRICS_DIR="" FLASHSALE_TRACE_SOCKET="" FLASHSALE_LOG_LEVEL=warn
bench do-stock-quiet "$CONNS" "http://127.0.0.1:$BPORT" "$TOP/bench/do.lua" "$BVAR/tokens" "$BIG"
say "/seckill/do after sold out"
bench do-soldout "$CONNS" "http://127.0.0.1:$BPORT" "$TOP/bench/do.lua" \
	"$BVAR/tokens.soldout" "$SOLDOUT"
bench do-soldout 1000 "http://127.0.0.1:$BPORT" "$TOP/bench/do.lua" \
	"$BVAR/tokens.soldout" "$SOLDOUT"
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

BACKLOG=$("${RCLI[@]}" XLEN "{a:$BIG}:intents")
say "order-writer drain: $BACKLOG intents queued"
t0=$(date +%s.%N)
[ -n "$WRITER" ] && kill -CONT "$WRITER"
WRITER=""
deadline=$(($(date +%s) + 120))
left=$BACKLOG
while [ "$left" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do
	sleep 0.2
	left=$("${RCLI[@]}" XLEN "{a:$BIG}:intents")
done
t1=$(date +%s.%N)
DRAIN=$(python3 -c "print(round(($BACKLOG - $left) / max($t1 - $t0, 0.001)))")
ORDERS=$(mariadb --socket="$RUN/mysql.sock" -uroot --batch --skip-column-names -e \
	"SELECT COUNT(*) FROM flashsale_order.orders WHERE activity_id = $BIG")
SOLD=$(mariadb --socket="$RUN/mysql.sock" -uroot --batch --skip-column-names -e \
	"SELECT sold FROM flashsale_seckill.activity WHERE id = $BIG")
RSS=$(for p in $(pgrep -P "$(cat "$RUN/seckill.pid")"); do ps -o rss= -p "$p"; done |
	sort -n | tail -1)

echo
echo "== flashsale bench ($(nproc) cores, wrk -t2, ${DUR}s per run; logs in $BVAR/log)"
printf '%s\n' "${ROWS[@]}" | awk -v ofix="$(printf '%s\n' "${ROWS[@]}" |
	awk '$1 == "nginx-fixed" {print $3}')" -v ofcgi="$(printf '%s\n' "${ROWS[@]}" |
	awk -v c="$CONNS" '$1 == "fcgi-lua" && $2 == c {print $3}')" '
BEGIN {
	printf "%-18s %6s %10s %9s %9s %9s  %s\n", "path", "conns", "req/s", "p50", "p99",
		"non-2xx", "ratio"
}
$1 == "fcgi-lua" && $2 == 1000 { f1000 = $3 }
$1 == "token-plain" { tplain = $3 }
{
	ratio = "-"
	if ($1 ~ /^do-stock/ || $1 == "coupon-claim") {
		base = ($2 == 1000 && f1000) ? f1000 : ofcgi
		ratio = sprintf("%.0f%% of fcgi-lua (target >= 90%%)", 100 * $3 / base)
	}
	if ($1 == "token-pow" && tplain)
		ratio = sprintf("%.0f%% of token-plain", 100 * $3 / tplain)
	if ($1 == "do-soldout" || $1 == "product-detail")
		ratio = sprintf("%.0f%% of nginx-fixed (target >= 50%%)", 100 * $3 / ofix)
	printf "%-18s %6s %10s %9s %9s %9s  %s\n", $1, $2, $3, $4, $5, $6, ratio
}'
echo "order-writer drain: $DRAIN orders/s ($((BACKLOG - left)) of $BACKLOG intents; target >= 5000)"
echo "orders in MySQL for the activity: $ORDERS, sold: $SOLD (must be equal)"
echo "largest seckill worker RSS: ${RSS:-?} KiB (target < 16384)"
echo "(do-soldout answers are 409 by design: all of them count as non-2xx)"
