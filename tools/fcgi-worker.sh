#!/bin/sh
# fcgi-worker.sh PROGRAM [ARGS] - one FastCGI worker slot under multiwatch: runs PROGRAM on the
# listening socket (fd 0) and starts it again whenever it dies, so a domain returns to full
# strength after any burst of crashes (multiwatch gives up on a child that dies too often).
# A worker that dies within a second of starting is restarted after a growing pause (0.1 s
# doubling to 5 s), so a program that cannot start does not spin. TERM (multiwatch stopping)
# or USR1 (multiwatch stopping) is passed on as TERM: the worker finishes its request and exits,
# and so does this loop.
exec 3<&0
child=""
stopping=""
trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT USR1
trap '[ -n "$child" ] && kill -HUP "$child" 2>/dev/null' HUP
pause=1
while [ -z "$stopping" ]; do
	started=$(date +%s)
	# An asynchronous command's stdin is /dev/null unless redirected: hand it the socket.
	"$@" 0<&3 3<&- &
	child=$!
	wait "$child"
	status=$?
	# wait returns early when a trapped signal arrives: wait for the worker itself.
	while kill -0 "$child" 2>/dev/null; do wait "$child"; done
	[ -n "$stopping" ] && break
	# multiwatch gone (killed): leave rather than serve an orphaned socket forever.
	kill -0 "$PPID" 2>/dev/null || break
	if [ $(($(date +%s) - started)) -ge 2 ]; then
		pause=1
	elif [ $pause -lt 50 ]; then
		pause=$((pause * 2))
	fi
	echo "fcgi-worker: $1 exited with status $status, restarting in $pause/10 s" >&2
	sleep "$(printf '%d.%d' $((pause / 10)) $((pause % 10)))"
done
