#!/usr/bin/env bash
# redis-cluster.sh - a loopback Redis Cluster of 3 masters + 3 replicas for tests.
#   tools/redis-cluster.sh start DIR BASEPORT   nodes on 127.0.0.1:BASEPORT..BASEPORT+5, state in DIR
#   tools/redis-cluster.sh stop DIR             kill what start left (pid files DIR/node-PORT.pid)
#   tools/redis-cluster.sh nodes DIR            print host:port,host:port,... (the seed list)
# Each node: cluster-enabled, cluster-node-timeout 2000, AOF with fsync always, bound to 127.0.0.1.
# The cluster bus uses port+10000.
set -euo pipefail

NODES=6

# Fail with a message.
die() {
	echo "redis-cluster: $*" >&2
	exit 1
}

# Poll a command every 0.1 s for up to N tenths.
poll() {
	local n=$1
	shift
	for _ in $(seq "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# Does node PORT report cluster_state:ok?
state_ok() {
	redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

# Is every node ok, seeing 3 replicas, and every replica in sync with its master?
all_ok() {
	local base=$1 p
	for p in $(seq "$base" $((base + NODES - 1))); do
		state_ok "$p" || return 1
		[ "$(redis-cli -h 127.0.0.1 -p "$p" cluster nodes | grep -c slave)" -eq 3 ] || return 1
		redis-cli -h 127.0.0.1 -p "$p" info replication |
			grep -Eq '^(role:master|master_link_status:up)' || return 1
	done
}

# Start the nodes and create the cluster.
start() {
	local dir=$1 base=$2 p addrs=()
	[ "$base" -ge 1024 ] && [ "$((base + NODES - 1 + 10000))" -le 65535 ] ||
		die "BASEPORT must leave room for the bus ports (port+10000 <= 65535)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	for p in $(seq "$base" $((base + NODES - 1))); do
		mkdir -p "$dir/$p"
		redis-server --port "$p" --bind 127.0.0.1 --protected-mode no \
			--cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" \
			--cluster-node-timeout 2000 --appendonly yes --appendfsync always --save '' \
			--dir "$dir/$p" --daemonize yes --pidfile "$dir/node-$p.pid" \
			--logfile "$dir/node-$p.log" || die "node $p did not start"
		addrs+=("127.0.0.1:$p")
	done
	for p in $(seq "$base" $((base + NODES - 1))); do
		poll 100 redis-cli -h 127.0.0.1 -p "$p" ping || die "node $p does not answer"
	done
	printf '%s\n' "${addrs[@]}" | paste -sd, >"$dir/nodes"
	if ! state_ok "$base"; then
		redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
			>"$dir/create.log" 2>&1 || { cat "$dir/create.log" >&2; die "create failed"; }
	fi
	poll 600 all_ok "$base" || die "cluster_state is not ok after 60 s"
	echo "redis cluster up: $(cat "$dir/nodes")"
}

# Kill every node this DIR started (pid files), then wait for them to go.
stop() {
	local dir=$1 f pid
	[ -d "$dir" ] || return 0
	for f in "$dir"/node-*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		if kill -0 "$pid" 2>/dev/null && grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			poll 50 sh -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$f"
	done
}

case "${1:-}" in
start) [ $# -eq 3 ] || die "usage: start DIR BASEPORT"; start "$2" "$3" ;;
stop) [ $# -ge 2 ] || die "usage: stop DIR"; stop "$2" ;;
nodes) cat "$2/nodes" ;;
*) die "usage: $0 start DIR BASEPORT | stop DIR | nodes DIR" ;;
esac
