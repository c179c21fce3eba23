# shellcheck shell=bash disable=SC2163,SC2034
# cluster.sh - sourced by bench/run.sh after its single-node rows: the same /seckill/do on a
# Redis Cluster of 3 masters + 3 replicas (tools/redis-cluster.sh, AOF `always` like the single
# node) on 127.0.0.1:FLASHSALE_PORT+60..65 (FLASHSALE_BENCH_CLUSTER_PORT; the bus on +10000: both
# below the ephemeral ports, which wrk's 1,000 client connections take). The bench stack's
# programs and daemons move onto it ([redis] cluster through FLASHSALE_REDIS_CLUSTER, one seckill socket set and one
# order-writer as in the single-node rows), bench/cluster-prepare.py makes users, activities and
# tokens there, and wrk measures at the same connections:
#   cluster-hot        one activity (all its keys on one master)
#   cluster-hot-wait1  cluster-hot with redis.wait_replicas = 1 (WAIT 1 <wait_timeout_ms>), between
#   cluster-hot-again  cluster-hot and this rerun of it, so its cost is read against their mean
#   cluster-spread     the same users over 6 activities, 2 on each master
# Appends to ROWS; CL_LINES holds what run.sh prints after the table. Uses run.sh's globals.

CL_DIR="$BVAR/redis-cluster"
CL_BASE=${FLASHSALE_BENCH_CLUSTER_PORT:-$((PORT + 60))}
CL_LINES=()

# The cluster's nodes of one role (master or slave): host:port lines, from the first node.
cl_nodes() {
	redis-cli -h 127.0.0.1 -p "$CL_BASE" CLUSTER NODES |
		awk -v role="$1" '$3 ~ role && $3 !~ /fail/ {split($2, a, "@"); print a[1]}'
}
# One command on one node host:port.
cl_node() {
	local addr=$1
	shift
	redis-cli -h "${addr%:*}" -p "${addr##*:}" "$@"
}
# CPU seconds (user + sys) of each node given, comma-separated.
cl_cpu() {
	local n
	for n in "$@"; do
		cl_node "$n" INFO cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f\n", s}'
	done | paste -sd,
}
# A number summed over activities: CMD of each one's key PART (redis-cli -c follows MOVED).
cl_sum() {
	local cmd=$1 part=$2 a s=0
	shift 2
	for a in "$@"; do
		s=$((s + $(redis-cli -c -h 127.0.0.1 -p "$CL_BASE" "$cmd" "{a:$a}:$part")))
	done
	echo "$s"
}
# Units left, and intents waiting in the streams, summed over activities.
cl_stock() { cl_sum GET stock "$@"; }
cl_backlog() { cl_sum XLEN intents "$@"; }
# A counter of the seckill program's /metrics (summed over its lines).
cl_metric() {
	{ curl -sf "http://127.0.0.1:$BPORT/seckill/v1/metrics" || true; } |
		awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%d", s}'
}

