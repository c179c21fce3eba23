# stack-config.sh - a stack's ports, secrets and rendered config files (tools/stack/*.in,
# nginx.conf, apache.conf: @NAME@ placeholders). Sourced by tools/stack.sh.

# The demo merchant the WeChat Pay simulator plays (ids from WeChat Pay's documentation).
WX_MCHID=1900000109
WX_APPID=wx2421b1c4370ec43b
# The programs' MariaDB account (least privilege; its password is a secret of the stack).
DB_APP_USER=flashsale

# Compute a stack's ports from its web port, once: the others are fixed offsets from it.
# Sets PORT_WEB, PORT_APACHE, PORT_SIM (WeChat Pay simulator), PORT_OTLP (the tracing test's
# receiver), and exports them as FLASHSALE_TEST_PORT_* for the tests.
stack_ports() {
	PORT_WEB=$1
	PORT_APACHE=$(($1 + 1))
	PORT_SIM=$(($1 + 10))
	PORT_OTLP=$(($1 + 20))
	export FLASHSALE_TEST_PORT_WEB=$PORT_WEB FLASHSALE_TEST_PORT_APACHE=$PORT_APACHE \
		FLASHSALE_TEST_PORT_SIM=$PORT_SIM FLASHSALE_TEST_PORT_OTLP=$PORT_OTLP
}

