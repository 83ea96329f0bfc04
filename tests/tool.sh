#!/usr/bin/env bash
# tool.sh - the dgrambatch command: --version, probe, probe --json, demo, bench.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

out=$("$DGB_TOOL" --version)
check "--version names the package" grep -qE '^dgrambatch [0-9]+\.[0-9]+\.[0-9]+ \(built with OpenSSL 3\.' <<<"$out"

"$DGB_TOOL" probe >"$scratch/probe"
check "probe: exit 0" test $? -eq 0
check "probe: OpenSSL at build time" grep -q '^OpenSSL at build time: *OpenSSL 3\.' "$scratch/probe"
check "probe: OpenSSL at run time" grep -q '^OpenSSL at run time: *OpenSSL 3\.' "$scratch/probe"
# The tool runs against the OpenSSL it was built with (rpath for
# --with-openssl), unless the cross stages of check-all.sh switch the
# library and say which one the tests must be running with.
built=$(sed -n 's/^OpenSSL at build time: *\(OpenSSL [0-9.]*\).*/\1/p' "$scratch/probe")
runs=$(sed -n 's/^OpenSSL at run time: *\(OpenSSL [0-9.]*\).*/\1/p' "$scratch/probe")
if [ -n "${DGB_EXPECT_OPENSSL:-}" ]; then
	check "probe: run-time OpenSSL ($runs) is the $DGB_EXPECT_OPENSSL asked for" \
		grep -q "^OpenSSL $DGB_EXPECT_OPENSSL\." <<<"$runs"
else
	check "probe: run-time OpenSSL ($runs) is the build's ($built)" test -n "$built" -a "$built" = "$runs"
fi
for cap in sendmmsg recvmmsg ip_pktinfo ipv6_recvpktinfo udp_segment udp_gro; do
	check "probe: $cap listed" grep -qE "^$cap +(yes|no) +(yes|no)$" "$scratch/probe"
done
check "probe: no list of build-time OpenSSL functions" \
	sh -c "! grep -qE '^(BIO_meth_set_sendmmsg|BIO_meth_set_recvmmsg|BIO_err_is_non_fatal) ' '$scratch/probe'"

# The running OpenSSL finds this build's module through OPENSSL_MODULES,
# which make check points at the build.
version=$("$DGB_TOOL" --version | awk '{ print $2 }')
module=$(readlink -f "$DGB_MODULE")
field() {
	sed -n "s/^$1: *//p" "$2"
}
check "probe: modules directory is OPENSSL_MODULES ($(field 'modules directory' "$scratch/probe"))" \
	test "$(field 'modules directory' "$scratch/probe")" = "$OPENSSL_MODULES (OPENSSL_MODULES)"
check "probe: the provider is active ($(field 'provider dgrambatch' "$scratch/probe"))" \
	test "$(field 'provider dgrambatch' "$scratch/probe")" = active
shown=$(field 'module file' "$scratch/probe")
check "probe: module file is this build's ($shown)" \
	test -n "$shown" -a "$(readlink -f "$shown" 2>/dev/null)" = "$module"
check "probe: module version is the tool's ($version)" \
	test "$(field 'module version' "$scratch/probe")" = "$version"
# Native BIO_sendmmsg follows the running libcrypto: 3.2 and later have it.
minor=$(sed -n 's/^OpenSSL 3\.\([0-9][0-9]*\).*/\1/p' <<<"$runs")
if [ "${minor:-0}" -ge 2 ]; then native=yes; else native=no; fi
check "probe: native BIO_sendmmsg is $native with $runs" \
	grep -qE "^native BIO_sendmmsg: +$native( |$)" "$scratch/probe"

"$DGB_TOOL" probe --json >"$scratch/json"
check "probe --json: one object" sh -c "head -c1 '$scratch/json' | grep -q '{' && tail -n1 '$scratch/json' | grep -q '^}$'"
check "probe --json: version" grep -q '"version": "' "$scratch/json"
check "probe --json: runtime OpenSSL" grep -q '"runtime": "OpenSSL 3\.' "$scratch/json"
check "probe --json: sendmmsg entry" grep -qE '"sendmmsg": \{ "built": (true|false), "usable": (true|false) \}' "$scratch/json"
check "probe --json: no build-time feature list" sh -c "! grep -q '\"features\"' '$scratch/json'"
if [ "$native" = yes ]; then jnative=true; else jnative=false; fi
check "probe --json: native_bio_sendmmsg is $jnative" \
	grep -qx "  \"native_bio_sendmmsg\": $jnative," "$scratch/json"
