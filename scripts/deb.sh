#!/usr/bin/env bash
# deb.sh - the Debian packaging stage of CI, for a Debian 12 machine, as
# root (or with sudo), from a clone:
#   1. installs what it needs with apt-get (only what is missing);
#   2. makes the release tarball (scripts/build.sh, make dist), unpacks it,
#      adds debian/ and runs dpkg-buildpackage -us -uc -b, test suite
#      included (DEB_BUILD_OPTIONS passes through: nocheck skips it);
#   3. runs lintian on the .changes: any error fails the stage;
#   4. installs the four packages and checks the installed files alone:
#      OpenSSL loads the provider by name, openssl s_server -dtls and
#      s_client -dtls exchange a line each way under 'dgrambatch run', and
#      a program built with pkg-config and dgrambatch.h gets the module's
#      BIO and moves datagrams with it;
#   5. purges them and checks that nothing they installed is left.
# The last line says "deb: ok (...)" or "deb: FAILED: ...".
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
packages=(openssl-provider-dgrambatch dgrambatch-preload dgrambatch dgrambatch-dev)

fail() {
	echo "deb: FAILED: $*" >&2
	exit 1
}

if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null; then
	sudo=(sudo)
else
	fail "needs root (or sudo): it installs and purges packages"
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt-get may hold the lock for a while (a concurrent job, or
# unattended-upgrades on a fresh machine): wait for it.
apt=("${sudo[@]}" apt-get -q -o DPkg::Lock::Timeout=600)

# step NAME: start a timed step; the previous one's time is printed
step_name=
step_start=$SECONDS
timings=()
step() {
	if [ -n "$step_name" ]; then
		timings+=("$step_name $((SECONDS - step_start))s")
		echo "--- $step_name: $((SECONDS - step_start))s"
	fi
	step_name=$1
	step_start=$SECONDS
	[ -z "$1" ] || echo "--- $1"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/deb-XXXXXX")
bg_pids=()
installed=
cleanup() {
	local p
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	if [ -n "$installed" ]; then
		echo "deb: purging the packages installed by this run" >&2
		"${apt[@]}" purge -y "${packages[@]}" >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

[ -f "$top/debian/control" ] ||
	fail "no debian/ in $top: run it from a clone (release tarballs do not carry debian/)"

# --- 1. what the build, lintian and the checks need ------------------------
step "dependencies"
bash "$top/scripts/deps.sh"
tools=(debhelper dh-autoreconf lintian dpkg-dev fakeroot iproute2 build-essential pkg-config openssl)
missing=()
for p in "${tools[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
updated=
apt_install() {
	local try
	for try in 1 2 3; do
		if { [ -n "$updated" ] || "${apt[@]}" update >/dev/null; } && updated=1 &&
			"${apt[@]}" "$@" >"$work/apt.log" 2>&1; then
			return 0
		fi
		tail -n 20 "$work/apt.log" >&2 || true
		echo "deb: apt-get failed (try $try of 3)" >&2
		sleep $((try * 10))
	done
	return 1
}
if [ "${#missing[@]}" -gt 0 ]; then
	echo "deb: installing ${missing[*]}"
	apt_install install -y --no-install-recommends "${missing[@]}" ||
		fail "could not install ${missing[*]}"
fi

# --- 2. the release tarball, and the packages built from it ----------------
step "make dist"
dist=$(DGB_BUILD_ROOT=$work/build bash "$top/scripts/build.sh" dist 2>"$work/build.err") ||
	{ cat "$work/build.err" >&2; fail "scripts/build.sh"; }
make -C "$dist" dist >"$work/dist.log" 2>&1 || { tail -n 40 "$work/dist.log" >&2; fail "make dist"; }
tarball=$(ls "$dist"/dgrambatch-*.tar.gz)
version=${tarball##*/dgrambatch-}
version=${version%.tar.gz}
debversion=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
[ "${debversion%-*}" = "$version" ] ||
	fail "debian/changelog is at $debversion, the tarball is $version: add a changelog entry"
echo "deb: $(basename "$tarball") ($(du -k "$tarball" | cut -f1) kB), packaging $debversion"

mkdir "$work/src"
tar -xzf "$tarball" -C "$work/src"
src=$work/src/dgrambatch-$version
cp "$tarball" "$work/src/dgrambatch_$version.orig.tar.gz"
cp -a "$top/debian" "$src/"
rm -rf "$work/build"

if ! (cd "$src" && dpkg-checkbuilddeps) 2>"$work/builddeps.err"; then
	echo "deb: $(cat "$work/builddeps.err")"
	apt_install build-dep -y "$src" || fail "could not install the build dependencies"
fi

step "dpkg-buildpackage${DEB_BUILD_OPTIONS:+ (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)}"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b -Jauto) >"$work/build.log" 2>&1; then
	tail -n 80 "$work/build.log" >&2
	find "$src" -name test-suite.log -exec cat {} + >&2 2>/dev/null || true
	fail "dpkg-buildpackage"
fi
if grep -q '^# TOTAL:' "$work/build.log"; then
	sed -n '/^# TOTAL:/,/^# ERROR:/p' "$work/build.log" | tr -s ' ' | paste -sd' '
	grep -E '^(SKIP|FAIL|XPASS|ERROR): ' "$work/build.log" || true
elif grep -qw nocheck <<<"${DEB_BUILD_OPTIONS:-}"; then
	echo "deb: make check skipped (nocheck)"
else
	fail "make check did not run (no test summary in the build log)"
fi
grep -A4 '^Providers:' "$work/build.log" || echo "deb: smoke test skipped (nocheck)"

changes=$(ls "$work"/src/dgrambatch_*.changes)
debs=()
for p in "${packages[@]}"; do
	f=$(ls "$work/src/${p}_${debversion}_"*.deb 2>/dev/null) || fail "no $p package was built"
	debs+=("$f")
done

# --- 3. lintian --------------------------------------------------------------
step "lintian"
lintian_rc=0
lintian -i --pedantic -E --display-info --show-overrides "$changes" >"$work/lintian.txt" 2>&1 ||
	lintian_rc=$?
grep -v '^running with root privileges' "$work/lintian.txt" | grep -E '^[EWIPXO]: ' || true
errors=$(grep -c '^E: ' "$work/lintian.txt" || true)
warnings=$(grep -c '^W: ' "$work/lintian.txt" || true)
if [ "$errors" -gt 0 ]; then
	grep -v '^running with root privileges' "$work/lintian.txt" >&2
	fail "lintian: $errors errors"
fi
[ "$lintian_rc" -eq 0 ] || { cat "$work/lintian.txt" >&2; fail "lintian exited with status $lintian_rc"; }

# --- 4. install, then use the installed files and nothing else ------------
step "install"
for f in "${debs[@]}"; do
	echo "$(dpkg-deb -f "$f" Package) ($(dpkg-deb -f "$f" Architecture)):"
	dpkg-deb -c "$f" | awk '{ print "   ", $1, $3, $6, $7, $8 }'
done
# Packages already installed (a stopped run, or the machine's own) are
# purged only when DGB_DEB_FORCE=1 says so: this stage must not take away
# an installation it did not make.
for p in "${packages[@]}"; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed'; then
		[ "${DGB_DEB_FORCE:-0}" = 1 ] ||
			fail "$p is installed here already; purge it, or set DGB_DEB_FORCE=1 to let this stage do it"
		"${apt[@]}" purge -y "${packages[@]}" >"$work/apt.log" 2>&1 ||
			{ cat "$work/apt.log" >&2; fail "could not purge an earlier install"; }
		break
	fi
done
installed=1
"${apt[@]}" install -y --no-install-recommends "${debs[@]}" >"$work/apt.log" 2>&1 ||
	{ cat "$work/apt.log" >&2; fail "apt-get install of the packages"; }
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' "$p"
done

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
moduledir=/usr/lib/$multiarch/ossl-modules
# The checks run from an empty directory with a bare environment: no
# OPENSSL_MODULES, OPENSSL_CONF or LD_* variables, nothing of the build on
# any path.
mkdir "$work/t"
cd "$work/t"
clean_env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work/t" LANG=C.UTF-8 TMPDIR="$work/t")
pass() { echo "ok - $*"; }

step "checks on the installed files"
"${clean_env[@]}" openssl list -providers -provider dgrambatch >providers.txt 2>&1 || true
awk '/^  [^ ]/ { p = ($1 == "dgrambatch") } p && /status: active/ { ok = 1 } END { exit !ok }' providers.txt ||
	{ cat providers.txt >&2; fail "openssl list -providers -provider dgrambatch: not active"; }
pass "openssl list -providers -provider dgrambatch: $(grep -A3 '^  dgrambatch' providers.txt | tr -s ' ' | paste -sd' ')"
"${clean_env[@]}" dgrambatch probe >probe.txt 2>&1 || { cat probe.txt >&2; fail "dgrambatch probe"; }
if ! grep -qx 'provider dgrambatch: *active' probe.txt ||
	! grep -qx "module file: *$moduledir/dgrambatch.so" probe.txt; then
	cat probe.txt >&2
	fail "dgrambatch probe: the installed module is not the one loaded"
fi
pass "dgrambatch probe: the provider is active, loaded from $moduledir/dgrambatch.so"

# DTLS through 'dgrambatch run': openssl s_server and s_client, each with
# the shim preloaded by the tool, exchange one line each way on 127.0.0.1.
"${clean_env[@]}" openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout key.pem -out cert.pem -days 1 -subj /CN=localhost >req.log 2>&1 ||
	{ cat req.log >&2; fail "openssl req (a throwaway certificate)"; }
mkfifo server.in client.in
# This shell holds both FIFOs open: s_server ends on EOF of its stdin, and
# EOF is how s_client is told to send close_notify and exit.
exec {server_fd}<>server.in {client_fd}<>client.in
dtls_env=("${clean_env[@]}" DGRAMBATCH_DEBUG=1)
# sockets_on PORT: UDP sockets bound to PORT, any address
sockets_on() {
	ss -Huan "sport = :$1" | wc -l
}
alive() { kill -0 "$1" 2>/dev/null; }
server_ready() { ! alive "$server_pid" || [ "$(sockets_on "$port")" -gt 0 ]; }
has_line() { grep -qxF "$2" "$1" || ! alive "$3"; }
server_pid=
for try in 1 2 3 4 5 6 7 8; do
	# Below the ephemeral range; s_server sets SO_REUSEADDR, so a port in
	# use would not fail its bind: it must be free before, and ours alone after.
	port=$((20000 + RANDOM % 12000))
	[ "$(sockets_on "$port")" -eq 0 ] || continue
	"${dtls_env[@]}" timeout -k 5 60 dgrambatch run --stats -- \
		openssl s_server -dtls -4 -accept "127.0.0.1:$port" -cert cert.pem -key key.pem \
		-naccept 1 -brief <server.in >server.out 2>server.err {server_fd}>&- {client_fd}>&- &
	server_pid=$!
	bg_pids+=("$server_pid")
	wait_for 20 server_ready || fail "s_server neither listened nor exited in 20 s"
	alive "$server_pid" && [ "$(sockets_on "$port")" -eq 1 ] && break
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
done
if [ -z "$server_pid" ]; then
	cat server.err >&2 2>/dev/null || true
	fail "s_server did not listen on 127.0.0.1 (8 ports tried)"
fi
echo "    s_server listening on 127.0.0.1:$port"
"${dtls_env[@]}" timeout -k 5 60 dgrambatch run --stats -- \
	openssl s_client -dtls -4 -connect "127.0.0.1:$port" -CAfile cert.pem -verify_return_error \
	-brief -nocommands <client.in >client.out 2>client.err {server_fd}>&- {client_fd}>&- &
client_pid=$!
bg_pids+=("$client_pid")
c2s="line from s_client $RANDOM$RANDOM"
s2c="line from s_server $RANDOM$RANDOM"
echo "$c2s" >&"$client_fd"
wait_for 30 has_line server.out "$c2s" "$server_pid" || true
echo "$s2c" >&"$server_fd"
wait_for 30 has_line client.out "$s2c" "$client_pid" || true
exec {client_fd}>&-
both_gone() { ! alive "$client_pid" && ! alive "$server_pid"; }
wait_for 30 both_gone || true
exec {server_fd}>&-
client_rc=0 server_rc=0
wait "$client_pid" || client_rc=$?
wait "$server_pid" || server_rc=$?
bg_pids=()
dtls_ok=1
for who in client server; do
	for want in "^dgrambatch $version: preload shim active" "^dgrambatch $version: stats of openssl\[" \
		'^Protocol version: DTLSv1.2$'; do
		grep -q "$want" "$who.err" || { echo "s_$who: no line matching '$want' on stderr" >&2; dtls_ok=; }
	done
	grep -q '^  received *[1-9][0-9]* datagrams' "$who.err" ||
		{ echo "s_$who: the shim's counters show no datagram received" >&2; dtls_ok=; }
done
grep -qxF "$c2s" server.out || { echo "s_server did not get the client's line" >&2; dtls_ok=; }
grep -qxF "$s2c" client.out || { echo "s_client did not get the server's line" >&2; dtls_ok=; }
if [ "$client_rc" -ne 0 ] || [ "$server_rc" -ne 0 ]; then
	echo "exit status: s_client $client_rc, s_server $server_rc" >&2
	dtls_ok=
fi
if [ -z "$dtls_ok" ]; then
	for who in client server; do
		echo "--- s_$who stderr" >&2
		cat "$who.err" >&2
	done
	fail "DTLS through dgrambatch run"
fi
pass "DTLS through 'dgrambatch run --stats': a line each way, both on the shim, both exited 0"
for who in server client; do
	sed -n "/stats of openssl/,/^  received/s/^/    s_$who: /p" "$who.err"
done

# The header-only API: a program built with pkg-config gets the module's
# BIO from the installed provider, found by name in the modules directory.
cat >prog.c <<'EOF'
#include <dgrambatch.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define N 16

static int udp_socket(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)a, &len) != 0)
		return -1;
	return fd;
}

