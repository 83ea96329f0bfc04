#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. make distcheck against the system OpenSSL (3.0 on Debian 12);
#   2. make check against OpenSSL 3.5, built by scripts/openssl35.sh;
#   3. make check against OpenSSL 3.5 with ASan and UBSan, where any
#      sanitizer report fails the run.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/deps.sh"
ossl35=$(bash "$top/scripts/openssl35.sh")

failed=()

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
	if make -C "$dir" -j"$(nproc)" "$target"; then
		return 0
	fi
	find "$dir" -name test-suite.log -exec cat {} + 2>/dev/null || true
	return 1
}

stage_distcheck() {
	local dir
	dir=$(bash "$top/scripts/build.sh" openssl-system) && check_in "$dir" distcheck
}

stage_check35() {
	local dir
	dir=$(bash "$top/scripts/build.sh" openssl-3.5 --with-openssl="$ossl35") &&
		check_in "$dir" check
}

stage_sanitizers() {
	local dir
	dir=$(bash "$top/scripts/build.sh" openssl-3.5-sanitizers \
		--with-openssl="$ossl35" --enable-sanitizers) &&
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			check_in "$dir" check
}

run "distcheck, system OpenSSL $(pkg-config --modversion libcrypto)" stage_distcheck
run "check, OpenSSL 3.5" stage_check35
run "check, OpenSSL 3.5, ASan+UBSan" stage_sanitizers

echo
if [ "${#failed[@]}" -gt 0 ]; then
	echo "check-all: FAILED: ${failed[*]}"
	exit 1
fi
echo "check-all: all stages passed"
