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
		LD_PRELOAD=$SANITIZER_PRELOAD ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
			"$OPENSSL_BIN" "$@"
	else
		"$OPENSSL_BIN" "$@"
	fi
}

# write_cnf FILE [LINES]: an openssl.cnf that activates OpenSSL's default
# provider and this build's module, with LINES added to the module's section.
write_cnf() {
	cat >"$1" <<CNF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
dgrambatch = dgrambatch_sect
[default_sect]
activate = 1
[dgrambatch_sect]
module = $DGB_MODULE
activate = 1
${2:-}
CNF
}

# Background processes a test starts go in pids; whatever is still running
# when the test ends goes with it, and so does the scratch directory.
pids=()

alive() {
	kill -0 "$1" 2>/dev/null
}

# reap PID: PID's exit status in $reaped, stopping it first if need be
reap() {
	local p keep=()
	alive "$1" && kill "$1" 2>/dev/null
	wait "$1"
	reaped=$?
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds, false at the deadline
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$scratch"
}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/dgb-test.XXXXXX")
trap cleanup EXIT
