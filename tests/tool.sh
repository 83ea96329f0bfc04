#!/usr/bin/env bash
# tool.sh - the dgrambatch command: --version, probe, probe --json.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

out=$("$DGB_TOOL" --version)
check "--version names the package" grep -qE '^dgrambatch [0-9]+\.[0-9]+\.[0-9]+ \(built with OpenSSL 3\.' <<<"$out"

"$DGB_TOOL" probe >"$scratch/probe"
check "probe: exit 0" test $? -eq 0
check "probe: OpenSSL at build time" grep -q '^OpenSSL at build time: *OpenSSL 3\.' "$scratch/probe"
check "probe: OpenSSL at run time" grep -q '^OpenSSL at run time: *OpenSSL 3\.' "$scratch/probe"
# The tool runs against the OpenSSL it was built with (rpath for --with-openssl).
built=$(sed -n 's/^OpenSSL at build time: *\(OpenSSL [0-9.]*\).*/\1/p' "$scratch/probe")
runs=$(sed -n 's/^OpenSSL at run time: *\(OpenSSL [0-9.]*\).*/\1/p' "$scratch/probe")
check "probe: run-time OpenSSL ($runs) is the build's ($built)" test -n "$built" -a "$built" = "$runs"
for cap in sendmmsg recvmmsg ip_pktinfo ipv6_recvpktinfo udp_segment udp_gro; do
	check "probe: $cap listed" grep -qE "^$cap +(yes|no) +(yes|no)$" "$scratch/probe"
done
for f in BIO_meth_set_sendmmsg BIO_meth_set_recvmmsg BIO_err_is_non_fatal; do
	check "probe: $f listed" grep -qE "^$f +(yes|no)$" "$scratch/probe"
done

"$DGB_TOOL" probe --json >"$scratch/json"
check "probe --json: one object" sh -c "head -c1 '$scratch/json' | grep -q '{' && tail -n1 '$scratch/json' | grep -q '^}$'"
check "probe --json: version" grep -q '"version": "' "$scratch/json"
check "probe --json: runtime OpenSSL" grep -q '"runtime": "OpenSSL 3\.' "$scratch/json"
check "probe --json: sendmmsg entry" grep -qE '"sendmmsg": \{ "built": (true|false), "usable": (true|false) \}' "$scratch/json"
if command -v python3 >/dev/null; then
	check "probe --json parses as JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$scratch/json"
fi

# The environment switch reaches the probe: a disabled capability is not usable.
DGRAMBATCH_CAPS_DISABLE=sendmmsg,udp_gro "$DGB_TOOL" probe --json >"$scratch/off"
check "DGRAMBATCH_CAPS_DISABLE turns sendmmsg off" grep -qE '"sendmmsg": \{ "built": (true|false), "usable": false \}' "$scratch/off"
check "DGRAMBATCH_CAPS_DISABLE turns udp_gro off" grep -qE '"udp_gro": \{ "built": true, "usable": false \}' "$scratch/off"

# The demo: a size that overflows the receive buffer in one window neither
# hangs nor fails, and malformed numbers are usage errors.
write_cnf "$scratch/openssl.cnf"
timeout 60 "$DGB_TOOL" demo --config "$scratch/openssl.cnf" --count 64 --size 65507 >"$scratch/demo" 2>&1
check "demo with 64 KiB datagrams completes" test $? -eq 0
"$DGB_TOOL" demo --config "$scratch/openssl.cnf" --count 5x >/dev/null 2>&1
check "demo --count 5x is a usage error" test $? -eq 2
"$DGB_TOOL" demo --config "$scratch/openssl.cnf" --size 65508 >/dev/null 2>&1
check "demo --size 65508 is a usage error" test $? -eq 2

# Usage errors exit 2.
"$DGB_TOOL" no-such-command >/dev/null 2>&1
check "unknown command exits 2" test $? -eq 2
"$DGB_TOOL" probe --bogus >/dev/null 2>&1
check "unknown option exits 2" test $? -eq 2

# The benchmark: a very short run completes and reports all three
# implementations on both paths.  Correctness only; never the figures.
timeout 120 "$DGB_TOOL" bench --config "$scratch/openssl.cnf" --seconds 0.05 >"$scratch/bench" 2>&1
check "bench --seconds 0.05 exits 0" test $? -eq 0
for path in send recv; do
	for impl in plugin openssl raw; do
		check "bench: $path $impl row" grep -qE "^$path +$impl +.+ [0-9]+ +[0-9]+\.[0-9]+ " "$scratch/bench"
	done
done
"$DGB_TOOL" bench --config "$scratch/openssl.cnf" --batch 0 >/dev/null 2>&1
check "bench --batch 0 is a usage error" test $? -eq 2

finish
