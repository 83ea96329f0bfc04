#!/usr/bin/env bash
# bench.sh - dgrambatch bench without --config (the tool finds the module
# itself and says which), its progress on stderr, and --sweep: every point
# in the table and the JSON, the plot a PNG, usage errors for bad lists.
# Correctness only, never the figures; the runs are as short as bench allows.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

module=$(readlink -f "$DGB_MODULE")
sizes="200 1200"
batches="1 8"
send_rows="plugin openssl raw raw-gso"
recv_rows="plugin openssl raw"
# bench ARGS...: the tool, never left hanging
bench() {
	timeout 120 "$DGB_TOOL" bench "$@"
}

# Without --config, an OPENSSL_CONF that does not activate the module
# (make check's pinned file) is loaded, and the module found all the same,
# without OPENSSL_MODULES (which make check sets): this build tree's.  The
# run says so on stderr before it starts and in the JSON report, which
# stdout holds alone.  (Large datagrams: fewer to queue, a shorter run.)
pinned=$(cd "$(dirname "$0")" && pwd)/openssl-test.cnf
env -u OPENSSL_MODULES OPENSSL_CONF="$pinned" timeout 120 "$DGB_TOOL" bench --seconds 0.01 \
	--size 8000 --batch 8 --json >"$scratch/single.json" 2>"$scratch/single.err"
check "bench without --config: exit 0" test $? -eq 0
check "bench without --config: stderr names the build tree's module, and OPENSSL_CONF" \
	grep -qxF "dgrambatch: bench: module $module (the build tree; OPENSSL_CONF=$pinned does not activate it)" \
	"$scratch/single.err"
if command -v python3 >/dev/null; then
	check "bench without --config: the JSON (alone on stdout) names the module and its origin" \
		python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
p = j["provider"]
assert p["module_path"] == sys.argv[2] and p["origin"] == "build_tree", p
assert p["origin_text"].startswith("the build tree;") and p["config"] is None and p["config_from"] is None, p
assert j["send"]["plugin"]["module"]["datagrams"] > 0, j["send"]["plugin"]
' "$scratch/single.json" "$module"
fi

# A tiny sweep, with progress asked for at every step and a plot.  The
# progress goes to stderr, never to stdout, which holds the table: every
# (size, batch) point, for every row of each path.
have_gnuplot=no
command -v gnuplot >/dev/null && have_gnuplot=yes
env -u OPENSSL_CONF -u OPENSSL_MODULES timeout 120 "$DGB_TOOL" bench --sweep \
	--sizes "${sizes// /,}" --batches "${batches// /,}" --seconds 0.01 --progress \
	--plot "$scratch/sweep.png" >"$scratch/sweep.txt" 2>"$scratch/sweep.err"
rc=$?
if [ "$have_gnuplot" = yes ]; then
	check "bench --sweep --plot: exit 0 (gnuplot is installed)" test "$rc" -eq 0
else
	check "bench --sweep --plot without gnuplot: exit 1" test "$rc" -eq 1
	check "bench --sweep --plot without gnuplot: says what to install" \
		grep -qF 'gnuplot is not installed (apt-get install gnuplot-nox)' "$scratch/sweep.err"
fi
check "bench --sweep: the header names the build tree's module" \
	grep -qxF "module: $module (the build tree)" "$scratch/sweep.txt"
check "bench --sweep: progress on stderr, point by point" \
	sh -c 'grep -qE "^dgrambatch: bench: +[0-9]+% after [0-9]+ s: point 1/4 \(200 bytes, batch 1\), send " "$1" &&
		grep -qE "^dgrambatch: bench: +[0-9]+% .*: point 4/4 \(1200 bytes, batch 8\), recv round 3/3, raw\$" "$1"' \
	- "$scratch/sweep.err"
check "bench --sweep: no progress on stdout" sh -c '! grep -q "^dgrambatch: bench:" "$1"' - "$scratch/sweep.txt"
missing=
for size in $sizes; do
	for batch in $batches; do
		for impl in $send_rows; do
			grep -qE "^send +$size +$batch +$impl +([0-9]+ +[0-9]+\.[0-9]+ |unavailable: )" \
				"$scratch/sweep.txt" || missing+=" send/$size/$batch/$impl"
		done
		for impl in $recv_rows; do
			grep -qE "^recv +$size +$batch +$impl +[0-9]+ +[0-9]+\.[0-9]+ " \
				"$scratch/sweep.txt" || missing+=" recv/$size/$batch/$impl"
		done
	done
done
check "bench --sweep: a table row for every point and row${missing:+ (missing:$missing)}" test -z "$missing"
check "bench --sweep: the module over OpenSSL, by size and batch" \
	grep -qE '^send: plugin/openssl in datagrams per second' "$scratch/sweep.txt"
[ "$fails" -eq 0 ] || sed 's/^/# /' "$scratch/sweep.err"

# A gnuplot that is not there: the report (here the JSON, two points
# given out of order) is printed all the same, the run says why there is
# no plot, even with --quiet, and exits 1.
env -u OPENSSL_MODULES DGRAMBATCH_GNUPLOT=/nonexistent/gnuplot timeout 120 "$DGB_TOOL" bench \
	--sweep --sizes 1200 --batches 8,1 --seconds 0.01 --json --quiet --plot "$scratch/none.png" \
	>"$scratch/sweep.json" 2>"$scratch/none.err"
