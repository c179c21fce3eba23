#!/usr/bin/env bash
# run.sh - the Debian package: build it with `dpkg-buildpackage -us -uc -b` from a copy of the
# tree, run lintian (no errors allowed), and check what it holds (dpkg -c, dpkg -I, the files).
# usage: tests/deb/run.sh WORKDIR      Prints "N passed, N failed"; exits 1 on any failure.
set -uo pipefail
TOP=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
WORK=${1:?usage: run.sh WORKDIR}
passed=0 failed=0

# Record one check: name, then the command that must succeed.
check() {
	local name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name"
	fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

rm -rf "$WORK"
SRC="$WORK/flashsale-0.1.0"
mkdir -p "$SRC"
# The tracked and new files (not build/, var/, node_modules), plus the vendored redoc bundle.
(
	cd "$TOP"
	{ git ls-files -co --exclude-standard 2>/dev/null || find . -path ./build -prune -o \
		-path ./var -prune -o -name node_modules -prune -o -type f -print; } |
		grep -v '^debian/flashsale/\|^debian/\.debhelper/' >"$WORK/files"
	[ -f www/vendor/redoc.standalone.js ] && echo www/vendor/redoc.standalone.js >>"$WORK/files"
	tar -cf - -T "$WORK/files"
) | tar -xf - -C "$SRC"

t0=$(date +%s)
(cd "$SRC" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$WORK/build.log" 2>&1
rc=$?
echo "dpkg-buildpackage: exit $rc in $(($(date +%s) - t0)) s (log: $WORK/build.log)"
[ $rc -eq 0 ] || tail -40 "$WORK/build.log"
check "dpkg-buildpackage -us -uc -b" test $rc -eq 0
DEB=$(ls "$WORK"/flashsale_*.deb 2>/dev/null | head -1)
CHANGES=$(ls "$WORK"/flashsale_*.changes 2>/dev/null | head -1)
[ -n "$DEB" ] || finish

t0=$(date +%s)
lintian --no-cfg --display-info "$CHANGES" >"$WORK/lintian.log" 2>&1
echo "lintian in $(($(date +%s) - t0)) s:"
cat "$WORK/lintian.log"
check "lintian: no errors" bash -c "! grep -q '^E: ' '$WORK/lintian.log'"

dpkg -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/contents"
has() { grep -qx -- "$1" "$WORK/contents"; }
for d in usercenter product seckill order payment; do
	check "program flashsale-$d" has "/usr/libexec/flashsale/flashsale-$d"
done
for j in order-writer order-events notify settle order-timeout seckill-preheat reconcile \
	bill-reconcile trace-exporter admin; do
	check "job flashsale-$j" has "/usr/libexec/flashsale/flashsale-$j"
done
check "sample config /etc/flashsale/flashsale.conf" has /etc/flashsale/flashsale.conf
check "systemd unit template flashsale-fcgi@" has "/lib/systemd/system/flashsale-fcgi@.service"
check "systemd unit template flashsale-job@" has "/lib/systemd/system/flashsale-job@.service"
check "systemd unit flashsale-usercenter-auth" has "/lib/systemd/system/flashsale-usercenter-auth.service"
check "systemd unit flashsale-intent-relay" has "/lib/systemd/system/flashsale-intent-relay.service"
check "cron file /etc/cron.d/flashsale" has /etc/cron.d/flashsale
check "logrotate file" has /etc/logrotate.d/flashsale
check "nginx configuration" has /usr/share/flashsale/nginx.conf
check "Apache configuration" has /usr/share/flashsale/apache.conf
check "storefront www/" has /usr/share/flashsale/www/index.html
check "reconciliation page www/reconcile.html" has /usr/share/flashsale/www/reconcile.html
check "API reference www/docs/" has /usr/share/flashsale/www/docs/index.html
check "migrations" has /usr/share/flashsale/sql/001_usercenter.sql
check "Prometheus rules" has /usr/share/flashsale/prometheus/flashsale.rules.yml
check "Grafana dashboard" has /usr/share/flashsale/grafana/flashsale.json
check "README.Debian" has /usr/share/doc/flashsale/README.Debian
check "no file in /usr/local or the build tree" bash -c "! grep -q '^/usr/local\|/build/' '$WORK/contents'"

dpkg -I "$DEB" >"$WORK/info"
field() { dpkg-deb -f "$DEB" "$1"; }
check "Depends: spawn-fcgi, multiwatch, adduser" \
	bash -c "dpkg-deb -f '$DEB' Depends | grep -q spawn-fcgi && dpkg-deb -f '$DEB' Depends | grep -q multiwatch && dpkg-deb -f '$DEB' Depends | grep -q adduser"
check "conffiles: flashsale.conf, cron, logrotate" bash -c "dpkg-deb -e '$DEB' '$WORK/control' &&
	grep -qx /etc/flashsale/flashsale.conf '$WORK/control/conffiles' &&
	grep -qx /etc/cron.d/flashsale '$WORK/control/conffiles' &&
	grep -qx /etc/logrotate.d/flashsale '$WORK/control/conffiles'"
check "postinst makes the flashsale system user" grep -q "adduser --system" "$WORK/control/postinst"
check "maintainer scripts start nothing" bash -c "! grep -hE 'deb-systemd-invoke (start|restart)|systemctl (start|restart|enable)|invoke-rc.d' '$WORK'/control/p* 2>/dev/null"

dpkg-deb -x "$DEB" "$WORK/root"
check "cron jobs commented out until configured" bash -c "! grep -E '^[^#A-Z]' '$WORK/root/etc/cron.d/flashsale' && grep -q '^#.* flashsale /usr/libexec/flashsale/flashsale-order-timeout' '$WORK/root/etc/cron.d/flashsale'"
check "units run as flashsale from /usr/libexec" bash -c "grep -q '^User=flashsale' '$WORK/root/lib/systemd/system/flashsale-fcgi@.service' && grep -q '/usr/libexec/flashsale/flashsale-%i' '$WORK/root/lib/systemd/system/flashsale-fcgi@.service'"
# The relay's unit: the order-writer in its --relay role, as the others run (user, config).
relay_unit() {
	local u=$WORK/root/lib/systemd/system/flashsale-intent-relay.service
	grep -qx 'ExecStart=/usr/libexec/flashsale/flashsale-order-writer --relay' "$u" &&
		grep -qx 'User=flashsale' "$u" && grep -qx 'WantedBy=multi-user.target' "$u" &&
		grep -qx 'Environment=FLASHSALE_CONF=/etc/flashsale/flashsale.conf' "$u" && ! grep -q '@[a-z]*@' "$u"
}
check "the relay's unit runs flashsale-order-writer --relay as flashsale" relay_unit
# systemd-analyze verify: each unit (a template as one instance) parses without a warning and
# starts an executable of the package (its paths pointed into the extracted tree).
verify_unit() {
	local src=$WORK/root/lib/systemd/system/$1 out
	mkdir -p "$WORK/units"
	sed "s|/usr/libexec/flashsale/|$WORK/root/usr/libexec/flashsale/|g" "$src" >"$WORK/units/$2" &&
		out=$(systemd-analyze verify "$WORK/units/$2" 2>&1) && [ -z "$out" ] ||
		{ echo "$2: ${out:-missing}"; return 1; }
}
check "systemd-analyze verify flashsale-fcgi@ (as @seckill)" verify_unit flashsale-fcgi@.service flashsale-fcgi@seckill.service
check "systemd-analyze verify flashsale-job@ (as @order-writer)" verify_unit flashsale-job@.service flashsale-job@order-writer.service
check "systemd-analyze verify flashsale-usercenter-auth" verify_unit flashsale-usercenter-auth.service flashsale-usercenter-auth.service
check "systemd-analyze verify flashsale-intent-relay" verify_unit flashsale-intent-relay.service flashsale-intent-relay.service
check "www/docs/openapi.yaml is the document (not a dangling link)" \
	cmp -s "$WORK/root/usr/share/flashsale/www/docs/openapi.yaml" "$TOP/doc/openapi.yaml"
check "programs are linked, hardened ELF executables" bash -c "file -L '$WORK/root/usr/libexec/flashsale/flashsale-seckill' | grep -q 'ELF.*pie'"
finish
