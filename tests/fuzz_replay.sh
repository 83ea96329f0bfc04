#!/usr/bin/env bash
# fuzz_replay.sh - every fuzz harness's seed corpus and regression inputs
# (fuzz/corpus/<harness>/, fuzz/regressions/<harness>/) run clean through
# the harness without libFuzzer (fuzz/replay.c), built by make check with
# this build's compiler and sanitizers: no failed invariant, no sanitizer
# report, no crash.  A harness this build's OpenSSL cannot have
# (fuzz_provider_conf before 3.2) is said to be skipped.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${DGB_FUZZ_REPLAY_DIR:-$PWD/fuzz}
harnesses=(fuzz_cmsg fuzz_gro_split fuzz_gso_group fuzz_bio_mmsg fuzz_bio_ctrl fuzz_provider_conf)

# count DIR: how many inputs DIR holds (replay.c skips dot files too)
count() {
	[ -d "$1" ] || { echo 0; return; }
	find "$1" -maxdepth 1 -type f ! -name '.*' | wc -l
}

replayed=0
for h in "${harnesses[@]}"; do
	prog=$dir/replay_${h#fuzz_}
	if [ ! -x "$prog" ]; then
		[ "$h" = fuzz_provider_conf ] ||
			{ not_ok "$h: $prog was not built"; continue; }
		echo "# $h skipped: not built (it needs OpenSSL 3.2 or later)"
		continue
	fi
	corpus=$top/fuzz/corpus/$h
	regressions=$top/fuzz/regressions/$h
	nc=$(count "$corpus")
	nr=$(count "$regressions")
	args=()
	[ "$nc" -gt 0 ] && args+=("$corpus")
	[ "$nr" -gt 0 ] && args+=("$regressions")
	if [ "${#args[@]}" -eq 0 ]; then
		not_ok "$h: no inputs in $corpus or $regressions"
		continue
	fi
	log=$scratch/$h.log
	# Built against 3.2 or later, it cannot start on an older libcrypto (a
	# cross stage runs this build's tests under the system's 3.0).
	if [ "$h" = fuzz_provider_conf ] && ! "$prog" >"$log" 2>&1 &&
		grep -q "version \`OPENSSL_3\.[2-9]" "$log"; then
		echo "# $h skipped: the libcrypto it runs with is older than 3.2 ($(grep -o "version \`[^']*' not found" "$log" | head -n1))"
		continue
	fi
	# A harness on real sockets that blocked would stop make check for good.
	timeout -k 5 300 "$prog" "${args[@]}" >"$log" 2>&1
	rc=$?
	n=$(sed -n 's/^\([0-9]*\) inputs replayed$/\1/p' "$log")
	if [ "$rc" -eq 0 ] && [ "${n:-0}" -eq $((nc + nr)) ]; then
		ok "$h: $nc corpus and $nr regression inputs replayed"
		replayed=$((replayed + 1))
	else
		not_ok "$h: replaying $nc corpus and $nr regression inputs: exit $rc, ${n:-no} inputs replayed"
		tail -n 40 "$log" | sed 's/^/# /'
		# replay.c does not say which input failed: one at a time.
		for d in "${args[@]}"; do
			for f in "$d"/*; do
				timeout -k 5 60 "$prog" "$f" >/dev/null 2>&1 ||
					echo "# $h fails on ${f#"$top"/} (status $?; 124: it timed out)"
			done
		done
	fi
done
check "at least one harness replayed" test "$replayed" -gt 0
finish