# Restart the programs and daemons (DOMAINS, DAEMONS) with the environment given, e.g.
# FLASHSALE_REDIS_CLUSTER=seeds; nginx reloads (its FastCGI sockets were made anew).
cl_restart() {
	local files=("$RUN/usercenter-auth.extra.pid") d
	for d in $DOMAINS $DAEMONS; do files+=("$RUN/$d.pid"); done
	for d in "$RUN"/order-writer-[0-9]*.extra.pid; do [ -e "$d" ] && files+=("$d"); done
	stop_pidfiles "${files[@]}"
	(
		export "$@"
		stack_fcgi_start "$BVAR" "$RUN"
		stack_daemons_start "$BVAR" "$RUN"
	)
	nginx -c "$BVAR/nginx/nginx.conf" -e "$BVAR/log/nginx-error.log" -s reload
	for d in usercenter product seckill; do
		wait_for 100 curl -sf -o /dev/null "http://127.0.0.1:$BPORT/$d/v1/healthz" ||
			die "$d is not answering on the cluster"
	done
}
# One cluster row at each connection count: name, activities it buys from, wrk args...; the
# Redis CPU of the masters (and of the replicas) per accepted purchase, and the WAITs.
cl_row() {
	local name=$1 ids=$2 c s0 m0 r0 w0 k0 s1 m1 r1 w1 k1 n t0 t1
	shift 2
	for c in 1000 "$CONNS"; do
		# shellcheck disable=SC2086
		s0=$(cl_stock $ids) m0=$(cl_cpu "${CL_MASTERS[@]}") r0=$(cl_cpu "${CL_REPLICAS[@]}")
		w0=$(cl_metric flashsale_seckill_wait_total)
		k0=$(cl_metric flashsale_seckill_wait_short_total)
		t0=$(cpu_snap "$CL_DIR"/node-*.pid)
		bench "$name" "$c" "http://127.0.0.1:$BPORT" "$@"
		t1=$(cpu_snap "$CL_DIR"/node-*.pid)
		# shellcheck disable=SC2086
		s1=$(cl_stock $ids) m1=$(cl_cpu "${CL_MASTERS[@]}") r1=$(cl_cpu "${CL_REPLICAS[@]}")
		w1=$(cl_metric flashsale_seckill_wait_total)
		k1=$(cl_metric flashsale_seckill_wait_short_total)
		n=$((s0 - s1))
		CL_LINES+=("$(python3 -c '
import sys
name, c, n, m0, m1, r0, r1, w, k = sys.argv[1:]
d = max(int(n), 1)
used = lambda a, b: [float(y) - float(x) for x, y in zip(a.split(","), b.split(","))]
m, r = used(m0, m1), used(r0, r1)
line = "%-17s @%-4s %7s accepted; Redis CPU per purchase: %.1f us on the masters (%s), " \
       "%.1f us on the replicas" % (name, c, n, sum(m) * 1e6 / d,
                                    " / ".join("%.0f%%" % (100 * x / max(sum(m), 1e-9)) for x in m),
                                    sum(r) * 1e6 / d)
if int(w):
    line += "; %s WAITs, %s short" % (w, k)
print(line)' "$name" "$c" "$n" "$m0" "$m1" "$r0" "$r1" $((w1 - w0)) $((k1 - k0)))")
		[ "$c" != 1000 ] || CL_LINES+=("$(cpu_line "$name @1000 (redis: the 6 nodes)" "accepted purchase" "$CPU_STACK" "$n" "$t0" "$t1")")
	done
}

read -r CL_EPHEMERAL _ </proc/sys/net/ipv4/ip_local_port_range
[ $((CL_BASE + 10005)) -lt "$CL_EPHEMERAL" ] ||
	die "the cluster's bus ports ($((CL_BASE + 10000))..) are ephemeral ports: set FLASHSALE_BENCH_CLUSTER_PORT"
"$TOP/tools/redis-cluster.sh" stop "$CL_DIR"
rm -rf "$CL_DIR"
say "starting a Redis Cluster (3 masters + 3 replicas, AOF always) on 127.0.0.1:$CL_BASE-$((CL_BASE + 5))"
"$TOP/tools/redis-cluster.sh" start "$CL_DIR" "$CL_BASE" >"$BVAR/log/redis-cluster.log" 2>&1 ||
	{ cat "$BVAR/log/redis-cluster.log" >&2; die "the bench's Redis Cluster did not start"; }
CL_SEEDS=$("$TOP/tools/redis-cluster.sh" nodes "$CL_DIR")
mapfile -t CL_MASTERS < <(cl_nodes master)
mapfile -t CL_REPLICAS < <(cl_nodes slave)
[ "${#CL_MASTERS[@]}" -eq 3 ] || die "the cluster has ${#CL_MASTERS[@]} masters, not 3"
say "moving the bench stack's programs and daemons onto the cluster"
cl_restart FLASHSALE_REDIS_CLUSTER="$CL_SEEDS"
WRITER="" # the single-node writer run.sh paused once is gone
say "preparing $USERS users, their tokens and activities on the cluster"
CL_IDS=$(FLASHSALE_URL="http://127.0.0.1:$BPORT" FLASHSALE_TEST_VAR="$BVAR" FLASHSALE_TEST_RUN="$RUN" \
	FLASHSALE_BUILD="$BUILD" FLASHSALE_REDIS_CLUSTER="$CL_SEEDS" \
	python3 "$TOP/bench/cluster-prepare.py" "$USERS" "$BVAR/tokens")
CL_HOT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["hot"])' "$CL_IDS")
CL_SPREAD=$(python3 -c 'import json,sys; print(*json.loads(sys.argv[1])["spread"])' "$CL_IDS")
CL_WHERE=$(python3 -c 'import json,sys; d = json.loads(sys.argv[1]); m = d["master"]
print("hot %s on %s; spread %s" % (d["hot"], m[str(d["hot"])],
      ", ".join("%s on %s" % (a, m[str(a)]) for a in d["spread"])))' "$CL_IDS")
say "activities' masters (CLUSTER KEYSLOT of {a:ID}:stock, CLUSTER NODES): $CL_WHERE"
CL_LINES+=("masters ${CL_MASTERS[*]} (replicas ${CL_REPLICAS[*]}); activities: $CL_WHERE")

say "/seckill/do on the cluster, one hot activity (order-writer running)"
cl_row cluster-hot "$CL_HOT" "$TOP/bench/do.lua" "$BVAR/tokens.cluster-hot" "$CL_HOT"
CL_WAIT_MS=$(awk -F' *= *' '/^\[/ {sec = $0} sec == "[redis]" && $1 == "wait_timeout_ms" {print $2}' \
	"$BVAR/flashsale.conf")
CL_WAIT_MS=${FLASHSALE_REDIS_WAIT_TIMEOUT_MS:-${CL_WAIT_MS:-50}}
say "/seckill/do on the cluster, one hot activity, redis.wait_replicas = 1 (WAIT 1 $CL_WAIT_MS)"
restart_seckill FLASHSALE_REDIS_CLUSTER="$CL_SEEDS" FLASHSALE_REDIS_WAIT_REPLICAS=1 \
	FLASHSALE_REDIS_WAIT_TIMEOUT_MS="$CL_WAIT_MS"
cl_row cluster-hot-wait1 "$CL_HOT" "$TOP/bench/do.lua" "$BVAR/tokens.cluster-hot" "$CL_HOT"
restart_seckill FLASHSALE_REDIS_CLUSTER="$CL_SEEDS"
# A-B-A: cluster-hot once more, so the box's drift between runs shows beside WAIT's cost.
say "/seckill/do on the cluster, one hot activity again (no WAIT)"
cl_row cluster-hot-again "$CL_HOT" "$TOP/bench/do.lua" "$BVAR/tokens.cluster-hot" "$CL_HOT"
say "/seckill/do on the cluster, the same users over activities on every master"
cl_row cluster-spread "$CL_SPREAD" "$TOP/bench/do.lua" "$BVAR/tokens.cluster-spread" "$CL_HOT"

say "waiting for the order-writer to finish the cluster's streams"
deadline=$(($(date +%s) + 120))
# shellcheck disable=SC2086
while [ "$(cl_backlog $CL_HOT $CL_SPREAD)" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do
	sleep 0.5
done
# shellcheck disable=SC2086
CL_IN=$(printf '%s,' $CL_HOT $CL_SPREAD)
CL_IN=${CL_IN%,}
CL_ORDERS=$(mariadb --socket="$RUN/mysql.sock" -uroot --batch --skip-column-names -e \
	"SELECT COUNT(*) FROM flashsale_order.orders WHERE activity_id IN ($CL_IN)")
CL_SOLD=$(mariadb --socket="$RUN/mysql.sock" -uroot --batch --skip-column-names -e \
	"SELECT COALESCE(SUM(sold), 0) FROM flashsale_seckill.activity WHERE id IN ($CL_IN)")
CL_LINES+=("orders in MySQL for the cluster's activities: $CL_ORDERS, sold: $CL_SOLD (must be equal)")
