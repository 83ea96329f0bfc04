#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. make distcheck against the system OpenSSL (3.0 on Debian 12);
#   2. make check against OpenSSL 3.5, built by scripts/openssl35.sh;
#   3. make check against OpenSSL 3.5 with ASan and UBSan, where any
#      sanitizer report fails the run;
#   4. the threaded Check suite against OpenSSL 3.5 with ThreadSanitizer,
#      where any TSan warning fails the run;
#   5. cross: stage 1's build (made with the system OpenSSL 3.0) runs its
#      make check under OpenSSL 3.5's libraries, openssl command and QUIC
#      test programs, QUIC included;
#   6. cross: stage 2's build (made with OpenSSL 3.5) runs its make check
#      under the system OpenSSL 3.0's libraries and openssl command;
#   7. and 8. cross: the sanitizer builds of stages 3 and 4 run under the
#      system OpenSSL 3.0, where the batched calls take the header's
#      private controls and socket-level fallback.
#   9. robustness (make check-robustness on stage 2's build): forged
#      ICMP, injected faults, loss and reordering, load, in short form.
#      Then fuzzing (make fuzz on the same build): every libFuzzer
#      harness of fuzz/ under ASan+UBSan, regressions replayed, each run
#      for a few seconds; any crash fails the stage.
#  10. Debian packages: scripts/deb.sh builds them from the make dist
#      tarball (make check included), runs lintian, installs them, checks
#      the installed files alone, and purges them.
#  11. RPM packages: scripts/rpm.sh builds them with rpmbuild from the
#      make dist tarball (make check in %check included), runs rpmlint, and
#      checks each package's files, flags and dependencies.
# One build serves every libcrypto.so.3; the cross stages hold it to that.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/deps.sh"
ossl35=$(bash "$top/scripts/openssl35.sh")

failed=()
total_pass=0
total_fail=0

# report DIR: print each test program's own closing line and add its counts
# to the totals.  Check says "N%: Checks: T, Failures: F, Errors: E"; the
# shell tests say "P passed, F failed".
report() {
	local log line t f e logs=("${@:2}")
	[ "${#logs[@]}" -gt 0 ] || logs=("$1"/tests/*.log)
	for log in "${logs[@]}"; do
		[ -f "$log" ] || continue
		case $log in */test-suite.log) continue ;; esac
		if line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n1) && [ -n "$line" ]; then
			t=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
			f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
			e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
			total_pass=$((total_pass + t - f - e))
			total_fail=$((total_fail + f + e))
		elif line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1) && [ -n "$line" ]; then
			total_pass=$((total_pass + ${line%% *}))
			f=${line#*, }
			total_fail=$((total_fail + ${f%% *}))
		elif grep -q '^SKIP' "$log"; then
			line=$(grep '^SKIP' "$log" | head -n1)
		else
			line="no result line"
			total_fail=$((total_fail + 1))
		fi
		grep -h '^SKIP' "$log" | sed "s|^|    $(basename "$log" .log): |" || true
		printf '  %-22s %s\n' "$(basename "$log" .log)" "$line"
	done
}

# run NAME COMMAND...: one stage; its failure is reported, the others still run
run() {
	local name=$1
	shift
	echo
	echo "=== $name"
	local start=$SECONDS
	if "$@"; then
		echo "=== $name: ok ($((SECONDS - start))s)"
	else
		echo "=== $name: FAILED ($((SECONDS - start))s)"
		failed+=("$name")
	fi
}

# check_in DIR TARGET [MAKE-ARGS...]: make TARGET in DIR, showing the test
# logs on failure
check_in() {
	local dir=$1 target=$2
	local rc=0
	shift 2
	make -C "$dir" -j"$(nproc)" "$target" "$@" || rc=1
	if [ "$rc" -ne 0 ]; then
		find "$dir" -name test-suite.log -exec cat {} + 2>/dev/null || true
	fi
	return "$rc"
}

# The system OpenSSL: make check (whose logs are kept), then distcheck,
# which builds, checks, installs and uninstalls from the tarball.
stage_distcheck() {
	local dir rc=0
	dir=$(bash "$top/scripts/build.sh" openssl-system) || return 1
	check_in "$dir" check || rc=1
	report "$dir"
	check_in "$dir" distcheck || rc=1
	return "$rc"
}

stage_check35() {
	local dir rc=0
	dir=$(bash "$top/scripts/build.sh" openssl-3.5 --with-openssl="$ossl35") || return 1
	check_in "$dir" check || rc=1
	report "$dir"
	return "$rc"
}

