# stack.sh - functions behind ./flashsale: start and stop a local stack (process control).
# Sourced by ./flashsale and tools/run-tests.sh; expects TOP and BUILD. Installing and building
# are in tools/stack-install.sh, ports, secrets and config files in tools/stack-config.sh
# (templates in tools/stack/). Servers run from project-local directories, never as system
# services; started as root, everything but the web servers' masters runs as $STACK_USER.

# FastCGI domains and supervised daemon jobs (each started when its binary is built).
DOMAINS="usercenter product seckill order payment coupon"
DAEMONS=${FLASHSALE_DAEMONS:-"order-writer order-events notify trace-exporter coupon-writer"}
JOBS_PER_DOMAIN=${FLASHSALE_WORKERS:-4}
# Workers of usercenter's password-hashing pool (register, login).
HASH_WORKERS=${FLASHSALE_HASH_WORKERS:-2}
# Redis never evicts (stock, sessions and intents live there): past this it refuses writes.
REDIS_MAXMEMORY=${FLASHSALE_REDIS_MAXMEMORY:-1gb}

say() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'flashsale: %s\n' "$*" >&2
	exit 1
}

source "$TOP/tools/stack-install.sh"
source "$TOP/tools/stack-config.sh"
source "$TOP/tools/stack-replica.sh"

# Wait until a command succeeds (up to $1 tenths of a second).
wait_for() {
	local n=$1
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}

# Set STACK_RUN_AS (once): the stack's user when running as root, it exists and it can reach
# the checkout (a clone under /root is not), else empty: everything then runs as the caller.
stack_run_as() {
	[ -n "${STACK_RUN_AS+set}" ] && return 0
	STACK_RUN_AS=""
	[ "$(id -u)" -eq 0 ] && getent passwd "$STACK_USER" >/dev/null || return 0
	if setpriv --reuid="$STACK_USER" --regid="$STACK_USER" --init-groups -- \
		test -r "$TOP/tools/fcgi-worker.sh" -a -x "${BUILD:-$TOP}" 2>/dev/null; then
		STACK_RUN_AS=$STACK_USER
	else
		say "warning: user $STACK_USER cannot reach $TOP; the stack runs as root" \
			"(make the parent directories searchable, e.g. chmod o+x, to fix it)"
	fi
	return 0
}

# Run a command as the stack's user (as the caller when that is not root).
as_stack() {
	stack_run_as
	if [ -n "$STACK_RUN_AS" ]; then
		setpriv --reuid="$STACK_RUN_AS" --regid="$STACK_RUN_AS" --init-groups -- "$@"
	else
		"$@"
	fi
}

# Give paths to the stack's user (a no-op unless running as root).
stack_own() {
	stack_run_as
	[ -z "$STACK_RUN_AS" ] || chown "$STACK_RUN_AS:$STACK_RUN_AS" "$@" ||
		die "chown $STACK_RUN_AS $* failed"
}

# Log files the stack's programs open themselves: created here, owned by the stack's user.
stack_logfiles() {
	local var=$1 n
	shift
	for n in "$@"; do touch "$var/log/$n.log"; done
	for n in "$@"; do stack_own "$var/log/$n.log"; done
}

