#!/usr/bin/env bash
# supervise.sh PIDFILE PROGRAM [ARGS] - keep a daemon job running, restarting it when it dies.
# TERM stops the job (it drains and exits) and then the supervisor.
set -u
pidfile=$1
shift
echo $$ >"$pidfile"
child=""
stopping=""
trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
while [ -z "$stopping" ]; do
	"$@" &
	child=$!
	wait "$child"
	status=$?
	# wait returns early when a trapped signal arrives: wait for the child itself.
	while kill -0 "$child" 2>/dev/null; do wait "$child"; done
	[ -n "$stopping" ] && break
	echo "supervise: $1 exited with status $status, restarting in 1 s" >&2
	sleep 1
done