# sanitized_check DIR [MAKE-ARGS...]: make check in an ASan+UBSan build,
# where a sanitizer report fails the run even where a test survived it.
sanitized_check() {
	local dir=$1 rc=0
	shift
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		check_in "$dir" check "$@" || rc=1
	report "$dir"
	if grep -lE '^(==[0-9]+==ERROR: |SUMMARY: (Address|Undefined|Leak)Sanitizer|.*runtime error: )' \
		"$dir"/tests/*.log 2>/dev/null; then
		echo "sanitizer reports found in the logs above"
		rc=1
	fi
	return "$rc"
}

# tsan_check DIR [MAKE-ARGS...]: the threaded suite in a TSan build, where a
# TSan warning fails the run even where the test survived it.  Only the
# threaded suite runs under TSan: the rest is single-threaded and covered
# by the other stages.
tsan_check() {
	local dir=$1 rc=0
	shift
	CK_RUN_SUITE=threads TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		make -C "$dir" -j"$(nproc)" check TESTS=tests/dgb_check "$@" || rc=1
	if [ "$rc" -ne 0 ]; then
		find "$dir" -name test-suite.log -exec cat {} + 2>/dev/null || true
	fi
	report "$dir"
	if grep -l 'WARNING: ThreadSanitizer' "$dir"/tests/*.log 2>/dev/null; then
		echo "ThreadSanitizer warnings found in the logs above"
		rc=1
	fi
	return "$rc"
}

stage_sanitizers() {
	local dir
	dir=$(bash "$top/scripts/build.sh" openssl-3.5-sanitizers \
		--with-openssl="$ossl35" --enable-sanitizers) || return 1
	sanitized_check "$dir"
}

stage_tsan() {
	local dir
	dir=$(bash "$top/scripts/build.sh" openssl-3.5-tsan \
		--with-openssl="$ossl35" --enable-sanitizers=thread) || return 1
	tsan_check "$dir"
}

# The system OpenSSL's libraries: LD_LIBRARY_PATH pointing there overrides
# the RUNPATH to OpenSSL 3.5 in stage 2's binaries.
syslib=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
sysossl=$(command -v openssl || true)

# cross_env DIR LIBDIR VERSION: show which libcrypto the programs of the
# build in DIR load with LD_LIBRARY_PATH=LIBDIR, and fail unless the
# build's own tool, run that way as the tests run it, reports OpenSSL
# VERSION at run time and this build's module active in it.
cross_env() {
	local dir=$1 libdir=$2 want=$3 f probe
	for f in tests/dgb_check tools/dgrambatch .libs/dgrambatch.so .libs/dgrambatch-preload.so; do
		if [ ! -e "$dir/$f" ]; then
			echo "$dir/$f: missing (did the stage that builds $dir run?)"
			return 1
		fi
	done
	echo "$("$dir/tools/dgrambatch" --version); with LD_LIBRARY_PATH=$libdir:"
	for f in tests/dgb_check tools/dgrambatch .libs/dgrambatch.so .libs/dgrambatch-preload.so; do
		echo "  $f: $(LD_LIBRARY_PATH=$libdir ldd "$dir/$f" | awk '$1 == "libcrypto.so.3" { print $1, $2, $3 }')"
	done
	probe=$(LD_LIBRARY_PATH=$libdir OPENSSL_MODULES=$dir/.libs OPENSSL_CONF=$top/tests/openssl-test.cnf \
		"$dir/tools/dgrambatch" probe) || return 1
	sed -n '/^OpenSSL at build time/,/^native BIO_sendmmsg/s/^/  /p' <<<"$probe"
	if ! grep -q "^OpenSSL at run time: *OpenSSL $want\." <<<"$probe"; then
		echo "the tests would not run with OpenSSL $want"
		return 1
	fi
	if ! grep -qx "provider dgrambatch: *active" <<<"$probe" ||
		[ "$(sed -n 's/^module file: *//p' <<<"$probe")" != "$dir/.libs/dgrambatch.so" ]; then
		echo "OpenSSL $want does not load the module of $dir"
		return 1
	fi
}

# quic_ran DIR: tests/quic.sh passed in DIR, not skipped
quic_ran() {
	if ! grep -qx ':test-result: PASS' "$1/tests/quic.sh.trs" 2>/dev/null; then
		echo "tests/quic.sh did not pass in $1: $(grep -h '^SKIP' "$1/tests/quic.sh.log" 2>/dev/null || echo 'no result')"
		return 1
	fi
}

# Stage 1's build, made with the system OpenSSL (3.0), under OpenSSL 3.5:
# its module and shim in 3.5's openssl command and in stage 2's QUIC test
# programs (3.5's QUIC server API has no 3.0 counterpart), and its Check
# suite and tool on 3.5's libcrypto.
stage_cross_30_on_35() {
	local dir=$top/build/openssl-system ref=$top/build/openssl-3.5 rc=0
	if [ ! -x "$ref/tests/quic_server" ] || [ ! -x "$ref/tests/quic_client" ]; then
		echo "no QUIC test programs in $ref (did stage 2 run?)"
		return 1
	fi
	cross_env "$dir" "$ossl35/lib" 3.5 || return 1
	LD_LIBRARY_PATH=$ossl35/lib DGB_EXPECT_OPENSSL=3.5 check_in "$dir" check \
		OPENSSL_BIN="$ossl35/bin/openssl" OPENSSL_RUN_LIBDIR="$ossl35/lib" \
		QUIC_SERVER_BIN="$ref/tests/quic_server" QUIC_CLIENT_BIN="$ref/tests/quic_client" || rc=1
	report "$dir"
	quic_ran "$dir" || rc=1
	return "$rc"
}