# Render TEMPLATE into OUT (mode 0640), replacing @NAME@ for each NAME=VALUE argument; a
# placeholder left over (a NAME not given) is an error.
stack_render() {
	local in=$1 out=$2 kv name val script=()
	shift 2
	for kv in "$@"; do
		name=${kv%%=*} val=${kv#*=}
		val=${val//\\/\\\\} val=${val//|/\\|} val=${val//&/\\&}
		script+=(-e "s|@${name}@|${val}|g")
	done
	# A new file each time (then renamed over OUT): an older OUT keeps no wider mode.
	(umask 027 && sed "${script[@]}" "$in" >"$out.tmp" && mv -f "$out.tmp" "$out") ||
		die "rendering $in failed"
	if grep -qE '@[A-Z][A-Z_]*@' "$out"; then
		die "$out: placeholder left unrendered: $(grep -oE '@[A-Z][A-Z_]*@' "$out" | sort -u | tr '\n' ' ')"
	fi
}

# A random secret in the secrets directory, made once and kept: DIR NAME BYTES (hex).
stack_secret() {
	[ -s "$1/$2" ] || (umask 027 && openssl rand -hex "$3" >"$1/$2") || die "making $1/$2 failed"
}

# The secrets of a stack: keys, passwords and the WeChat Pay merchant and platform RSA key pairs.
stack_secrets() {
	local sec=$1 k
	mkdir -p "$sec"
	chmod 0750 "$sec"
	stack_secret "$sec" jwt_secret 32
	stack_secret "$sec" seckill_token_secret 32
	stack_secret "$sec" seckill_pow_secret 32
	stack_secret "$sec" mysql_password 24
	stack_secret "$sec" wxpay_apiv3_key 16
	# [wx], [sms]: the mini-program's AppSecret and the SMS gateway's secret (the simulator's).
	stack_secret "$sec" wx_secret 16
	stack_secret "$sec" sms_secret 16
	for k in merchant platform; do
		if [ ! -s "$sec/wxpay_${k}_key.pem" ]; then
			(umask 027 && openssl genrsa -out "$sec/wxpay_${k}_key.pem" 2048 2>/dev/null &&
				openssl rsa -in "$sec/wxpay_${k}_key.pem" -pubout \
					-out "$sec/wxpay_${k}_pub.pem" 2>/dev/null) || die "openssl genrsa failed"
		fi
	done
	[ -s "$sec/wxpay_merchant_serial" ] ||
		(umask 027 && openssl rand -hex 20 | tr a-f A-F >"$sec/wxpay_merchant_serial")
	[ -s "$sec/wxpay_platform_serial" ] ||
		(umask 027 && printf 'PUB_KEY_ID_%s\n' "$(openssl rand -hex 16 | tr a-f A-F)" \
			>"$sec/wxpay_platform_serial")
	# A second platform key as a platform certificate (serial from the certificate), valid
	# beside the public key as during a rotation; tests sign notifications with it.
	if [ ! -s "$sec/wxpay_platform_cert.pem" ]; then
		(umask 027 && openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
			-subj "/CN=Tenpay.com Root CA" \
			-set_serial "0x$(openssl rand -hex 20 | tr a-f A-F | sed 's/^0/1/')" \
			-keyout "$sec/wxpay_platform_cert_key.pem" -out "$sec/wxpay_platform_cert.pem" \
			2>/dev/null) || die "openssl req (platform certificate) failed"
	fi
	# Files made before secrets were 0640 keep working but are tightened here.
	chmod 0640 "$sec"/* 2>/dev/null || true
}

# The config file of a stack (tools/stack/flashsale.conf.in); secrets are made once and kept.
# MODE test: cheaper Argon2id, a loose per-address login cap so suites log in many users from
# 127.0.0.1 (the per-mobile failure limit stays), tracing to the tracing test's receiver, and
# crashed consumers' pending events claimed after 2 s instead of 30 s; tokens refreshable 2 s
# after issue (tests wait for refreshAfter) and the suites' own address 127.0.0.1 trusted past
# the per-address caps (their tests use other loopback addresses).
stack_config() {
	local var=$1 run=$2 mode=$3 port=$4 sec="$1/secrets"
	local ops=2 mem=65536 per_addr=30 otlp="" sample=1 claim=30000 check_slots=0 refresh_after=0
	local trusted=""
	if [ "$mode" = test ]; then
		# check_slots: refuse scripts whose keys span Redis Cluster slots, in either mode.
		ops=1 mem=8192 per_addr=100000 sample=100 claim=2000 check_slots=1 refresh_after=2
		trusted=127.0.0.1
		otlp="http://127.0.0.1:$PORT_OTLP/v1/traces"
	fi
	stack_secrets "$sec"
	stack_render "$TOP/tools/stack/flashsale.conf.in" "$var/flashsale.conf" \
		VAR="$var" RUN="$run" SECRETS="$sec" MYSQL_REPLICA="$(stack_replica_socket "$run")" \
		DB_USER="$DB_APP_USER" DB_PASSWORD="$(cat "$sec/mysql_password")" \
		JWT_SECRET="$(cat "$sec/jwt_secret")" \
		SECKILL_TOKEN_SECRET="$(cat "$sec/seckill_token_secret")" \
		SECKILL_POW_SECRET="$(cat "$sec/seckill_pow_secret")" \
		PWHASH_OPS=$ops PWHASH_MEM_KIB=$mem LOGIN_PER_ADDR=$per_addr CHECK_SLOTS=$check_slots \
		OTLP_URL="$otlp" TRACE_SAMPLE=$sample CLAIM_IDLE_MS=$claim \
		WEB_URL="http://127.0.0.1:$port" SIM_URL="http://127.0.0.1:$PORT_SIM" \
		WX_MCHID=$WX_MCHID WX_APPID=$WX_APPID \
		WX_MERCHANT_SERIAL="$(cat "$sec/wxpay_merchant_serial")" \
		WX_PLATFORM_SERIAL="$(cat "$sec/wxpay_platform_serial")" \
		WX_APIV3_KEY="$(cat "$sec/wxpay_apiv3_key")" \
		REFRESH_AFTER=$refresh_after TRUSTED_ADDRS="$trusted" \
		WX_SECRET="$(cat "$sec/wx_secret")" SMS_SECRET="$(cat "$sec/sms_secret")"
	stack_own_config "$var/flashsale.conf" "$sec" "$sec"/*
}

# Config and secrets: owner root (or the caller), group the stack's, no access for others.
stack_own_config() {
	[ -n "${STACK_RUN_AS:-}" ] || return 0
	chgrp "$STACK_RUN_AS" "$@" || die "chgrp $STACK_RUN_AS failed"
}

# The site config of a web server: nginx.conf or apache.conf with this stack's paths.
stack_site_config() {
	local src=$1 out=$2 var=$3 run=$4 port=$5 cache=$6
	stack_fcgi_keepalive
	stack_render "$src" "$out" LISTEN="127.0.0.1:$port" WWW="$TOP/www" RUN="$run" \
		LOGDIR="$var/log" CACHE="$cache" FCGI_KEEPALIVE="$FCGI_KEEPALIVE" \
		FCGI_KEEP_CONN="$FCGI_KEEP_CONN"
}

# FastCGI keep-alive for nginx (nginx.conf, upstream fs_seckill_hosts), off unless
# FLASHSALE_FCGI_KEEPALIVE=N (per nginx worker) or =auto: every kept connection holds a worker
# thread, so auto keeps at most workers x threads / 2 over nginx's 2 worker processes (half the
# threads stay free for new connections and Apache). Off by default: measured with 4 x 8
# threads, keep-alive raised throughput but put p99 at 1,000 connections at 8x the Little's-law
# wait (requests on new connections queue behind the threads the kept ones hold), against
# 1.3x without it (bench/README.md).
stack_fcgi_keepalive() {
	local threads=${FLASHSALE_HTTP_THREADS:-$(awk -F' *= *' '/^\[/ {s = $0}
		s == "[http]" && $1 == "threads" {print $2}' "$TOP/flashsale.conf")}
	FCGI_KEEPALIVE=${FLASHSALE_FCGI_KEEPALIVE:-0}
	[ "$FCGI_KEEPALIVE" = auto ] && FCGI_KEEPALIVE=$((JOBS_PER_DOMAIN * ${threads:-1} / 4))
	FCGI_KEEP_CONN=on
	if [ "$FCGI_KEEPALIVE" -lt 1 ]; then
		FCGI_KEEPALIVE=1 FCGI_KEEP_CONN=off
	fi
}

# nginx's main file and site for this stack, in VAR/nginx.
stack_nginx_config() {
	local var=$1 run=$2 port=$3 user=$STACK_WEB_USER
	mkdir -p "$var/nginx/tmp"
	runuser -u "$user" -- test -r "$TOP/www/index.html" 2>/dev/null || user=root
	stack_site_config "$TOP/nginx.conf" "$var/nginx/flashsale.conf" "$var" "$run" "$port" \
		"$var/nginx/cache"
	# FLASHSALE_SECKILL_HOSTS=N: the other seckill socket sets join the upstream.
	local h more=""
	for h in $(seq 2 "${FLASHSALE_SECKILL_HOSTS:-1}"); do
		more+="\\n\tserver unix:$run/seckill-$h.sock max_fails=1 fail_timeout=5s;"
	done
	[ -z "$more" ] ||
		sed -i "s|^\(\tserver unix:$run/seckill.sock .*\)\$|\1$more|" "$var/nginx/flashsale.conf"
	stack_render "$TOP/tools/stack/nginx-main.conf.in" "$var/nginx/nginx.conf" USER=$user \
		RUN="$run" LOGDIR="$var/log" TMP="$var/nginx/tmp" SITE="$var/nginx/flashsale.conf"
}

# Apache modules the stack loads: apache.conf's required ones, reqtimeout (slow clients) and
# buffer (bodies are read whole before a FastCGI worker is taken), rewrite and the microcache.
APACHE_MODULES="mpm_event authz_core authz_host mime dir headers setenvif proxy proxy_fcgi rewrite
cache cache_disk reqtimeout buffer"

# Apache's main file, module list and site for this stack, in VAR/apache.
stack_apache_config() {
	local var=$1 run=$2 port=$3 dir="$1/apache" m
	mkdir -p "$dir/cache"
	chown "$STACK_WEB_USER" "$dir/cache" 2>/dev/null || true
	for m in $APACHE_MODULES; do
		printf 'LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n' "$m" "$m"
	done >"$dir/modules.conf"
	stack_site_config "$TOP/apache.conf" "$dir/flashsale.conf" "$var" "$run" "$port" "$dir/cache"
	stack_render "$TOP/tools/stack/apache-main.conf.in" "$dir/apache2.conf" DIR="$dir" \
		USER=$STACK_WEB_USER RUN="$run" LOGDIR="$var/log" SITE="$dir/flashsale.conf"
}
