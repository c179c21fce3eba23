# stack.sh - functions behind ./flashsale: install, build, start and stop a local stack.
# Sourced by ./flashsale and tools/run-tests.sh; expects TOP and BUILD.
# Servers run from project-local directories, never as system services.

# FastCGI domains and supervised daemon jobs (each started when its binary is built).
DOMAINS="usercenter product seckill order payment"
DAEMONS=${FLASHSALE_DAEMONS:-"order-writer order-events notify trace-exporter"}
JOBS_PER_DOMAIN=${FLASHSALE_WORKERS:-4}

# Debian packages each command needs.
PKGS_BASE="autoconf automake libtool pkg-config make gcc libfcgi-dev libhiredis-dev libmariadb-dev
libjansson-dev libjwt-dev libsodium-dev libcurl4-openssl-dev librdkafka-dev libssl-dev libinih-dev
check libqrencode-dev mariadb-server mariadb-client redis-server redis-tools nginx spawn-fcgi
multiwatch curl openssl python3 clang-format procps"
PKGS_TEST="apache2 chromium fonts-wqy-microhei prometheus debhelper lintian"
PKGS_BENCH="wrk"

say() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'flashsale: %s\n' "$*" >&2
	exit 1
}

# Install the Debian packages (and npm modules for tests) that are missing.
stack_install() {
	local want="$PKGS_BASE" missing=() p
	[ "${1:-}" = test ] && want="$want $PKGS_TEST"
	[ "${1:-}" = bench ] && want="$want $PKGS_BENCH"
	command -v node >/dev/null || want="$want nodejs"
	command -v npm >/dev/null || want="$want npm"
	for p in $want; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		local sudo=""
		[ "$(id -u)" -eq 0 ] || sudo="sudo"
		# Packages must not start system services: the stack runs its own servers.
		local policy_added=""
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
			$sudo chmod +x /usr/sbin/policy-rc.d
			policy_added=1
		fi
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${missing[@]}" >/dev/null
		[ -n "$policy_added" ] && $sudo rm -f /usr/sbin/policy-rc.d
	fi
	if [ "${1:-}" = test ] && [ ! -d "$TOP/tests/browser/node_modules/playwright-core" ] &&
		[ -f "$TOP/tests/browser/package.json" ]; then
		say "installing playwright-core (npm)"
		(cd "$TOP/tests/browser" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
	fi
	# doc/openapi.yaml: its validators (tests) and redoc, whose bundle www/docs/ serves.
	if [ ! -d "$TOP/tests/openapi/node_modules/ajv" ] && [ -f "$TOP/tests/openapi/package.json" ]; then
		say "installing redoc, @redocly/cli, swagger-parser, ajv (npm)"
		(cd "$TOP/tests/openapi" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
	fi
	stack_vendor_redoc
}

# Copy redoc's standalone bundle (npm, tests/openapi) to www/vendor/ for www/docs/ (git-ignored).
stack_vendor_redoc() {
	local src="$TOP/tests/openapi/node_modules/redoc/bundles/redoc.standalone.js"
	local dst="$TOP/www/vendor/redoc.standalone.js"
	if [ -f "$src" ] && { [ ! -f "$dst" ] || [ "$src" -nt "$dst" ]; }; then
		cp "$src" "$dst"
	fi
}

# autoreconf (when needed), configure out of tree in $BUILD, make.
stack_build() {
	if [ ! -x "$TOP/configure" ] || [ "$TOP/configure.ac" -nt "$TOP/configure" ] ||
		[ "$TOP/Makefile.am" -nt "$TOP/Makefile.in" ]; then
		say "autoreconf"
		(cd "$TOP" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf failed"
	fi
	mkdir -p "$BUILD"
	if [ ! -f "$BUILD/Makefile" ]; then
		say "configure"
		(cd "$BUILD" && "$TOP/configure" ${FLASHSALE_CONFIGURE_FLAGS:-} >configure.log 2>&1) ||
			{ tail -30 "$BUILD/configure.log"; die "configure failed (see $BUILD/configure.log)"; }
	fi
	say "make"
	make -C "$BUILD" -j"$(nproc)" -s >"$BUILD/make.log" 2>&1 ||
		{ tail -40 "$BUILD/make.log"; die "build failed (see $BUILD/make.log)"; }
}

# Directory of sockets: under VAR when the web server's user can reach it and paths are short.
stack_rundir() {
	local var=$1 run="$1/run"
	if [ ${#run} -gt 90 ] || ! runuser -u www-data -- test -x "$var" 2>/dev/null; then
		run="/tmp/flashsale-run-$(printf '%s' "$var" | md5sum | cut -c1-12)"
	fi
	printf '%s\n' "$run"
}

# The config file of a stack; secrets are made once and kept.
stack_config() {
	local var=$1 run=$2 mode=$3 port=$4 otlp="" sample=1
	mkdir -p "$var/secrets"
	chmod 700 "$var/secrets"
	[ -s "$var/secrets/jwt_secret" ] || openssl rand -hex 32 >"$var/secrets/jwt_secret"
	# [seckill]: the seckill token key, and the sold-out marker directory nginx reads.
	[ -s "$var/secrets/seckill_token_secret" ] ||
		openssl rand -hex 32 >"$var/secrets/seckill_token_secret"
	mkdir -p "$run/soldout"
	chmod 0755 "$run/soldout"
	local ops=2 mem=65536 per_addr=30
	if [ "$mode" = test ]; then
		# Cheaper Argon2id and a looser per-address login cap so suites can log in many
		# users from 127.0.0.1; the per-mobile failure limit stays as in production.
		ops=1 mem=8192 per_addr=100000
		# The tracing test runs an OTLP receiver here.
		otlp="http://127.0.0.1:$((port + 20))/v1/traces" sample=100
	fi
	cat >"$var/flashsale.conf" <<EOF
# Generated by ./flashsale for the stack in $var; see flashsale.conf for every key.
[mysql]
socket = $run/mysql.sock
user = root
[redis]
socket = $run/redis.sock
[auth]
jwt_secret = $(cat "$var/secrets/jwt_secret")
pwhash_opslimit = $ops
pwhash_memlimit_kib = $mem
[usercenter]
login_per_addr = $per_addr
[log]
level = info
[metrics]
dir = $run
[trace]
socket = $run/trace.sock
otlp_url = $otlp
sample_percent = $sample
[seckill]
token_secret = $(cat "$var/secrets/seckill_token_secret")
marker_dir = $run/soldout
EOF
	# [wxpay]: merchant and platform RSA keys, serials and the APIv3 key, made once; the
	# stack's WeChat Pay simulator listens on FLASHSALE_PORT+10 ($port of stack_up).
	local sec="$var/secrets" k
	for k in merchant platform; do
		if [ ! -s "$sec/wxpay_${k}_key.pem" ]; then
			openssl genrsa -out "$sec/wxpay_${k}_key.pem" 2048 2>/dev/null
			openssl rsa -in "$sec/wxpay_${k}_key.pem" -pubout -out "$sec/wxpay_${k}_pub.pem" 2>/dev/null
		fi
	done
	[ -s "$sec/wxpay_merchant_serial" ] || openssl rand -hex 20 | tr a-f A-F >"$sec/wxpay_merchant_serial"
	[ -s "$sec/wxpay_platform_serial" ] ||
		printf 'PUB_KEY_ID_%s\n' "$(openssl rand -hex 16 | tr a-f A-F)" >"$sec/wxpay_platform_serial"
	[ -s "$sec/wxpay_apiv3_key" ] || openssl rand -hex 16 >"$sec/wxpay_apiv3_key"
	cat >>"$var/flashsale.conf" <<EOF
[wxpay]
api_base = http://127.0.0.1:$((${port:-8080} + 10))
mchid = 1900000109
appid = wx2421b1c4370ec43b
serial_no = $(cat "$sec/wxpay_merchant_serial")
private_key = $sec/wxpay_merchant_key.pem
platform_key = $sec/wxpay_platform_pub.pem
platform_serial = $(cat "$sec/wxpay_platform_serial")
apiv3_key = $(cat "$sec/wxpay_apiv3_key")
notify_url = http://127.0.0.1:${port:-8080}/payment/v1/thirdPayment/thirdPaymentWxPayCallback
EOF
	# [events], [jobs]: notify sends subscribe messages to this stack's WeChat Pay simulator;
	# test stacks claim a crashed consumer's pending events after 2 s instead of 30 s.
	local claim=30000
	[ "$mode" = test ] && claim=2000
	cat >>"$var/flashsale.conf" <<EOF
[events]
claim_idle_ms = $claim
[jobs]
notify_url = http://127.0.0.1:$((${port:-8080} + 10))/cgi-bin/message/subscribe/send
EOF
}

# Start the WeChat Pay simulator (tools/wxpay-sim) on port+10 for the stack's [wxpay] merchant.
stack_wxpay_sim_start() {
	local var=$1 run=$2 port=$3 sec="$1/secrets" sport=$(($3 + 10))
	if (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null; then
		die "port $sport (WeChat Pay simulator) is taken (set FLASHSALE_PORT)"
	fi
	# The APIv3 key goes by environment, not argv (ps shows argv to every user).
	(WXPAY_SIM_APIV3_KEY="$(cat "$sec/wxpay_apiv3_key")" setsid node "$TOP/tools/wxpay-sim/sim.mjs" \
		--port "$sport" --mchid 1900000109 \
		--appid wx2421b1c4370ec43b --merchant-serial "$(cat "$sec/wxpay_merchant_serial")" \
		--merchant-public-key "$sec/wxpay_merchant_pub.pem" \
		--platform-serial "$(cat "$sec/wxpay_platform_serial")" \
		--platform-private-key "$sec/wxpay_platform_key.pem" \
		--notify-url "http://127.0.0.1:$port/payment/v1/thirdPayment/thirdPaymentWxPayCallback" \
		</dev/null >>"$var/log/wxpay-sim.log" 2>&1 &
		echo $! >"$run/wxpay-sim.pid")
	wait_for 50 curl -sf -o /dev/null "http://127.0.0.1:$sport/healthz" ||
		die "the WeChat Pay simulator did not start (see $var/log/wxpay-sim.log)"
}

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

# Start MariaDB in var/mysql (initialised on first use).
stack_mysql_start() {
	local var=$1 run=$2
	mkdir -p "$var/mysql"
	if [ ! -d "$var/mysql/data/mysql" ]; then
		say "initialising MariaDB in $var/mysql/data"
		mariadb-install-db --no-defaults --datadir="$var/mysql/data" --user=root \
			--auth-root-authentication-method=normal >"$var/log/mariadb-install.log" 2>&1 ||
			die "mariadb-install-db failed (see $var/log/mariadb-install.log)"
	fi
	(setsid mariadbd --no-defaults --datadir="$var/mysql/data" --socket="$run/mysql.sock" \
		--skip-networking --user=root --pid-file="$run/mysqld.pid" \
		--log-error="$var/log/mariadb.log" --innodb-buffer-pool-size=128M \
		--innodb-flush-log-at-trx-commit=1 --max-connections=500 \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		</dev/null >/dev/null 2>&1 &)
	wait_for 300 mariadb-admin --socket="$run/mysql.sock" -uroot ping ||
		die "MariaDB did not start (see $var/log/mariadb.log)"
}

# Does Redis on this socket answer PONG (not an error such as LOADING)?
redis_pong() {
	[ "$(redis-cli -s "$1" ping 2>/dev/null)" = PONG ]
}

# Start Redis with AOF persistence in var/redis.
stack_redis_start() {
	local var=$1 run=$2
	mkdir -p "$var/redis"
	redis-server --port 0 --unixsocket "$run/redis.sock" --unixsocketperm 770 \
		--dir "$var/redis" --appendonly yes --appendfsync always \
		--daemonize yes --pidfile "$run/redis.pid" --logfile "$var/log/redis.log" \
		--save "" >/dev/null
	# PING answers -LOADING while a large AOF is read back: wait for PONG.
	wait_for 600 redis_pong "$run/redis.sock" || die "Redis did not start (see $var/log/redis.log)"
}

# Apply sql/NNN_*.sql once each, recording them in flashsale_meta.schema_migrations.
stack_migrate() {
	local run=$1 f v
	local sqlc=(mariadb --socket="$run/mysql.sock" -uroot --batch --skip-column-names)
	"${sqlc[@]}" -e "CREATE DATABASE IF NOT EXISTS flashsale_meta;
		CREATE TABLE IF NOT EXISTS flashsale_meta.schema_migrations (
		version VARCHAR(128) PRIMARY KEY, applied_at BIGINT NOT NULL)"
	for f in "$TOP"/sql/[0-9][0-9][0-9]_*.sql; do
		v=$(basename "$f" .sql)
		if [ -z "$("${sqlc[@]}" -e "SELECT 1 FROM flashsale_meta.schema_migrations WHERE version='$v'")" ]; then
			say "migration $v"
			"${sqlc[@]}" <"$f" || die "migration $v failed"
			"${sqlc[@]}" -e "INSERT INTO flashsale_meta.schema_migrations VALUES ('$v', UNIX_TIMESTAMP())"
		fi
	done
}

# Start each built FastCGI program: spawn-fcgi binds the socket, multiwatch keeps N workers.
stack_fcgi_start() {
	local var=$1 run=$2 d bin
	for d in $DOMAINS; do
		bin="$BUILD/fcgi/$d/flashsale-$d"
		[ -x "$bin" ] || continue
		rm -f "$run/$d.sock"
		FLASHSALE_CONF="$var/flashsale.conf" FLASHSALE_LOG_FILE="$var/log/$d.log" \
			spawn-fcgi -s "$run/$d.sock" -M 0660 -G www-data -P "$run/$d.pid" -- \
			/usr/bin/multiwatch -f "$JOBS_PER_DOMAIN" -- "$bin" >/dev/null 2>>"$var/log/$d.log" ||
			die "spawn-fcgi $d failed"
	done
}

# Start each built daemon job under a restart loop (the supervisor).
stack_daemons_start() {
	local var=$1 run=$2 j bin
	for j in $DAEMONS; do
		bin="$BUILD/jobs/flashsale-$j"
		[ -x "$bin" ] || continue
		(FLASHSALE_CONF="$var/flashsale.conf" FLASHSALE_LOG_FILE="$var/log/$j.log" \
			setsid "$TOP/tools/supervise.sh" "$run/$j.pid" "$bin" </dev/null >/dev/null 2>&1 &)
	done
}

# Run the cron schedule of jobs/flashsale.cron for this stack.
stack_cron_start() {
	local var=$1 run=$2
	(FLASHSALE_CONF="$var/flashsale.conf" setsid "$TOP/tools/cron.sh" "$run/cron.pid" \
		"$TOP/jobs/flashsale.cron" "$BUILD" </dev/null >>"$var/log/cron.log" 2>&1 &)
}

# Render nginx.conf for this stack and start nginx.
stack_nginx_start() {
	local var=$1 run=$2 port=$3 user=www-data
	mkdir -p "$var/nginx/tmp"
	runuser -u www-data -- test -r "$TOP/www/index.html" 2>/dev/null || user=root
	sed -e "s|@LISTEN@|127.0.0.1:$port|g" -e "s|@WWW@|$TOP/www|g" -e "s|@RUN@|$run|g" \
		-e "s|@LOGDIR@|$var/log|g" -e "s|@CACHE@|$var/nginx/cache|g" \
		"$TOP/nginx.conf" >"$var/nginx/flashsale.conf"
	cat >"$var/nginx/nginx.conf" <<EOF
# Generated by ./flashsale: the main file around the project's nginx.conf.
user $user;
worker_processes 2;
pid $run/nginx.pid;
error_log $var/log/nginx-error.log warn;
events { worker_connections 8192; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	sendfile on;
	keepalive_timeout 30;
	server_tokens off;
	client_body_temp_path $var/nginx/tmp/body;
	fastcgi_temp_path $var/nginx/tmp/fastcgi;
	proxy_temp_path $var/nginx/tmp/proxy;
	uwsgi_temp_path $var/nginx/tmp/uwsgi;
	scgi_temp_path $var/nginx/tmp/scgi;
	include $var/nginx/flashsale.conf;
}
EOF
	nginx -t -q -c "$var/nginx/nginx.conf" -e "$var/log/nginx-error.log" ||
		die "nginx config test failed"
	nginx -c "$var/nginx/nginx.conf" -e "$var/log/nginx-error.log" || die "nginx did not start"
	wait_for 50 curl -sf -o /dev/null "http://127.0.0.1:$port/" || true
}

# Render apache.conf for this stack and start Apache (mod_proxy_fcgi) on port.
stack_apache_start() {
	local var=$1 run=$2 port=$3 m mods=""
	mkdir -p "$var/apache"
	mkdir -p "$var/apache/cache"
	chown www-data "$var/apache/cache" 2>/dev/null || true
	for m in mpm_event authz_core authz_host mime dir headers setenvif proxy proxy_fcgi rewrite \
		cache cache_disk; do
		mods="${mods}LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so
"
	done
	sed -e "s|@LISTEN@|127.0.0.1:$port|g" -e "s|@WWW@|$TOP/www|g" -e "s|@RUN@|$run|g" \
		-e "s|@LOGDIR@|$var/log|g" -e "s|@CACHE@|$var/apache/cache|g" "$TOP/apache.conf" \
		>"$var/apache/flashsale.conf"
	cat >"$var/apache/apache2.conf" <<EOF
# Generated by ./flashsale: the main file around the project's apache.conf.
ServerRoot /etc/apache2
ServerName 127.0.0.1
${mods}User www-data
Group www-data
PidFile $run/apache.pid
DefaultRuntimeDir $var/apache
Mutex file:$var/apache default
ErrorLog $var/log/apache-error.log
LogLevel warn
TypesConfig /etc/mime.types
Include $var/apache/flashsale.conf
EOF
	apache2 -t -f "$var/apache/apache2.conf" >/dev/null 2>&1 ||
		{ apache2 -t -f "$var/apache/apache2.conf"; die "apache config test failed"; }
	apache2 -f "$var/apache/apache2.conf" -k start || die "apache did not start"
	wait_for 50 curl -s -o /dev/null "http://127.0.0.1:$port/" || die "apache is not answering"
}

# Start the whole stack (stopping a previous one first): MODE is demo or test.
stack_up() {
	local var=$1 port=$2 mode=$3
	stack_down "$var" quiet
	mkdir -p "$var/log"
	var=$(cd "$var" && pwd)
	local run
	run=$(stack_rundir "$var")
	mkdir -p "$run"
	chmod 0755 "$run"
	chgrp www-data "$run" 2>/dev/null || true
	[ "$run" = "$var/run" ] || ln -sfn "$run" "$var/run"
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		die "port $port is taken (set FLASHSALE_PORT)"
	fi
	stack_config "$var" "$run" "$mode" "$port"
	say "starting MariaDB and Redis"
	stack_mysql_start "$var" "$run"
	stack_redis_start "$var" "$run"
	stack_migrate "$run"
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
	for j in $DAEMONS; do files+=("$run/$j.pid"); done
	for d in $DOMAINS; do files+=("$run/$d.pid"); done
	for f in "$run"/*.extra.pid; do [ -e "$f" ] && files+=("$f"); done
	stop_pidfiles "${files[@]}" "$run/wxpay-sim.pid"
	for d in $DOMAINS; do rm -f "$run/$d.sock"; done
	stop_pidfiles "$run/redis.pid" "$run/mysqld.pid"
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