# Stage 2's build, made with OpenSSL 3.5, under the system OpenSSL (3.0).
# Its binaries find 3.5 through a RUNPATH, which LD_LIBRARY_PATH overrides
# (an RPATH it would not).  tests/quic.sh skips: 3.0 has no QUIC server.
stage_cross_35_on_30() {
	local dir=$top/build/openssl-3.5 rc=0 f
	for f in tools/dgrambatch tests/dgb_check .libs/dgrambatch.so .libs/dgrambatch-preload.so; do
		if [ ! -e "$dir/$f" ]; then
			echo "$dir/$f: missing (did stage 2 run?)"
			return 1
		fi
		if ! readelf -d "$dir/$f" | grep -q '(RUNPATH)' || readelf -d "$dir/$f" | grep -q '(RPATH)'; then
			echo "$f: not a RUNPATH, so LD_LIBRARY_PATH cannot switch its libcrypto"
			return 1
		fi
	done
	cross_env "$dir" "$syslib" 3.0 || return 1
	LD_LIBRARY_PATH=$syslib DGB_EXPECT_OPENSSL=3.0 check_in "$dir" check \
		OPENSSL_BIN="$sysossl" OPENSSL_RUN_LIBDIR= QUIC_SERVER_BIN= QUIC_CLIENT_BIN= || rc=1
	report "$dir"
	return "$rc"
}

# The sanitizer builds of stages 3 and 4 under the system OpenSSL 3.0, where
# the header's private controls and socket-level fallback carry the batched
# calls instead of BIO_sendmmsg.
stage_sanitizers_on_30() {
	local dir=$top/build/openssl-3.5-sanitizers
	cross_env "$dir" "$syslib" 3.0 || return 1
	LD_LIBRARY_PATH=$syslib DGB_EXPECT_OPENSSL=3.0 sanitized_check "$dir" \
		OPENSSL_BIN="$sysossl" OPENSSL_RUN_LIBDIR= QUIC_SERVER_BIN= QUIC_CLIENT_BIN=
}

stage_tsan_on_30() {
	local dir=$top/build/openssl-3.5-tsan
	cross_env "$dir" "$syslib" 3.0 || return 1
	LD_LIBRARY_PATH=$syslib tsan_check "$dir"
}

# The robustness tests (forged ICMP, faults, loss, load) in their short
# form, on stage 2's build, where OpenSSL has a QUIC server.
stage_robustness() {
	local dir=$top/build/openssl-3.5 rc=0 t logs=()
	check_in "$dir" check-robustness || rc=1
	for t in $(make -s --no-print-directory -C "$dir" print-robust-tests); do
		logs+=("$dir/$t.log")
	done
	[ "${#logs[@]}" -eq 0 ] || report "$dir" "${logs[@]}"
	return "$rc"
}

# The libFuzzer harnesses (fuzz/) on stage 2's build, for a few seconds
# each: clang and its libFuzzer runtime are installed where missing.
stage_fuzz() {
	local dir=$top/build/openssl-3.5
	if ! command -v clang >/dev/null && ! command -v clang-14 >/dev/null ||
		! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q 'ok installed'; then
		apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends clang-14 libclang-rt-14-dev >/dev/null || return 1
	fi
	make -C "$dir" fuzz FUZZ_SECONDS="${DGB_FUZZ_SECONDS:-15}"
}

# The Debian packages, built, linted, installed, used and purged.
stage_deb() {
	bash "$top/scripts/deb.sh"
}

# The RPM packages (Fedora's layout), built on this Debian host and linted.
stage_rpm() {
	bash "$top/scripts/rpm.sh"
}

run "check and distcheck, system OpenSSL $(pkg-config --modversion libcrypto)" stage_distcheck
run "check, OpenSSL 3.5" stage_check35
run "check, OpenSSL 3.5, ASan+UBSan" stage_sanitizers
run "check, OpenSSL 3.5, TSan (threads)" stage_tsan
run "cross: built on 3.0, run under 3.5" stage_cross_30_on_35
run "cross: built on 3.5, run under 3.0" stage_cross_35_on_30
run "cross: ASan+UBSan build, run under 3.0" stage_sanitizers_on_30
run "cross: TSan build (threads), run under 3.0" stage_tsan_on_30
run "robustness: ICMP, faults, loss, load (short), OpenSSL 3.5" stage_robustness
run "fuzz: libFuzzer harnesses, ASan+UBSan (short), OpenSSL 3.5" stage_fuzz
run "Debian packages: build, lintian, install, purge" stage_deb
run "RPM packages: rpmbuild, rpmlint, file lists" stage_rpm

echo
if [ "${#failed[@]}" -gt 0 ]; then
	echo "check-all: FAILED stages: ${failed[*]}"
	[ "$total_fail" -gt 0 ] || total_fail=${#failed[@]}
	echo "check-all: $total_pass passed, $total_fail failed"
	exit 1
fi
echo "check-all: $total_pass passed, $total_fail failed"
