# shellcheck shell=bash
# cpu.sh - sourced by bench/run.sh: the CPU each tier of the bench stack spends around a run,
# from /proc (utime + stime of every process of a tier, its threads included), so the table's
# throughput can be turned into a limit per core for each tier (README, "Scaling out").

CPU_TCK=$(getconf CLK_TCK)

# A process and every process under it.
cpu_tree() {
	local c
	echo "$1"
	for c in $(pgrep -P "$1"); do cpu_tree "$c"; done
}

# Ticks (utime + stime) of the process trees of the pid files given.
cpu_ticks() {
	local f p
	for f in "$@"; do
		[ -f "$f" ] || continue
		for p in $(cpu_tree "$(cat "$f")"); do
			# The fields after "(comm)": utime and stime are the 12th and 13th.
			sed 's/.*) //' "/proc/$p/stat" 2>/dev/null
		done
	done | awk '{s += $12 + $13} END {printf "%d", s}'
}

# The box's busy and total ticks (/proc/stat's cpu line, every core).
cpu_box() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }

# One snapshot of the stack: "seckill nginx redis order-writer mariadb box-busy box-all" in
# ticks; the Redis processes are the pid files given (the single server, or the cluster's nodes).
cpu_snap() {
	local r=$RUN
	printf '%s %s %s %s %s %s\n' "$(cpu_ticks "$r/seckill.pid" "$r"/seckill-[0-9]*.extra.pid)" \
		"$(cpu_ticks "$r/nginx.pid")" "$(cpu_ticks "$@")" \
		"$(cpu_ticks "$r/order-writer.pid" "$r"/order-writer-[0-9]*.extra.pid)" \
		"$(cpu_ticks "$r/mysqld.pid")" "$(cpu_box)"
}
CPU_STACK="seckill nginx redis order-writer mariadb"

# One snapshot of the Lua ceiling: "fcgi-lua4 nginx redis box-busy box-all" (its program, its
# nginx, its non-persistent Redis), for the same line as the purchase's.
cpu_snap_ceiling() {
	printf '%s %s %s %s\n' "$(cpu_ticks "$RUN/ceiling-lua4.extra.pid")" \
		"$(cpu_ticks "$RUN/ceiling-nginx.extra.pid")" \
		"$(cpu_ticks "$RUN/ceiling-redis.extra.pid")" "$(cpu_box)"
}
CPU_CEILING="fcgi-lua4 nginx redis"

# "LABEL: CPU per WHAT by tier ..." from two snapshots of the TIERS named (CPU_STACK,
# CPU_CEILING) and the count of WHAT (purchases accepted, requests answered).
cpu_line() {
	python3 - "$CPU_TCK" "$(nproc)" "$@" <<'EOF'
import sys
tck, ncpu, label, what, tiers, n, a, b = sys.argv[1:]
n = max(int(n), 1)
names = tiers.split()
d = [int(y) - int(x) for x, y in zip(a.split(), b.split())]
k = len(names)
wall = max(d[k + 1], 1) / int(ncpu)  # ticks of wall time (the cpu line sums every core's)
print("%s: CPU per %s by tier (/proc): %s, sum %.0f us; the box busy %.2f of %s cores, these "
      "tiers %.2f (the rest: wrk, other work)" % (
          label, what, ", ".join("%s %.0f us" % (t, x * 1e6 / int(tck) / n)
                                 for t, x in zip(names, d[:k])),
          sum(d[:k]) * 1e6 / int(tck) / n, d[k] / wall, ncpu, sum(d[:k]) / wall))
EOF
}
