# testlib.sh - sourced by the shell tests; see AM_TESTS_ENVIRONMENT.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0

set -u

fails=0
passes=0

skip() {
	echo "SKIP: $*"
	exit 77
}

ok() {
	passes=$((passes + 1))
	echo "ok - $*"
}

not_ok() {
	fails=$((fails + 1))
	echo "not ok - $*"
}

# check DESCRIPTION COMMAND...: one assertion
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# finish: the closing line, and the exit status
finish() {
	echo "$passes passed, $fails failed"
	[ "$fails" -eq 0 ]
}

# run_openssl ARGS...: the openssl command of this build's OpenSSL.  An
# instrumented module needs the ASan runtime first in an uninstrumented
# program; leak checking is left to the programs this project builds.
run_openssl() {
	if [ -n "${OPENSSL_RUN_LIBDIR:-}" ]; then
		LD_LIBRARY_PATH=$OPENSSL_RUN_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} _run_openssl "$@"
	else
		_run_openssl "$@"
	fi
}

_run_openssl() {
	if [ -n "${SANITIZER_PRELOAD:-}" ]; then
		LD_PRELOAD=$SANITIZER_PRELOAD ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
			"$OPENSSL_BIN" "$@"
	else
		"$OPENSSL_BIN" "$@"
	fi
}

# A private scratch directory, removed on exit.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/dgb-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
