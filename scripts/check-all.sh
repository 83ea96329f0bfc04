#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. make distcheck against the system OpenSSL (3.0 on Debian 12);
#   2. make check against OpenSSL 3.5, built by scripts/openssl35.sh;
#   3. make check against OpenSSL 3.5 with ASan and UBSan, where any
#      sanitizer report fails the run;
#   4. the threaded Check suite against OpenSSL 3.5 with ThreadSanitizer,
#      where any TSan warning fails the run.
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
	local log line t f e
	for log in "$1"/tests/*.log; do
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

# check_in DIR TARGET: make TARGET in DIR, showing the test logs on failure
check_in() {
	local dir=$1 target=$2
	local rc=0
	make -C "$dir" -j"$(nproc)" "$target" || rc=1
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

stage_sanitizers() {
	local dir
	local rc=0
	dir=$(bash "$top/scripts/build.sh" openssl-3.5-sanitizers \
		--with-openssl="$ossl35" --enable-sanitizers) || return 1
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		check_in "$dir" check || rc=1
	report "$dir"
	# A sanitizer report fails the run even where a test survived it.
	if grep -lE '^(==[0-9]+==ERROR: |SUMMARY: (Address|Undefined|Leak)Sanitizer|.*runtime error: )' \
		"$dir"/tests/*.log 2>/dev/null; then
		echo "sanitizer reports found in the logs above"
		rc=1
	fi
	return "$rc"
}

# Only the threaded suite runs under TSan: the rest is single-threaded and
# covered by the stages above.
stage_tsan() {
	local dir
	local rc=0
	dir=$(bash "$top/scripts/build.sh" openssl-3.5-tsan \
		--with-openssl="$ossl35" --enable-sanitizers=thread) || return 1
	CK_RUN_SUITE=threads TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		make -C "$dir" -j"$(nproc)" check TESTS=tests/dgb_check || rc=1
	if [ "$rc" -ne 0 ]; then
		find "$dir" -name test-suite.log -exec cat {} + 2>/dev/null || true
	fi
	report "$dir"
	# A TSan warning fails the run even where the test survived it.
	if grep -l 'WARNING: ThreadSanitizer' "$dir"/tests/*.log 2>/dev/null; then
		echo "ThreadSanitizer warnings found in the logs above"
		rc=1
	fi
	return "$rc"
}

run "check and distcheck, system OpenSSL $(pkg-config --modversion libcrypto)" stage_distcheck
run "check, OpenSSL 3.5" stage_check35
run "check, OpenSSL 3.5, ASan+UBSan" stage_sanitizers
run "check, OpenSSL 3.5, TSan (threads)" stage_tsan

echo
if [ "${#failed[@]}" -gt 0 ]; then
	echo "check-all: FAILED stages: ${failed[*]}"
	[ "$total_fail" -gt 0 ] || total_fail=${#failed[@]}
	echo "check-all: $total_pass passed, $total_fail failed"
	exit 1
fi
echo "check-all: $total_pass passed, $total_fail failed"