check "bench --sweep --plot with no gnuplot: exit 1" test $? -eq 1
check "bench --sweep --plot with no gnuplot: says so" \
	grep -qF 'no plot: DGRAMBATCH_GNUPLOT names no program' "$scratch/none.err"
check "bench --sweep --plot with no gnuplot: no file" test ! -e "$scratch/none.png"
check "bench --quiet: no module line, no progress" sh -c '! grep -q "module\|%" "$1"' - "$scratch/none.err"
if command -v python3 >/dev/null; then
	check "bench --sweep --json: every point, every row" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
sizes, batches = [1200], [1, 8]
assert j["sweep"] is True and j["sizes"] == sizes and j["batches"] == batches, j
assert j["provider"]["origin"] == "build_tree" and j["provider"]["config"] is None, j["provider"]
points = [(p["size"], p["batch"]) for p in j["points"]]
assert points == [(s, b) for s in sizes for b in batches], points
for p in j["points"]:
    assert p["ok"] is True, p
    for path, rows in (("send", sys.argv[2]), ("recv", sys.argv[3])):
        for row in rows.replace("-", "_").split():
            c = p[path][row]
            assert c["datagrams_per_second"] > 0 or (row == "raw_gso" and "unavailable" in c), (p, path, row, c)
' "$scratch/sweep.json" "$send_rows" "$recv_rows"
fi

# --config, and OPENSSL_CONF, that activate the module: the configuration's
# module, and the report says which configuration.
write_cnf "$scratch/openssl.cnf"
env -u OPENSSL_CONF timeout 120 "$DGB_TOOL" bench --config "$scratch/openssl.cnf" --sweep \
	--sizes 1200 --batches 4 --seconds 0.01 >"$scratch/config.txt" 2>"$scratch/config.err"
check "bench --config: exit 0" test $? -eq 0
check "bench --config: the module the file activates" \
	grep -qxF "module: $module (activated by --config $scratch/openssl.cnf)" "$scratch/config.txt"
OPENSSL_CONF=$scratch/openssl.cnf timeout 120 "$DGB_TOOL" bench --sweep --sizes 1200 --batches 4 \
	--seconds 0.01 --json >"$scratch/env.json" 2>"$scratch/env.err"
check "bench with OPENSSL_CONF activating the module: exit 0" test $? -eq 0
check "bench with OPENSSL_CONF activating the module: says so" \
	grep -qxF "dgrambatch: bench: module $module (activated by OPENSSL_CONF=$scratch/openssl.cnf)" \
	"$scratch/env.err"
check "bench with OPENSSL_CONF: the JSON says which file" \
	grep -qF "\"config\": \"$scratch/openssl.cnf\", \"config_from\": \"OPENSSL_CONF\"" "$scratch/env.json"
# A --config that does not activate the module is an error, not a fallback.
bench --config "$pinned" --sweep --sizes 1200 --batches 4 --seconds 0.01 >/dev/null 2>"$scratch/noact.err"
check "bench --config FILE without the module: exit 1" test $? -eq 1
check "bench --config FILE without the module: says so" \
	grep -qF "$pinned does not activate the dgrambatch provider" "$scratch/noact.err"

# Usage errors exit 2 before anything is measured.
usage() {
	bench "$@" >/dev/null 2>"$scratch/usage.err"
	[ $? -eq 2 ] && grep -q '^usage: ' "$scratch/usage.err"
}
for list in 0,100 100,,200 100, ,100 100,abc 100,100 65508 -1 '1 2' ''; do
	check "bench --sweep --sizes '$list' is a usage error" usage --sweep --sizes "$list"
done
for list in 0 1025 1,2, 4,4 x ''; do
	check "bench --sweep --batches '$list' is a usage error" usage --sweep --batches "$list"
done
check "bench --sweep --sizes without a value is a usage error" usage --sweep --sizes
check "bench --sizes without --sweep is a usage error" usage --sizes 100
check "bench --batches without --sweep is a usage error" usage --batches 4
check "bench --plot without --sweep is a usage error" usage --plot "$scratch/x.png"
check "bench --sweep --size is a usage error" usage --sweep --size 100
check "bench --sweep --mixed is a usage error" usage --sweep --mixed
check "bench --sweep --plot '' is a usage error" usage --sweep --plot ''
check "a usage error writes no plot" test ! -e "$scratch/x.png"
bench --sweep --sizes 100 --batches 1 --plot /nonexistent/dir/x.png >"$scratch/nodir.txt" \
	2>"$scratch/nodir.err"
check "bench --plot into a missing directory: exit 1" test $? -eq 1
check "bench --plot into a missing directory: says so before measuring anything" \
	sh -c 'grep -qF "cannot write into /nonexistent/dir" "$1" && ! grep -q % "$1" && test ! -s "$2"' \
	- "$scratch/nodir.err" "$scratch/nodir.txt"

# The plot, where gnuplot is installed: a PNG file, which the test cannot
# check without it.
if [ "$have_gnuplot" = no ]; then
	[ "$fails" -eq 0 ] || finish
	skip "gnuplot is not installed (apt-get install gnuplot-nox): the plot was not checked"
fi
check "bench --sweep --plot: the file is there" test -s "$scratch/sweep.png"
check "bench --sweep --plot: it is a PNG (signature)" \
	test "$(od -An -tx1 -N8 "$scratch/sweep.png" | tr -d ' \n')" = 89504e470d0a1a0a
check "bench --sweep --plot: says where it wrote it" \
	grep -qxF "dgrambatch: bench: plot written to $scratch/sweep.png" "$scratch/sweep.err"

finish