static uint64_t counter(const char *name)
{
	OSSL_PROVIDER *prov = OSSL_PROVIDER_try_load(NULL, DGB_PROVIDER_NAME, 1);
	uint64_t v = 0;
	OSSL_PARAM p[2];

	p[0] = OSSL_PARAM_construct_uint64(name, &v);
	p[1] = OSSL_PARAM_construct_end();
	if (prov == NULL || !OSSL_PROVIDER_get_params(prov, p))
		v = 0;
	OSSL_PROVIDER_unload(prov);
	return v;
}

int main(void)
{
	struct sockaddr_in ta, ra;
	int tfd = udp_socket(&ta), rfd = udp_socket(&ra);
	BIO *tx, *rx;
	BIO_ADDR *peer = BIO_ADDR_new();
	DGB_MSG out[N], in[N];
	char sent[N][64], got[N][64], *path = NULL;
	size_t done = 0, n, total = 0;
	OSSL_PROVIDER *prov;
	OSSL_PARAM p[2];

	if (tfd < 0 || rfd < 0 || peer == NULL)
		return perror("socket"), 1;
	tx = DGB_new_dgram(NULL, tfd, BIO_CLOSE);
	rx = DGB_new_dgram(NULL, rfd, BIO_CLOSE);
	if (tx == NULL || rx == NULL || !DGB_is_dgrambatch(tx) || !DGB_is_dgrambatch(rx)) {
		fprintf(stderr, "DGB_new_dgram did not give the module's BIO\n");
		return 1;
	}
	BIO_ADDR_rawmake(peer, AF_INET, &ra.sin_addr, sizeof(ra.sin_addr), ra.sin_port);
	for (int i = 0; i < N; i++) {
		snprintf(sent[i], sizeof(sent[i]), "datagram %d of %d", i + 1, N);
		out[i] = (DGB_MSG){ .data = sent[i], .data_len = strlen(sent[i]) + 1, .peer = peer };
		in[i] = (DGB_MSG){ .data = got[i], .data_len = sizeof(got[i]) };
	}
	if (!DGB_sendmmsg(tx, out, sizeof(DGB_MSG), N, 0, &done) || done != N) {
		fprintf(stderr, "DGB_sendmmsg sent %zu of %d\n", done, N);
		return 1;
	}
	while (total < N) {
		for (size_t i = total; i < N; i++)
			in[i].data_len = sizeof(got[i]);
		if (!DGB_recvmmsg(rx, in + total, sizeof(DGB_MSG), N - total, 0, &n)) {
			fprintf(stderr, "DGB_recvmmsg failed after %zu datagrams\n", total);
			return 1;
		}
		total += n;
	}
	for (int i = 0; i < N; i++)
		if (strcmp(got[i], sent[i]) != 0) {
			fprintf(stderr, "datagram %d: got '%s'\n", i + 1, got[i]);
			return 1;
		}

	prov = OSSL_PROVIDER_try_load(NULL, DGB_PROVIDER_NAME, 1);
	p[0] = OSSL_PARAM_construct_utf8_ptr(DGB_PARAM_MODULE_PATH, &path, 0);
	p[1] = OSSL_PARAM_construct_end();
	if (prov == NULL || !OSSL_PROVIDER_get_params(prov, p) || path == NULL) {
		fprintf(stderr, "no module path from the provider\n");
		return 1;
	}
	printf("module %s\n", path);
	OSSL_PROVIDER_unload(prov);
	printf("moved %d datagrams; the module counted %llu sent, %llu received\n", N,
	       (unsigned long long)counter(DGB_PARAM_TX_DATAGRAMS),
	       (unsigned long long)counter(DGB_PARAM_RX_DATAGRAMS));
	BIO_free(tx);
	BIO_free(rx);
	BIO_ADDR_free(peer);
	return 0;
}
EOF
# shellcheck disable=SC2016 # expanded by the inner shell, in the bare environment
"${clean_env[@]}" sh -c 'cc -Wall -Werror $(pkg-config --cflags dgrambatch) prog.c \
	$(pkg-config --libs dgrambatch libcrypto) -o prog' >cc.log 2>&1 ||
	{ cat cc.log >&2; fail "cc with pkg-config dgrambatch"; }
