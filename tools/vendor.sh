#!/usr/bin/env bash
# vendor.sh - copy the storefront's npm libraries into www/vendor (run by the stack's install step).
# altcha 2.x: the proof-of-work widget; its "external" build keeps styles and the worker in
# files of their own, so the strict CSP (script-src/style-src 'self') holds.
set -euo pipefail
TOP=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
SRC="$TOP/tools/vendor"
OUT="$TOP/www/vendor/altcha"
if [ ! -f "$SRC/node_modules/altcha/package.json" ]; then
	(cd "$SRC" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
mkdir -p "$OUT"
for f in altcha.js altcha.css worker.js; do
	install -m 0644 "$SRC/node_modules/altcha/dist_external/$f" "$OUT/$f"
done
install -m 0644 "$SRC/node_modules/altcha/LICENSE.txt" "$OUT/LICENSE.txt" 2>/dev/null ||
	install -m 0644 "$SRC/node_modules/altcha/LICENSE" "$OUT/LICENSE.txt" 2>/dev/null || true
