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

# The benchmark: a very short run completes and reports every row on both
# paths.  Correctness only; never the figures.
udp_segment=no
grep -qE '^udp_segment +yes +yes$' "$scratch/probe" && udp_segment=yes
kernel_gso=$udp_segment
timeout 120 "$DGB_TOOL" bench --config "$scratch/openssl.cnf" --seconds 0.05 >"$scratch/bench" 2>&1
check "bench --seconds 0.05 exits 0" test $? -eq 0
row() {
	grep -qE "^$1 +$2 +.+ [0-9]+ +[0-9]+\.[0-9]+ " "$3"
}
for impl in plugin plugin-gso-off openssl raw; do
	check "bench: send $impl row" row send "$impl" "$scratch/bench"
done
for impl in plugin openssl raw; do
	check "bench: recv $impl row" row recv "$impl" "$scratch/bench"
done
check "bench: no GSO rows on the receive path" \
	sh -c "! grep -qE '^recv +(plugin-gso-off|raw-gso) ' '$scratch/bench'"
# The kernel decides whether segmented sends can be measured at all; a
# path MTU cached for 127.0.0.1 below the datagrams' size (after an ICMP
# "fragmentation needed") makes it refuse them for a while.
if grep -q '^WARNING: the route to 127.0.0.1 has a path MTU of ' "$scratch/bench"; then
	udp_segment=no
	echo "# the route to 127.0.0.1 has a small cached path MTU: no segmented sends expected"
fi
if [ "$udp_segment" = yes ]; then
	check "bench: send raw-gso row (the kernel has UDP_SEGMENT)" row send raw-gso "$scratch/bench"
	check "bench: the plugin row uses GSO" grep -qE '^send +plugin +.*, GSO +[0-9]' "$scratch/bench"
else
	check "bench: send raw-gso row, or why not" \
		grep -qE '^send +raw-gso +.+( [0-9]+ +[0-9]+\.[0-9]+ | unavailable: )' "$scratch/bench"
fi
check "bench: the gso-off row is the module without GSO" \
	grep -qE '^send +plugin-gso-off +.*, GSO off +[0-9]' "$scratch/bench"
check "bench: the send path's sink is accounted for" \
	grep -qE '^ +(every datagram sent reached it|SOME LOST on the way: .*|not counted \(no SO_MEMINFO\)) \([0-9]+ datagrams read' \
	"$scratch/bench"
check "bench: ratios to OpenSSL, raw, raw-gso and gso-off" \
	grep -qE '^path +plugin/openssl +plugin/raw +plugin/raw-gso +plugin/gso-off$' "$scratch/bench"
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

