# testlib.sh - sourced by the shell tests; see AM_TESTS_ENVIRONMENT.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0

set -u

# What the scripts share with the tests (write_cnf's text, wait_for): in
# the source tree, beside this directory, as make check and distcheck run.
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

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
	module_cnf "$DGB_MODULE" "${2:-}" >"$1"
}

# need_cert: a throwaway self-signed certificate for localhost, a CA so
# that a client can trust exactly it, in $scratch/cert.pem with its key in
# $scratch/key.pem; a test that cannot have one ends there, failed.
need_cert() {
	if run_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$scratch/key.pem" -out "$scratch/cert.pem" -days 1 -subj /CN=localhost \
		-addext basicConstraints=critical,CA:TRUE -addext subjectAltName=DNS:localhost \
		>"$scratch/req.log" 2>&1; then
		ok "self-signed certificate"
	else
		not_ok "self-signed certificate: $(cat "$scratch/req.log")"
		finish
		exit
	fi
}

# now: the time, in seconds with nanoseconds; elapsed START: seconds since
# START (a now), to the millisecond
now() {
	date +%s.%N
}

elapsed() {
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'
}

# hostport ADDR PORT: ADDR:PORT, with an IPv6 address in brackets
hostport() {
	case $1 in *:*) echo "[$1]:$2" ;; *) echo "$1:$2" ;; esac
}

# payload TAG N: N numbered lines of random hex, each "TAG NNNN HEX"
payload() {
	od -An -vtx1 -w24 -N $(($2 * 24)) /dev/urandom | tr -d ' ' |
		awk -v t="$1" '{ printf "%s %04d %s\n", t, NR, $0 }'
}

# Background processes a test starts go in pids; whatever is still running
# when the test ends goes with it, and so does the scratch directory.
pids=()

alive() {
	kill -0 "$1" 2>/dev/null
}

gone() {
	! alive "$1"
}

# server_port SECONDS FILE PID: the port a QUIC test server (tests/quic_server,
# tests/quic_load) gave on its "PORT N" line in FILE, once it has; nothing
# if PID exits first or SECONDS pass.
server_port() {
	wait_for "$1" _port_said "$2" "$3" || true
	awk '$1 == "PORT" { print $2; exit }' "$2"
}

_port_said() {
	grep -qs '^PORT [0-9]' "$1" || ! alive "$2"
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

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$scratch"
}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/dgb-test.XXXXXX")
trap cleanup EXIT
