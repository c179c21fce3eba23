# stack-replica.sh - a MariaDB read replica for the local stack (FLASHSALE_STACK_REPLICA=1).
# Sourced by tools/stack.sh. The primary then keeps a binary log (server-id 1, GTID strict mode)
# and listens on 127.0.0.1:$PORT_MYSQL (web port + 55) for the replica's I/O thread only (the
# programs use its socket); the replica is a second mariadbd in var/mysql-replica (server-id 2,
# read_only, socket run/mysql-replica.sock) replicating with MASTER_USE_GTID=slave_pos from the
# start of the primary's binary log, so both data directories must be made in the same mode.
# (Not FLASHSALE_MYSQL_REPLICA: programs read FLASHSALE_MYSQL_* as overrides of [mysql] keys.)

STACK_REPLICA=${FLASHSALE_STACK_REPLICA:-}
[ "$STACK_REPLICA" = 0 ] && STACK_REPLICA=""

# Extra mariadbd options of the primary: networking off, or binlog + loopback TCP for a replica.
stack_replica_primary_args() {
	PORT_MYSQL=$((PORT_WEB + 55))
	if [ -z "$STACK_REPLICA" ]; then
		echo --skip-networking
		return
	fi
	printf '%s\n' --server-id=1 --log-bin=mysql-bin --binlog-format=ROW \
		--gtid-strict-mode=1 --bind-address=127.0.0.1 --port="$PORT_MYSQL"
}

# The replica's socket for the config file (empty without a replica).
stack_replica_socket() {
	[ -z "$STACK_REPLICA" ] || echo "$1/mysql-replica.sock"
}

# The mariadb client as root on the replica.
stack_replica_sql() {
	local run=$1
	shift
	mariadb --socket="$run/mysql-replica.sock" -uroot --batch --skip-column-names "$@"
}

# Start the replica (initialised on first use, pointed at the primary) as the stack's user.
# Call after the primary is up and before anything is written to it.
stack_replica_start() {
	local var=$1 run=$2 primary_new=$3 user auth=(--auth-root-authentication-method=normal) new=""
	local pw pwfile="$var/secrets/mysql_repl_password"
	[ -n "$STACK_REPLICA" ] || return 0
	PORT_MYSQL=$((PORT_WEB + 55))
	user=${STACK_RUN_AS:-root}
	[ -z "$STACK_RUN_AS" ] ||
		auth=(--auth-root-authentication-method=socket --auth-root-socket-user=root)
	mkdir -p "$var/mysql-replica"
	stack_logfiles "$var" mariadb-replica
	if [ ! -d "$var/mysql-replica/data/mysql" ]; then
		[ -n "$primary_new" ] ||
			die "a MariaDB replica needs a fresh state directory (the primary's data predates its binary log): remove $var/mysql or use another FLASHSALE_VAR"
		say "initialising the MariaDB replica in $var/mysql-replica/data"
		mariadb-install-db --no-defaults --datadir="$var/mysql-replica/data" --user="$user" \
			"${auth[@]}" >"$var/log/mariadb-replica-install.log" 2>&1 ||
			die "mariadb-install-db (replica) failed (see $var/log/mariadb-replica-install.log)"
		new=1
	fi
	[ -z "$STACK_RUN_AS" ] || chown -R "$user:$user" "$var/mysql-replica"
	(setsid mariadbd --no-defaults --datadir="$var/mysql-replica/data" \
		--socket="$run/mysql-replica.sock" --skip-networking --user="$user" \
		--pid-file="$run/mysqld-replica.pid" --log-error="$var/log/mariadb-replica.log" \
		--server-id=2 --read-only=1 --gtid-strict-mode=1 --relay-log=relay-bin \
		--innodb-buffer-pool-size=64M --max-connections=500 \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		</dev/null >/dev/null 2>&1 &)
	wait_for 300 mariadb-admin --socket="$run/mysql-replica.sock" -uroot ping ||
		die "the MariaDB replica did not start (see $var/log/mariadb-replica.log)"
	[ -z "$new" ] && return 0
	[ -s "$pwfile" ] || (umask 077 && openssl rand -hex 16 >"$pwfile")
	pw=$(cat "$pwfile")
	# Made on the primary, so it replicates too; it may only replicate, from loopback.
	stack_sql "$run" -e "CREATE USER IF NOT EXISTS 'repl'@'127.0.0.1' IDENTIFIED BY '$pw';
		GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'" ||
		die "creating the replication account failed"
	stack_replica_sql "$run" -e "SET GLOBAL gtid_slave_pos = '';
		CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$PORT_MYSQL,
		MASTER_USER='repl', MASTER_PASSWORD='$pw', MASTER_CONNECT_RETRY=1,
		MASTER_USE_GTID=slave_pos; START SLAVE" ||
		die "starting replication failed (see $var/log/mariadb-replica.log)"
}

# After the migrations and accounts: let the programs' account read the replica's state, and
# wait until the replica has applied everything the primary has written (30 s at most).
stack_replica_sync() {
	local run=$1 pos
	[ -n "$STACK_REPLICA" ] || return 0
	stack_sql "$run" -e "GRANT SLAVE MONITOR ON *.* TO '$DB_APP_USER'@'localhost'" ||
		die "granting SLAVE MONITOR to $DB_APP_USER failed"
	stack_replica_sql "$run" -e "START SLAVE" 2>/dev/null || true
	pos=$(stack_sql "$run" -e "SELECT @@gtid_binlog_pos")
	[ "$(stack_replica_sql "$run" -e "SELECT MASTER_GTID_WAIT('$pos', 30)")" = 0 ] ||
		die "the MariaDB replica did not catch up with $pos (see SHOW REPLICA STATUS)"
	say "MariaDB replica caught up ($pos)"
}
