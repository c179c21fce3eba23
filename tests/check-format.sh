#!/bin/sh
# check-format.sh - fail if any C file differs from what clang-format makes of it.
: "${top_srcdir:=.}"
: "${CLANG_FORMAT:=clang-format}"
status=0
for f in $(cd "$top_srcdir" && find common fcgi jobs tests bench tools -name '*.[ch]' 2>/dev/null | sort); do
	if ! "$CLANG_FORMAT" --style=file "$top_srcdir/$f" | cmp -s - "$top_srcdir/$f"; then
		echo "not clang-formatted: $f (run: clang-format -i $f)"
		status=1
	fi
done
[ $status -eq 0 ] && echo "all C files clang-formatted"
exit $status