# The JSON report carries the same rows, and the module's counters per row
# show what each row did: segmented sends on the plugin row (where the
# kernel has them), none on the gso-off row.  Mixed batches (every 4th
# datagram short) are segmented in runs of 4.
#
# bench_json OUT [VAR=VALUE...] [-- OPTION...]: a short run's JSON report
bench_json() {
	local out=$1 envs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	[ $# -eq 0 ] || shift
	timeout 120 env "${envs[@]}" "$DGB_TOOL" bench --config "$scratch/openssl.cnf" \
		--seconds 0.02 --batch 8 --json "$@" >"$out" 2>"$out.err"
}
bench_json "$scratch/bench.json"
check "bench --json exits 0" test $? -eq 0
bench_json "$scratch/mixed.json" -- --mixed
check "bench --json --mixed exits 0" test $? -eq 0
timeout 120 "$DGB_TOOL" bench --config "$scratch/openssl.cnf" --seconds 0.02 --batch 8 --mixed \
	>"$scratch/mixed.txt" 2>&1
check "bench --mixed exits 0" test $? -eq 0
check "bench --mixed says how the send batches are made" \
	grep -qE '^send batches mixed: every 4th datagram 60 bytes' "$scratch/mixed.txt"
check "bench --mixed: the raw-gso row sends 2 segmented runs of 4" \
	sh -c "[ $udp_segment = no ] || grep -qE '^send +raw-gso +sendmmsg\(2\), 2 UDP_SEGMENT sends ' '$scratch/mixed.txt'"
bench_json "$scratch/nogso.json" DGRAMBATCH_CAPS_DISABLE=udp_segment
check "bench --json with DGRAMBATCH_CAPS_DISABLE=udp_segment exits 0" test $? -eq 0
if command -v python3 >/dev/null; then
	check "bench --json: rows, counters and sink" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
usable = sys.argv[2] == "yes"
gso = usable and not j["route_fragments"]
s, r = j["send"], j["recv"]
assert set(s) >= {"plugin", "plugin_gso_off", "openssl", "raw", "raw_gso"}, s.keys()
assert set(r) >= {"plugin", "openssl", "raw"} and "raw_gso" not in r, r.keys()
assert j["gso"]["in_use"] is usable and j["gso"]["setting"] == "auto", j["gso"]
p, off = s["plugin"], s["plugin_gso_off"]
assert p["module"]["datagrams"] == p["datagrams"] > 0, p
assert off["module"]["datagrams"] == off["datagrams"] > 0, off
assert off["module"]["gso_sends"] == 0, off
if gso:
    assert p["module"]["gso_segments"] > 0 and p["module"]["gso_sends"] > 0, p
    assert s["raw_gso"]["datagrams_per_second"] > 0, s["raw_gso"]
    assert s["plugin_over_raw_gso"] > 0 and s["plugin_over_plugin_gso_off"] > 0, s
assert j["module"]["gso_counted"] is True, j["module"]
for k in ("plugin", "plugin_gso_off", "openssl", "raw"):
    sink = s[k]["sink"]
    assert sink["read"] >= 0 and (sink["lost"] is None) is not j["sink_counted"], (k, sink)
assert j["targets"] == [], j["targets"]
' "$scratch/bench.json" "$kernel_gso"
	check "bench --json --mixed: mixed, segmented in runs, the target shown" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
gso = sys.argv[2] == "yes" and not j["route_fragments"]
assert j["mixed"] is True and j["batch"] == 8, j
assert abs(j["send_bytes_per_datagram"] - (3 * 1200 + 60) / 4) < 0.01, j["send_bytes_per_datagram"]
p = j["send"]["plugin"]["module"]
if gso:
    # Runs of 3 full datagrams and a short one: every datagram in a segmented send.
    assert p["gso_segments"] == p["datagrams"] and p["gso_sends"] * 4 == p["datagrams"], p
t = j["targets"]
assert len(t) == 1 and t[0]["over"] == "plugin_gso_off" and t[0]["want"] == 1.0, t
' "$scratch/mixed.json" "$kernel_gso"
	check "bench --json, udp_segment disabled: no GSO anywhere in the module" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["gso"]["in_use"] is False, j["gso"]
for k in ("plugin", "plugin_gso_off"):
    m = j["send"][k]["module"]
    assert m["gso_sends"] == 0 and m["gso_segments"] == 0 and m["datagrams"] > 0, (k, m)
assert j["send"]["plugin"]["call"].endswith(", no GSO"), j["send"]["plugin"]["call"]
' "$scratch/nogso.json"
fi

# The QUIC bulk benchmark: a short run of every variant, where this
# OpenSSL has the QUIC programs; where it has not, it says so and exits 0.
quic_bench=$(dirname "$0")/../scripts/quic-bench.sh
timeout 300 bash "$quic_bench" --bytes 2000000 --rounds 1 >"$scratch/quic" 2>&1
check "quic-bench exits 0" test $? -eq 0
if [ -x "${QUIC_SERVER:-}" ] && [ -x "${QUIC_CLIENT:-}" ]; then
	for v in openssl module module-gso-off shim; do
		check "quic-bench: $v median" grep -qE "^$v +.+ [0-9]+\.[0-9] +[0-9.]+%" "$scratch/quic"
	done
	check "quic-bench: ratio module/openssl" \
		grep -qE '^module/openssl [0-9]+\.[0-9]{3} \(sender CPU per byte: openssl/module [0-9]+\.[0-9]{3}\)$' \
		"$scratch/quic"
	check "quic-bench: ratio module/module-gso-off" \
		grep -qE '^module/module-gso-off [0-9]+\.[0-9]{3} \(sender CPU per byte: ' "$scratch/quic"
else
	check "quic-bench without the QUIC programs: says so" grep -q 'nothing to measure$' "$scratch/quic"
fi
[ "$fails" -eq 0 ] || sed 's/^/# /' "$scratch/quic"

finish
