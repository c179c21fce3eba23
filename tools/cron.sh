#!/usr/bin/env bash
# cron.sh PIDFILE CRONFILE BUILD - run jobs/flashsale.cron's schedule for a local stack.
# Understands "*", "*/N" in the minute field with "* * * *" after it, and "M H * * *".
# Each job runs under flock so a slow run is never overlapped by the next.
set -u
pidfile=$1 cronfile=$2 build=$3
echo $$ >"$pidfile"
lockdir=$(dirname "$pidfile")
trap 'exit 0' TERM INT

# Does a schedule match the minute/hour now?
due() {
	local min=$1 hour=$2 m h
	m=$(date +%-M) h=$(date +%-H)
	case "$min" in
	'*') ;;
	'*/'*) [ $((m % ${min#*/})) -eq 0 ] || return 1 ;;
	*) [ "$min" = "$m" ] || return 1 ;;
	esac
	case "$hour" in
	'*') ;;
	*) [ "$hour" = "$h" ] || return 1 ;;
	esac
}

while :; do
	while read -r min hour dom mon dow user cmd; do
		case "$min" in '' | '#'* | *=*) continue ;; esac
		due "$min" "$hour" || continue
		cmd=${cmd//@LIBEXECDIR@\//$build/jobs/}
		name=$(basename "${cmd%% *}")
		(flock -n 9 || exit 0; eval "$cmd") 9>"$lockdir/$name.lock" &
	done <"$cronfile"
	sleep $((60 - $(date +%-S))) &
	wait $!
done
