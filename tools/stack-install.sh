# stack-install.sh - what a fresh machine needs: Debian packages, npm modules, the stack's system
# user, and the build. Sourced by tools/stack.sh (expects TOP, BUILD, say, die).

# Debian packages each command needs.
PKGS_BASE="autoconf automake libtool pkg-config make gcc libfcgi-dev libhiredis-dev libmariadb-dev
libjansson-dev libjwt-dev libsodium-dev libcurl4-openssl-dev librdkafka-dev libssl-dev libinih-dev
check libqrencode-dev mariadb-server mariadb-client redis-server redis-tools nginx spawn-fcgi
multiwatch curl openssl python3 clang-format procps util-linux passwd"
PKGS_TEST="apache2 chromium fonts-wqy-microhei prometheus debhelper lintian systemd"
PKGS_BENCH="wrk"

# The unprivileged user and group the stack's programs, jobs and servers run as when it is
# started as root (the web servers' user joins the group to reach the sockets).
STACK_USER=${FLASHSALE_STACK_USER:-flashsale}
STACK_WEB_USER=www-data

# Run apt-get, waiting for a dpkg/apt lock another apt run holds instead of failing on it.
stack_apt() {
	local sudo=$1 tries=120 rc err
	shift
	err=$(mktemp)
	while :; do
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" \
			2>"$err" >/dev/null
		rc=$?
		if [ $rc -ne 0 ] && grep -qiE 'could not get lock|unable to acquire|is another process using it' \
			"$err" && [ $tries -gt 0 ]; then
			tries=$((tries - 1))
			say "apt is locked by another run; waiting"
			sleep 5
			continue
		fi
		[ $rc -eq 0 ] || cat "$err" >&2
		rm -f "$err"
		return $rc
	done
}

# apt-get update and install PACKAGES with a policy-rc.d that keeps packages from starting system
# services (the stack runs its own servers); the policy file goes even when apt fails.
stack_apt_install() (
	local sudo="" policy=${STACK_POLICY_RC:-/usr/sbin/policy-rc.d}
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	if [ ! -e "$policy" ]; then
		trap '$sudo rm -f "$policy"' EXIT
		printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
		$sudo chmod +x "$policy"
	fi
	stack_apt "$sudo" update -qq && stack_apt "$sudo" install -y -qq --no-install-recommends "$@"
)

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
		stack_apt_install "${missing[@]}" || die "apt-get install ${missing[*]} failed"
	fi
	# The storefront's npm libraries (the ALTCHA widget) into www/vendor.
	if [ ! -s "$TOP/www/vendor/altcha/altcha.js" ]; then
		say "vendoring the storefront's libraries (npm)"
		"$TOP/tools/vendor.sh" || die "tools/vendor.sh failed"
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

# As root: the stack's system user and group, with the web servers' user in the group (a no-op
# for another caller, whose stack runs as itself).
stack_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	getent group "$STACK_USER" >/dev/null || groupadd --system "$STACK_USER" ||
		die "groupadd $STACK_USER failed"
	getent passwd "$STACK_USER" >/dev/null ||
		useradd --system --gid "$STACK_USER" --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$STACK_USER" || die "useradd $STACK_USER failed"
	if getent passwd "$STACK_WEB_USER" >/dev/null &&
		! id -nG "$STACK_WEB_USER" | tr ' ' '\n' | grep -qx "$STACK_USER"; then
		usermod -aG "$STACK_USER" "$STACK_WEB_USER" || die "usermod $STACK_WEB_USER failed"
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
