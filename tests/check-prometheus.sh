#!/bin/sh
# check-prometheus.sh - promtool check rules, the rules' unit tests and the example scrape
# configuration (dist/prometheus).
# Exit 77 (skipped) only when promtool is not installed (`./flashsale test` installs it).
: "${top_srcdir:=.}"
PROMTOOL=${PROMTOOL:-$(command -v promtool)}
if [ -z "$PROMTOOL" ]; then
	echo "promtool not found (apt-get install prometheus): skipped"
	exit 77
fi
dir="$top_srcdir/dist/prometheus"
"$PROMTOOL" check rules "$dir/flashsale.rules.yml" || exit 1
# The example scrape configuration (its rule_files path is the installed one: syntax only).
"$PROMTOOL" check config --syntax-only "$dir/prometheus.example.yml" || exit 1
# promtool resolves rule_files relative to the test file.
"$PROMTOOL" test rules "$dir/flashsale.rules.test.yml" || exit 1
