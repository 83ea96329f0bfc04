#!/usr/bin/env bash
# Build OpenSSL 3.5 from Debian's own trixie source package into a cache
# directory outside the source tree, and print the install prefix on stdout.
#
# The machine's apt configuration is never touched: the trixie deb-src line,
# its package lists and apt's state live under the cache directory and are
# handed to apt-get with -o options.  A cache that already holds a working
# build is reused as it is.
#
# Environment:
#   DGRAMBATCH_CACHE   cache directory (default: ~/.cache/dgrambatch)
#   DGRAMBATCH_SUITE   Debian suite to take the source from (default: trixie)
#   MAKEFLAGS/JOBS     parallelism for make (default: -j$(nproc))
set -euo pipefail

cache=${DGRAMBATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dgrambatch}
suite=${DGRAMBATCH_SUITE:-trixie}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
prefix=$cache/openssl-3.5
aptdir=$cache/apt
srcdir=$cache/src

log() { printf 'openssl35: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The build is only reused when it is complete: bin/openssl runs and reports
# a 3.5 version, and the pkg-config file is there.
cached_ok() {
	[ -x "$prefix/bin/openssl" ] &&
		[ -f "$prefix/lib/pkgconfig/libcrypto.pc" ] &&
		LD_LIBRARY_PATH=$prefix/lib "$prefix/bin/openssl" version 2>/dev/null |
		grep -q '^OpenSSL 3\.5\.'
}

# One build at a time per cache: a second run waits, then finds the cache.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if cached_ok; then
	log "reusing $prefix ($(LD_LIBRARY_PATH=$prefix/lib "$prefix/bin/openssl" version))"
	echo "$prefix"
	exit 0
fi

# retry N CMD...: a download that fails is tried again with a growing pause;
# after the last try the failure is fatal, never skipped.
retry() {
	local tries=$1 n=1
	shift
	until "$@"; do
		[ "$n" -ge "$tries" ] && die "failed after $tries tries: $*"
		log "attempt $n failed: $*; retrying in $((n * 10))s"
		sleep $((n * 10))
		n=$((n + 1))
	done
}

# The mirror is the one the machine already uses for Debian itself (not the
# security archive), read from its deb822 sources file or a classic list.
mirror_uri() {
	local f uri=
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
		[ -n "$uri" ] && break
	done
	if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
	fi
	[ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list.d/debian.sources"
	echo "$uri"
}

command -v apt-get >/dev/null || die "apt-get is required"
command -v dpkg-source >/dev/null || die "dpkg-source is required (apt-get install dpkg-dev)"

uri=$(mirror_uri)
mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" "$aptdir/cache" "$srcdir"
echo "deb-src $uri $suite main" >"$aptdir/sources.list"
aptopts=(
	-o "Dir::Etc::sourcelist=$aptdir/sources.list"
	-o "Dir::Etc::sourceparts=-"
	-o "Dir::State::Lists=$aptdir/lists"
	-o "Dir::Cache=$aptdir/cache"
	-o "Dir::Cache::archives=$aptdir/archives"
	-o "APT::Get::List-Cleanup=0"
	-o "APT::Sandbox::User=root"
)

# apt-get update exits 0 when a fetch fails unless told otherwise, so a
# broken mirror would only show up later as "unable to find a source
# package"; --error-on=any makes it fail here, where it is retried.
fetch() {
	apt-get "${aptopts[@]}" -q --error-on=any update &&
		(cd "$srcdir" && rm -rf openssl-3.5*/ openssl_3.5* &&
			apt-get "${aptopts[@]}" -q source --download-only openssl)
}

log "fetching the openssl source package from $uri $suite"
retry 3 fetch >&2
cd "$srcdir"
dsc=$(compgen -G 'openssl_3.5*.dsc' | head -n1 || true)
[ -n "$dsc" ] || die "the $suite source package is not OpenSSL 3.5: $(ls)"
log "unpacking $dsc"
dpkg-source --no-check -x "$dsc" >/dev/null
tree=$(find . -maxdepth 1 -type d -name 'openssl-3.5*' | head -n1)
[ -n "$tree" ] || die "dpkg-source did not produce a source tree"

cd "$tree"
log "configuring in $srcdir/$tree"
./Configure --prefix="$prefix" --libdir=lib shared no-docs no-tests >/dev/null
log "building with -j$jobs (several minutes)"
make -j"$jobs" >build.log 2>&1 || { tail -n 50 build.log >&2; die "make failed"; }
make install_sw install_ssldirs >install.log 2>&1 || { tail -n 50 install.log >&2; die "make install failed"; }

cached_ok || die "the build in $prefix does not run"
log "installed $(LD_LIBRARY_PATH=$prefix/lib "$prefix/bin/openssl" version) in $prefix"
echo "$prefix"
