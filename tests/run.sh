#!/usr/bin/env bash
# run.sh - `dgrambatch run`: an unmodified program gets the module's
# datagram BIO through the shim; the exit status and signals pass through;
# LD_PRELOAD is kept and the shim never added twice; --stats prints the
# shim's counters at exit; the shim is found in the tool's build tree.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

[ -x "${DGB_SHIM_USER:-}" ] || skip "no tests/shim_user"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

version=$("$DGB_TOOL" --version | awk '{ print $2 }')
# The ASan runtime (sanitizer builds) must come first in LD_PRELOAD, ahead
# of the instrumented shim; the tool keeps what LD_PRELOAD holds.
base=${SANITIZER_PRELOAD:-}
expect_preload() { # what LD_PRELOAD should be, given what was there before
	local before=$1
	echo "${before:+$before:}$DGB_PRELOAD"
}

# tool [VAR=VALUE...] -- ARGS...: the tool under this build's OpenSSL, with
# LD_PRELOAD=$base unless a variable sets it.
tool() {
	local vars=("LD_PRELOAD=$base")
	while [ "$1" != "--" ]; do
		vars+=("$1")
		shift
	done
	shift
	env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		${OPENSSL_RUN_LIBDIR:+LD_LIBRARY_PATH=$OPENSSL_RUN_LIBDIR} "${vars[@]}" \
		timeout -k 5 60 "$@"
}

# A program that never heard of dgrambatch gets the module's BIO.
tool DGRAMBATCH_DEBUG=1 -- "$DGB_TOOL" run -- "$DGB_SHIM_USER" 25 >"$scratch/out" 2>"$scratch/err"
check "run: the program succeeds" test $? -eq 0
check "run: every datagram arrived intact" grep -qx 'shim_user: 25 datagrams arrived intact' "$scratch/out"
check "run: the program's datagram BIO is the module's" \
	grep -q "^dgrambatch $version: preload shim active" "$scratch/err"
check "run: no stats without --stats" sh -c "! grep -q 'stats of' '$scratch/err'"

# Control: the same program alone has OpenSSL's BIO.
tool DGRAMBATCH_DEBUG=1 -- "$DGB_SHIM_USER" 5 >"$scratch/out" 2>"$scratch/err"
check "without run: the program succeeds" test $? -eq 0
check "without run: no shim" sh -c "! grep -q 'preload shim' '$scratch/err'"

# --stats: the shim's counters on stderr when the program exits.
tool -- "$DGB_TOOL" run --stats "$DGB_SHIM_USER" 40 >"$scratch/out" 2>"$scratch/err"
check "run --stats: the program succeeds" test $? -eq 0
check "run --stats: names the program" grep -qE "^dgrambatch $version: stats of shim_user\[[0-9]+\]$" "$scratch/err"
check "run --stats: datagrams sent" \
	grep -qE '^  sent +40 datagrams, [0-9]+ bytes, in 40 system calls \(1\.0 datagrams per call\)$' "$scratch/err"
check "run --stats: datagrams received" \
	grep -qE '^  received +40 datagrams, [0-9]+ bytes, in 40 system calls' "$scratch/err"
bytes=$(awk '/^  sent / { print $4 }' "$scratch/err")
check "run --stats: bytes sent are the datagrams' (40 x 'datagram I of 40')" \
	test "$bytes" = "$(for i in $(seq 0 39); do printf 'datagram %d of 40' "$i"; done | wc -c)"
for line in GSO GRO fallback errors; do
	check "run --stats: a $line line" grep -qE "^  $line " "$scratch/err"
done
check "run --stats: stdout is the program's alone" grep -qx 'shim_user: 40 datagrams arrived intact' "$scratch/out"
tool -- "$DGB_TOOL" run --stats -- true 2>"$scratch/err"
check "run --stats: a program without a datagram BIO says so" \
	grep -q 'stats of true\[[0-9]*\] (it never asked for a datagram BIO)' "$scratch/err"
tool DGRAMBATCH_DISABLE=1 -- "$DGB_TOOL" run --stats "$DGB_SHIM_USER" 3 >/dev/null 2>"$scratch/err"
check "run --stats, DGRAMBATCH_DISABLE=1: says the shim passed the calls on" \
	grep -q 'stats of shim_user\[[0-9]*\] (DGRAMBATCH_DISABLE: the shim passed every call on)' "$scratch/err"
check "run --stats, DGRAMBATCH_DISABLE=1: and counted nothing" \
	grep -qE '^  sent +0 datagrams' "$scratch/err"