"${clean_env[@]}" timeout 30 ./prog >prog.out 2>&1 || { cat prog.out >&2; fail "the header-only API program"; }
if ! grep -qx "module $moduledir/dgrambatch.so" prog.out ||
	! grep -qx "moved 16 datagrams; the module counted 16 sent, 16 received" prog.out; then
	cat prog.out >&2
	fail "the header-only API program: not the installed module, or not its counts"
fi
pass "a program built with \$(pkg-config --cflags --libs dgrambatch): $(tail -n1 prog.out)"
cd "$top"

# --- 5. purge: nothing the packages installed is left ---------------------
step "purge"
for p in "${packages[@]}"; do
	dpkg -L "$p"
done | sort -u >"$work/files.list"
"${apt[@]}" purge -y "${packages[@]}" >"$work/apt.log" 2>&1 ||
	{ cat "$work/apt.log" >&2; fail "apt-get purge"; }
installed=
left=()
while read -r f; do
	[ "$f" != /. ] || continue
	[ -e "$f" ] || [ -L "$f" ] || continue
	# A directory other packages still own (/usr/share/doc, the modules
	# directory of libssl3) stays; anything else is left behind.
	if [ -d "$f" ] && [ ! -L "$f" ] && dpkg -S "$f" >/dev/null 2>&1; then
		continue
	fi
	left+=("$f")
done <"$work/files.list"
[ ! -e "/usr/lib/$multiarch/dgrambatch" ] || left+=("/usr/lib/$multiarch/dgrambatch")
[ "${#left[@]}" -eq 0 ] || fail "left after purge: ${left[*]}"
if dpkg -S dgrambatch >"$work/dpkg-S.txt" 2>/dev/null; then
	cat "$work/dpkg-S.txt" >&2
	fail "dpkg -S still finds dgrambatch files"
fi
for p in "${packages[@]}"; do
	! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qv '^unknown ok not-installed$' ||
		fail "$p is still known to dpkg: $(dpkg-query -W -f='${Status}' "$p")"
done
pass "purged: none of the $(wc -l <"$work/files.list") paths the packages installed is left, dpkg -S finds nothing"
step ""

printf -v t '%s, ' "${timings[@]}"
echo "deb: timings: ${t%, }"
echo "deb: ok (${#packages[@]} packages, lintian: $errors errors, $warnings warnings)"