if command -v python3 >/dev/null; then
	check "probe --json parses as JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$scratch/json"
	# The same facts as the text, field by field.
	check "probe --json: provider active, this build's module, its version" python3 -c '
import json, os, sys
j = json.load(open(sys.argv[1]))
p, o = j["provider"], j["openssl"]
assert p["name"] == "dgrambatch" and p["state"] == "active" and p["error"] is None, p
assert os.path.realpath(p["module_path"]) == sys.argv[2], (p["module_path"], sys.argv[2])
assert p["module_version"] == sys.argv[3], p
assert p["native_mmsg"] is (o["bio_sendmmsg"]), (p, o)
assert j["native_bio_sendmmsg"] is (sys.argv[4] == "true"), j
assert o["modules_dir"] == os.environ["OPENSSL_MODULES"] and o["modules_dir_from"] == "OPENSSL_MODULES", o
' "$scratch/json" "$module" "$version" "$jnative"
fi

# A modules directory without the module: the probe still succeeds and says
# why the running OpenSSL could not load it, in its own words.
mkdir "$scratch/no-modules"
OPENSSL_MODULES=$scratch/no-modules "$DGB_TOOL" probe >"$scratch/missing"
check "probe without the module: exit 0" test $? -eq 0
check "probe without the module: failed to load, naming the file" \
	grep -qF "provider dgrambatch:    failed to load: " "$scratch/missing"
check "probe without the module: OpenSSL's reason names $scratch/no-modules/dgrambatch.so" \
	grep -qF "$scratch/no-modules/dgrambatch.so" "$scratch/missing"
check "probe without the module: no module file, not native" \
	sh -c "grep -qx 'module file: *-' '$scratch/missing' && grep -q '^native BIO_sendmmsg: *no (' '$scratch/missing'"
OPENSSL_MODULES=$scratch/no-modules "$DGB_TOOL" probe --json >"$scratch/missing.json"
if command -v python3 >/dev/null; then
	check "probe --json without the module: state failed, with the reason" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
p = j["provider"]
assert p["state"] == "failed" and sys.argv[2] in p["error"], p
assert p["module_path"] is None and p["native_mmsg"] is None and j["native_bio_sendmmsg"] is False, j
' "$scratch/missing.json" "$scratch/no-modules/dgrambatch.so"
fi

# Without OPENSSL_MODULES the directory is libcrypto's own, the one the
# openssl command of the same OpenSSL reports.
if [ -n "${OPENSSL_BIN:-}" ]; then
	libdir=$(run_openssl version -m | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')
	env -u OPENSSL_MODULES "$DGB_TOOL" probe >"$scratch/default"
	check "probe without OPENSSL_MODULES: libcrypto's modules directory ($libdir)" \
		test -n "$libdir" -a "$(field 'modules directory' "$scratch/default")" = "$libdir (libcrypto)"
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
# OpenSSL's row measures OpenSSL as the running libcrypto ships it.
if [ "$native" = yes ]; then
	check "bench: openssl send row calls BIO_sendmmsg" grep -qE '^send +openssl +BIO_sendmmsg, ' "$scratch/bench"
	check "bench: openssl recv row calls BIO_recvmmsg" grep -qE '^recv +openssl +BIO_recvmmsg, ' "$scratch/bench"
else
	check "bench: openssl send row loops on BIO_write" grep -qE '^send +openssl +BIO_write loop, ' "$scratch/bench"
	check "bench: openssl recv row loops on BIO_read" grep -qE '^recv +openssl +BIO_read loop, ' "$scratch/bench"
fi
"$DGB_TOOL" bench --config "$scratch/openssl.cnf" --batch 0 >/dev/null 2>&1
check "bench --batch 0 is a usage error" test $? -eq 2

finish