# A child of fork() counts from zero: each process reports what it moved.
tool -- "$DGB_TOOL" run --stats "$DGB_SHIM_USER" 12 fork >/dev/null 2>"$scratch/err"
check "run --stats, fork: the program succeeds" test $? -eq 0
check "run --stats, fork: two blocks, parent and child" test "$(grep -c 'stats of shim_user' "$scratch/err")" -eq 2
check "run --stats, fork: the parent's 12 datagrams" grep -qE '^  sent +12 datagrams' "$scratch/err"
check "run --stats, fork: the child's 0, not its parent's" grep -qE '^  sent +0 datagrams' "$scratch/err"

# The exit status and signals are the program's own.
tool -- "$DGB_TOOL" run sh -c 'exit 7'
check "run: exit status 7 passes through" test $? -eq 7
(tool -- "$DGB_TOOL" run -- sh -c 'kill -TERM $$') 2>/dev/null
check "run: death by SIGTERM passes through (143)" test $? -eq 143
tool -- "$DGB_TOOL" run "$scratch/no-such-program" 2>"$scratch/err"
check "run: a missing program exits 127" test $? -eq 127
check "run: ... and says why" grep -q 'cannot run .*no-such-program: No such file' "$scratch/err"
printf '#!/bin/sh\n' >"$scratch/not-executable"
tool -- "$DGB_TOOL" run "$scratch/not-executable" 2>/dev/null
check "run: a program that cannot be run exits 126" test $? -eq 126
tool -- "$DGB_TOOL" run 2>/dev/null
check "run: no program is a usage error (125)" test $? -eq 125
tool -- "$DGB_TOOL" run --bogus true 2>/dev/null
check "run: an unknown option is a usage error (125)" test $? -eq 125
tool -- "$DGB_TOOL" run "$scratch/no-such-program" 2>&-
check "run: a missing program exits 127 with stderr closed too" test $? -eq 127

# LD_PRELOAD: kept, ahead of the shim; the shim not added twice.
got=$(tool -- "$DGB_TOOL" run printenv LD_PRELOAD)
check "run: LD_PRELOAD is the shim (after the sanitizer runtime, if any)" test "$got" = "$(expect_preload "$base")"
other=$DGB_FAULTLIB
got=$(tool "LD_PRELOAD=${base:+$base:}$other" -- "$DGB_TOOL" run printenv LD_PRELOAD)
check "run: a preload already set is kept, ahead of the shim" \
	test "$got" = "$(expect_preload "${base:+$base:}$other")"
got=$(tool "LD_PRELOAD=${base:+$base }$DGB_PRELOAD" -- "$DGB_TOOL" run printenv LD_PRELOAD)
check "run: the shim already preloaded is not added again" test "$got" = "${base:+$base }$DGB_PRELOAD"
got=$(tool -- "$DGB_TOOL" run "$DGB_TOOL" run printenv LD_PRELOAD)
check "run: run inside run preloads the shim once" test "$got" = "$(expect_preload "$base")"

# The shim is found in the build tree the tool runs from, recognised by
# its config.status, wherever that tree is.
mkdir -p "$scratch/tree/tools" "$scratch/tree/.libs"
cp "$DGB_TOOL" "$scratch/tree/tools/dgrambatch"
cp "$DGB_PRELOAD" "$scratch/tree/.libs/dgrambatch-preload.so"
: >"$scratch/tree/config.status"
got=$(tool -- "$scratch/tree/tools/dgrambatch" run printenv LD_PRELOAD)
check "run: a moved build tree finds its own shim" \
	test "$got" = "$(expect_preload "$base" | sed "s|$DGB_PRELOAD|$scratch/tree/.libs/dgrambatch-preload.so|")"
# A path LD_PRELOAD would split is refused, not silently skipped.
mkdir -p "$scratch/with space/tools" "$scratch/with space/.libs"
cp "$DGB_TOOL" "$scratch/with space/tools/dgrambatch"
cp "$DGB_PRELOAD" "$scratch/with space/.libs/dgrambatch-preload.so"
: >"$scratch/with space/config.status"
tool -- "$scratch/with space/tools/dgrambatch" run true 2>"$scratch/err"
check "run: a shim path with a space is refused (125)" test $? -eq 125
check "run: ... saying why" grep -q 'has a space or a colon' "$scratch/err"
rm "$scratch/tree/config.status"
got=$(tool -- "$scratch/tree/tools/dgrambatch" run printenv LD_PRELOAD 2>"$scratch/err")
rc=$?
case $got in
*"$scratch"*) not_ok "run: a directory without config.status is not a build tree (got $got)" ;;
*) if [ $rc -eq 125 ]; then
	check "run: outside a build tree, without an installed shim, says where it looked" \
		grep -q 'preload shim is neither in this build tree nor at /' "$scratch/err"
   else
	ok "run: outside a build tree, the installed shim is used ($got)"
   fi ;;
esac

finish