# Directory of sockets: under VAR when the web server's user can reach it and paths are short.
stack_rundir() {
	local var=$1 run="$1/run"
	if [ ${#run} -gt 90 ] || ! runuser -u "$STACK_WEB_USER" -- test -x "$var" 2>/dev/null; then
		run="/tmp/flashsale-run-$(printf '%s' "$var" | md5sum | cut -c1-12)"
	fi
	printf '%s\n' "$run"
}

# The run directory: sockets, pid files, metrics and markers; only the stack's group enters it
# (the web servers' user is a member), so no other local user reaches MariaDB, Redis or FastCGI.
stack_rundir_make() {
	local var=$1 run=$2
	mkdir -p "$run/soldout"
	chmod 0750 "$run" "$run/soldout"
	stack_run_as
	# What a stack of an older layout (everything root's) left there becomes the user's too.
	[ -z "$STACK_RUN_AS" ] || chown -R "$STACK_RUN_AS:$STACK_RUN_AS" "$run" ||
		die "chown $run failed"
	[ "$run" = "$var/run" ] || ln -sfn "$run" "$var/run"
}

# Start the WeChat Pay simulator (tools/wxpay-sim) for the stack's [wxpay] merchant.
stack_wxpay_sim_start() {
	local var=$1 run=$2 port=$3 sec="$1/secrets" sport=$PORT_SIM
	if (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null; then
		die "port $sport (WeChat Pay simulator) is taken (set FLASHSALE_PORT)"
	fi
	# The APIv3 key goes by environment, not argv (ps shows argv to every user).
	(WXPAY_SIM_APIV3_KEY="$(cat "$sec/wxpay_apiv3_key")" WXPAY_SIM_WX_SECRET="$(cat "$sec/wx_secret")" \
		WXPAY_SIM_SMS_SECRET="$(cat "$sec/sms_secret")" setsid node "$TOP/tools/wxpay-sim/sim.mjs" \
		--port "$sport" --mchid "$WX_MCHID" \
		--appid "$WX_APPID" --merchant-serial "$(cat "$sec/wxpay_merchant_serial")" \
		--merchant-public-key "$sec/wxpay_merchant_pub.pem" \
		--platform-serial "$(cat "$sec/wxpay_platform_serial")" \
		--platform-private-key "$sec/wxpay_platform_key.pem" \
		--notify-url "http://127.0.0.1:$port/payment/v1/thirdPayment/thirdPaymentWxPayCallback" \
		</dev/null >>"$var/log/wxpay-sim.log" 2>&1 &
		echo $! >"$run/wxpay-sim.pid")
	wait_for 50 curl -sf -o /dev/null "http://127.0.0.1:$sport/healthz" ||
		die "the WeChat Pay simulator did not start (see $var/log/wxpay-sim.log)"
}

# Start MariaDB in var/mysql (initialised on first use) as the stack's user. Its root account is
# reachable by the OS root only (unix_socket); the programs use the app account.
stack_mysql_start() {
	local var=$1 run=$2 user auth=(--auth-root-authentication-method=normal) net
	stack_run_as
	STACK_MYSQL_NEW=""
	user=${STACK_RUN_AS:-root}
	[ -z "$STACK_RUN_AS" ] ||
		auth=(--auth-root-authentication-method=socket --auth-root-socket-user=root)
	mkdir -p "$var/mysql"
	stack_logfiles "$var" mariadb
	if [ ! -d "$var/mysql/data/mysql" ]; then
		say "initialising MariaDB in $var/mysql/data"
		mariadb-install-db --no-defaults --datadir="$var/mysql/data" --user="$user" "${auth[@]}" \
			>"$var/log/mariadb-install.log" 2>&1 ||
			die "mariadb-install-db failed (see $var/log/mariadb-install.log)"
		STACK_MYSQL_NEW=1
	fi
	mapfile -t net < <(stack_replica_primary_args)
	[ -z "$STACK_RUN_AS" ] || chown -R "$user:$user" "$var/mysql"
	(setsid mariadbd --no-defaults --datadir="$var/mysql/data" --socket="$run/mysql.sock" \
		"${net[@]}" --user="$user" --pid-file="$run/mysqld.pid" \
		--log-error="$var/log/mariadb.log" --innodb-buffer-pool-size=128M \
		--innodb-flush-log-at-trx-commit=1 --max-connections=500 \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		</dev/null >/dev/null 2>&1 &)
	wait_for 300 mariadb-admin --socket="$run/mysql.sock" -uroot ping ||
		die "MariaDB did not start (see $var/log/mariadb.log)"
	# A data directory made before root was socket-only: close the passwordless root.
	[ -z "$STACK_RUN_AS" ] ||
		stack_sql "$run" -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket" ||
		die "securing MariaDB's root account failed"
	stack_replica_start "$var" "$run" "$STACK_MYSQL_NEW"
}

# The mariadb client as MariaDB's root (the OS root over unix_socket).
stack_sql() {
	local run=$1
	shift
	mariadb --socket="$run/mysql.sock" -uroot --batch --skip-column-names "$@"
}

# The programs' MariaDB account: data rights on every flashsale_* schema (new ones included),
# no DDL, no administration; password auth with the password from the secrets directory.
stack_db_account() {
	local run=$1 pw
	pw=$(cat "$2/mysql_password")
	stack_sql "$run" -e "CREATE USER IF NOT EXISTS '$DB_APP_USER'@'localhost' IDENTIFIED BY '$pw';
		ALTER USER '$DB_APP_USER'@'localhost' IDENTIFIED BY '$pw';
		GRANT SELECT, INSERT, UPDATE, DELETE, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE
		ON \`flashsale\\_%\`.* TO '$DB_APP_USER'@'localhost'" ||
		die "creating the MariaDB account $DB_APP_USER failed"
}

# Does Redis on this socket answer PONG (not an error such as LOADING)?
redis_pong() {
	[ "$(redis-cli -s "$1" ping 2>/dev/null)" = PONG ]
}

# Start Redis with AOF persistence in var/redis, as the stack's user (socket mode 0770).
stack_redis_start() {
	local var=$1 run=$2
	mkdir -p "$var/redis"
	stack_run_as
	[ -z "$STACK_RUN_AS" ] || chown -R "$STACK_RUN_AS:$STACK_RUN_AS" "$var/redis"
	stack_logfiles "$var" redis
	as_stack redis-server --port 0 --unixsocket "$run/redis.sock" --unixsocketperm 770 \
		--dir "$var/redis" --appendonly yes --appendfsync always \
		--maxmemory "$REDIS_MAXMEMORY" --maxmemory-policy noeviction \
		--daemonize yes --pidfile "$run/redis.pid" --logfile "$var/log/redis.log" \
		--save "" >/dev/null
	# PING answers -LOADING while a large AOF is read back: wait for PONG.
	wait_for 600 redis_pong "$run/redis.sock" || die "Redis did not start (see $var/log/redis.log)"
}

# Apply sql/NNN_*.sql once each, recording them in flashsale_meta.schema_migrations.
stack_migrate() {
	local run=$1 f v
	stack_sql "$run" -e "CREATE DATABASE IF NOT EXISTS flashsale_meta;
		CREATE TABLE IF NOT EXISTS flashsale_meta.schema_migrations (
		version VARCHAR(128) PRIMARY KEY, applied_at BIGINT NOT NULL)"
	for f in "$TOP"/sql/[0-9][0-9][0-9]_*.sql; do
		v=$(basename "$f" .sql)
		if [ -z "$(stack_sql "$run" -e "SELECT 1 FROM flashsale_meta.schema_migrations WHERE version='$v'")" ]; then
			say "migration $v"
			stack_sql "$run" <"$f" || die "migration $v failed"
			stack_sql "$run" -e "INSERT INTO flashsale_meta.schema_migrations VALUES ('$v', UNIX_TIMESTAMP())"
		fi
	done
}

# Start each built FastCGI program: spawn-fcgi binds the socket (group: the stack's, so the web
# servers reach it), multiwatch keeps N workers, each under tools/fcgi-worker.sh, which restarts
# a worker that dies however often that happens (multiwatch alone gives up after a crash loop).
stack_fcgi_start() {
	local var=$1 run=$2 d bin who=()
	stack_run_as
	[ -z "$STACK_RUN_AS" ] ||
		who=(-u "$STACK_RUN_AS" -g "$STACK_RUN_AS" -U "$STACK_RUN_AS" -G "$STACK_RUN_AS")
	for d in $DOMAINS; do
		bin="$BUILD/fcgi/$d/flashsale-$d"
		[ -x "$bin" ] || continue
		rm -f "$run/$d.sock"
		stack_logfiles "$var" "$d"
		FLASHSALE_CONF="$var/flashsale.conf" FLASHSALE_LOG_FILE="$var/log/$d.log" \
			spawn-fcgi -s "$run/$d.sock" -M 0660 "${who[@]}" -P "$run/$d.pid" -- \
			/usr/bin/multiwatch -f "$JOBS_PER_DOMAIN" -r 1000 -t 1000 -- \
			"$TOP/tools/fcgi-worker.sh" "$bin" >/dev/null 2>>"$var/log/$d.log" ||
			die "spawn-fcgi $d failed"
	done
	# usercenter's password-hashing routes (register, login) have a pool of their own at a lower
	# CPU priority: Argon2id hashes (64 MiB each) queue among themselves and yield the CPU to
	# every other request, instead of filling the usercenter workers (nginx.conf, apache.conf).
	# Only with usercenter itself: a partial restart (DOMAINS="payment order") leaves it alone.
	bin="$BUILD/fcgi/usercenter/flashsale-usercenter"
	if [ -x "$bin" ] && [[ " $DOMAINS " == *" usercenter "* ]]; then
		rm -f "$run/usercenter-auth.sock"
		FLASHSALE_CONF="$var/flashsale.conf" FLASHSALE_LOG_FILE="$var/log/usercenter.log" \
			spawn-fcgi -s "$run/usercenter-auth.sock" -M 0660 "${who[@]}" \
			-P "$run/usercenter-auth.extra.pid" -- /usr/bin/nice -n 10 \
			/usr/bin/multiwatch -f "$HASH_WORKERS" -r 1000 -t 1000 -- \
			"$TOP/tools/fcgi-worker.sh" "$bin" >/dev/null 2>>"$var/log/usercenter.log" ||
			die "spawn-fcgi usercenter-auth failed"
	fi
	case " $DOMAINS " in *" seckill "*) stack_seckill_hosts_start "$var" "$run" ;; esac
}

# FLASHSALE_SECKILL_HOSTS=N (default 1): N-1 more seckill socket sets, seckill-2.sock ..., each
# under its own spawn-fcgi + multiwatch (pid file seckill-H.extra.pid), as separate hosts would
# be; nginx's upstream fs_seckill_hosts lists them (stack_nginx_config).
stack_seckill_hosts_start() {
	local var=$1 run=$2 h bin="$BUILD/fcgi/seckill/flashsale-seckill" who=()
	[ -z "$STACK_RUN_AS" ] ||
		who=(-u "$STACK_RUN_AS" -g "$STACK_RUN_AS" -U "$STACK_RUN_AS" -G "$STACK_RUN_AS")
	for h in $(seq 2 "${FLASHSALE_SECKILL_HOSTS:-1}"); do
		rm -f "$run/seckill-$h.sock"
		FLASHSALE_CONF="$var/flashsale.conf" FLASHSALE_LOG_FILE="$var/log/seckill.log" \
			spawn-fcgi -s "$run/seckill-$h.sock" -M 0660 "${who[@]}" \
			-P "$run/seckill-$h.extra.pid" -- \
			/usr/bin/multiwatch -f "$JOBS_PER_DOMAIN" -r 1000 -t 1000 -- \
			"$TOP/tools/fcgi-worker.sh" "$bin" >/dev/null 2>>"$var/log/seckill.log" ||
			die "spawn-fcgi seckill host $h failed"
	done
}

# Start each built daemon job under a restart loop (the supervisor), as the stack's user.
stack_daemons_start() {
	local var=$1 run=$2 j bin
	for j in $DAEMONS; do
		bin="$BUILD/jobs/flashsale-$j"
		[ -x "$bin" ] || continue
		stack_logfiles "$var" "$j"
		(FLASHSALE_CONF="$var/flashsale.conf" FLASHSALE_LOG_FILE="$var/log/$j.log" \
			as_stack setsid "$TOP/tools/supervise.sh" "$run/$j.pid" "$bin" </dev/null >/dev/null 2>&1 &)
	done
	# FLASHSALE_ORDER_WRITERS (1): more order-writers in the one consumer group, as more hosts
	# would run them (pid files order-writer-N.extra.pid). Each holds the hot activity's row
	# lock only for its own transaction, so one writer's Redis read, parse and finish overlap
	# another's MySQL work.
	if [[ " $DAEMONS " == *" order-writer "* ]]; then
		for j in $(seq 2 "${FLASHSALE_ORDER_WRITERS:-1}"); do
			(FLASHSALE_CONF="$var/flashsale.conf" FLASHSALE_LOG_FILE="$var/log/order-writer.log" \
				as_stack setsid "$TOP/tools/supervise.sh" "$run/order-writer-$j.extra.pid" \
				"$BUILD/jobs/flashsale-order-writer" </dev/null >/dev/null 2>&1 &)
		done
	fi
	# writer.transport kafka: the relay (Redis streams -> the intents topic) beside the writers.
	if [ "${FLASHSALE_WRITER_TRANSPORT:-redis}" = kafka ] && [[ " $DAEMONS " == *" order-writer "* ]]
	then
		stack_logfiles "$var" intent-relay
		(FLASHSALE_CONF="$var/flashsale.conf" FLASHSALE_LOG_FILE="$var/log/intent-relay.log" \
			as_stack setsid "$TOP/tools/supervise.sh" "$run/intent-relay.pid" \
			"$BUILD/jobs/flashsale-order-writer" --relay </dev/null >/dev/null 2>&1 &)
	fi
}

# Run the cron schedule of jobs/flashsale.cron for this stack, as the stack's user.
stack_cron_start() {
	local var=$1 run=$2
	# The jobs' shared metrics mapping: made by the stack's user, so a job an operator runs as
	# root (it can open it) never leaves a file the cron's jobs cannot.
	as_stack touch "$run/jobs.metrics"
	(FLASHSALE_CONF="$var/flashsale.conf" as_stack setsid "$TOP/tools/cron.sh" "$run/cron.pid" \
		"$TOP/jobs/flashsale.cron" "$BUILD" </dev/null >>"$var/log/cron.log" 2>&1 &)
}

# Render nginx's config for this stack, start nginx and wait until it answers.
stack_nginx_start() {
	local var=$1 run=$2 port=$3
	stack_nginx_config "$var" "$run" "$port"
	nginx -t -q -c "$var/nginx/nginx.conf" -e "$var/log/nginx-error.log" ||
		die "nginx config test failed"
	nginx -c "$var/nginx/nginx.conf" -e "$var/log/nginx-error.log" || die "nginx did not start"
	wait_for 50 curl -s -o /dev/null "http://127.0.0.1:$port/" ||
		die "nginx is not answering on $port (see $var/log/nginx-error.log)"
}

# Render apache.conf for this stack and start Apache (mod_proxy_fcgi) on port.
stack_apache_start() {
	local var=$1 run=$2 port=$3
	stack_apache_config "$var" "$run" "$port"
	apache2 -t -f "$var/apache/apache2.conf" >/dev/null 2>&1 ||
		{ apache2 -t -f "$var/apache/apache2.conf"; die "apache config test failed"; }
	apache2 -f "$var/apache/apache2.conf" -k start || die "apache did not start"
	wait_for 50 curl -s -o /dev/null "http://127.0.0.1:$port/" ||
		die "apache is not answering on $port (see $var/log/apache-error.log)"
}

# Start the whole stack (stopping a previous one first): MODE is demo or test.
stack_up() {
	local var=$1 port=$2 mode=$3 run
	stack_down "$var" quiet
	stack_ports "$port"
	stack_user
	unset STACK_RUN_AS
	stack_run_as
	mkdir -p "$var/log"
	var=$(cd "$var" && pwd)
	[ -z "$STACK_RUN_AS" ] || as_stack test -x "$var" ||
		die "user $STACK_RUN_AS cannot reach $var (FLASHSALE_VAR): make its parents searchable"
	stack_own "$var/log"
	run=$(stack_rundir "$var")
	stack_rundir_make "$var" "$run"
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		die "port $port is taken (set FLASHSALE_PORT)"
	fi
	stack_config "$var" "$run" "$mode" "$port"
	say "starting MariaDB and Redis"
	stack_mysql_start "$var" "$run"
	stack_redis_start "$var" "$run"
	stack_migrate "$run"
	stack_db_account "$run" "$var/secrets"
	stack_replica_sync "$run"
	say "starting FastCGI programs and jobs"
	stack_fcgi_start "$var" "$run"
	stack_wxpay_sim_start "$var" "$run" "$port"
	stack_daemons_start "$var" "$run"
	stack_cron_start "$var" "$run"
	stack_nginx_start "$var" "$run" "$port"
	printf '%s\n' "$port" >"$var/port"
}

# Stop the pids of some pid files together: TERM to all, wait for all (KILL after ~10 s).
stop_pidfiles() {
	local f pid pids=() n=100
	for f in "$@"; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null || true)
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	while [ ${#pids[@]} -gt 0 ] && [ $n -gt 0 ]; do
		local alive=()
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
		pids=("${alive[@]}")
		[ ${#pids[@]} -gt 0 ] || break
		sleep 0.1
		n=$((n - 1))
	done
	for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
	rm -f "$@"
}

# Stop one pid file's process and wait for it to go.
stop_pidfile() {
	stop_pidfiles "$1"
}

# Stop everything a stack in VAR started: the web servers first (no new requests), then the
# programs and jobs together (each finishes what it holds), then Redis and MariaDB.
stack_down() {
	local var=$1 quiet=${2:-} run d j files=()
	[ -d "$var" ] || return 0
	run="$var/run"
	[ -d "$run" ] || return 0
	[ -n "$quiet" ] || say "stopping the stack in $var"
	stop_pidfiles "$run/nginx.pid" "$run/apache.pid" "$run/cron.pid"
	for j in $DAEMONS intent-relay; do files+=("$run/$j.pid"); done
	for d in $DOMAINS; do files+=("$run/$d.pid"); done
	for f in "$run"/*.extra.pid; do [ -e "$f" ] && files+=("$f"); done
	stop_pidfiles "${files[@]}" "$run/wxpay-sim.pid"
	for d in $DOMAINS; do rm -f "$run/$d.sock"; done
	rm -f "$run/usercenter-auth.sock" "$run"/seckill-[0-9]*.sock
	stop_pidfiles "$run/redis.pid" "$run/mysqld.pid" "$run/mysqld-replica.pid"
	return 0
}

# What is running for VAR.
stack_status() {
	local var=$1 f pid
	for f in "$var"/run/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		if kill -0 "$pid" 2>/dev/null; then
			printf '%-24s running (pid %s)\n' "$(basename "$f" .pid)" "$pid"
		else
			printf '%-24s dead\n' "$(basename "$f" .pid)"
		fi
	done
}

# Demo data: an admin account, products and an activity (tools/demo-data.sh).
stack_demo_data() {
	local var=$1 port=$2
	[ -x "$TOP/tools/demo-data.sh" ] || return 0
	FLASHSALE_VAR="$var" FLASHSALE_PORT="$port" BUILD="$BUILD" "$TOP/tools/demo-data.sh"
}
