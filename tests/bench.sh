#!/usr/bin/env bash
# bench.sh - dgrambatch bench without --config (the tool finds the module
# itself and says which), its progress on stderr, and --sweep: every point
# of its three paths in the table and the JSON, the plot a PNG, the rows a
# kernel without UDP_SEGMENT or UDP_GRO cannot run marked so, usage errors
# for bad lists.  Correctness only, never the figures; the runs are as
# short as bench allows.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

module=$(readlink -f "$DGB_MODULE")
sizes="200 1200"
batches="1 8"
# The sweep's paths and their rows: send, receive from a plain sender,
# receive from a sender of trains.
send_rows="plugin openssl raw raw-gso"
recv_rows="plugin plugin-gro-off openssl raw"
recv_gso_rows="plugin plugin-gro-off openssl raw raw-gro"
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
status=$?
check "bench without --config: exit 0 (status $status)" test "$status" -eq 0
[ "$status" -eq 0 ] || grep -v '% after' "$scratch/single.err" | tail -n 15 | sed 's/^/# /'
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
# (size, batch) point, for every row of each path.  The offload rows (and
# the whole recv-gso path, whose sender needs UDP_SEGMENT) may say
# "unavailable" where the kernel lacks them; the others are measured.
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
		grep -qE "^dgrambatch: bench: +[0-9]+% .*: point 4/4 \(1200 bytes, batch 8\), recv round 3/3, raw\$" "$1" &&
		grep -qE "^dgrambatch: bench: +[0-9]+% .*: point 4/4 \(1200 bytes, batch 8\), recv-gso round 3/3, raw-gro\$" "$1"' \
	- "$scratch/sweep.err"
check "bench --sweep: no progress on stdout" sh -c '! grep -q "^dgrambatch: bench:" "$1"' - "$scratch/sweep.txt"
# table_missing FILE: the (path, size, batch, row) the table lacks
table_missing() {
	local size batch impl path rows figure
	figure='[0-9]+ +[0-9]+\.[0-9]+ '
	for size in $sizes; do
		for batch in $batches; do
			for path in send recv recv-gso; do
				case $path in
				send) rows=$send_rows ;;
				recv) rows=$recv_rows ;;
				*) rows=$recv_gso_rows ;;
				esac
				for impl in $rows; do
					case $path/$impl in
					send/raw-gso | recv-gso/*) ok="($figure|unavailable: )" ;;
					*) ok=$figure ;;
					esac
					grep -qE "^$path +$size +$batch +$impl +$ok" "$1" ||
						printf ' %s' "$path/$size/$batch/$impl"
				done
			done
		done
	done
}
missing=$(table_missing "$scratch/sweep.txt")
check "bench --sweep: a table row for every point, path and row${missing:+ (missing:$missing)}" \
	test -z "$missing"
for path in send recv recv-gso; do
	check "bench --sweep: the module over OpenSSL on $path, by size and batch" \
		grep -qE "^$path: plugin/openssl in datagrams per second" "$scratch/sweep.txt"
done
check "bench --sweep: the receive paths' tables show GRO off beside GRO auto" \
	test "$(grep -c 'with GRO auto, and in brackets with GRO off (plugin-gro-off/openssl)$' \
		"$scratch/sweep.txt")" -eq 2
check "bench --sweep: says what each receive path's sender does" \
	sh -c 'grep -qE "^recv: +from a plain sender" "$1" && grep -qE "^recv-gso: +from a GSO sender" "$1"' \
	- "$scratch/sweep.txt"
[ "$fails" -eq 0 ] || sed 's/^/# /' "$scratch/sweep.err"

# A kernel without UDP_GRO, then one without UDP_SEGMENT, as
# DGRAMBATCH_CAPS_DISABLE makes the module and the tool see it: the sweep
# goes on, the rows that cannot run say "unavailable" and why, at every
# point, and the plot leaves them out with a note in their place.  Where
# gnuplot is installed it runs through a wrapper that keeps the script.
# nocaps NAME CAPS: a sweep with DGRAMBATCH_CAPS_DISABLE=CAPS into $scratch/NAME.*
nocaps() {
	local plot=()
	[ "$have_gnuplot" = no ] ||
		plot=(--plot "$scratch/$1.png")
	env -u OPENSSL_CONF DGRAMBATCH_CAPS_DISABLE="$2" DGRAMBATCH_GNUPLOT="$scratch/gnuplot" \
		DGB_PLOT_COPY="$scratch/$1.gp" timeout 120 "$DGB_TOOL" bench --sweep --sizes 1200 \
		--batches 1,8 --seconds 0.01 --quiet "${plot[@]}" >"$scratch/$1.txt" 2>"$scratch/$1.err"
}
# unavailable NAME PATH ROW: the row says why at both points
unavailable() {
	test "$(grep -cE "^$2 +1200 +(1|8) +$3 +unavailable: no UDP_" "$scratch/$1.txt")" -eq 2
}
if [ "$have_gnuplot" = yes ]; then
	printf '#!/bin/sh\ncp plot.gp "$DGB_PLOT_COPY" || exit 1\nexec %s "$@"\n' \
		"$(command -v gnuplot)" >"$scratch/gnuplot"
	chmod +x "$scratch/gnuplot"
fi
nocaps nogro udp_gro
check "bench --sweep without UDP_GRO: exit 0" test $? -eq 0
check "bench --sweep without UDP_GRO: raw-gro unavailable" unavailable nogro recv-gso raw-gro
missing=
for impl in plugin plugin-gro-off openssl raw; do
	grep -qE "^recv-gso +1200 +8 +$impl +[0-9]+ +[0-9]+\.[0-9]+ " "$scratch/nogro.txt" ||
		missing+=" $impl"
done
check "bench --sweep without UDP_GRO: the other recv-gso rows measured${missing:+ (not:$missing)}" \
	test -z "$missing"
check "bench --sweep without UDP_GRO: the module never turned it on" \
	grep -qE '^module GRO: gro = auto, never turned on \(' "$scratch/nogro.txt"
nocaps nogso udp_segment
check "bench --sweep without UDP_SEGMENT: exit 0" test $? -eq 0
check "bench --sweep without UDP_SEGMENT: raw-gso unavailable" unavailable nogso send raw-gso
missing=
for impl in $recv_gso_rows; do
	unavailable nogso recv-gso "$impl" || missing+=" $impl"
done
check "bench --sweep without UDP_SEGMENT: no train sent, every recv-gso row unavailable${missing:+ (not:$missing)}" \
	test -z "$missing"
if [ "$have_gnuplot" = yes ]; then
	check "bench --sweep --plot without UDP_GRO: raw-gro left out, with a note" \
		sh -c "! grep -qF \"'recv-gso-batch.dat' using 1:7 \" '$scratch/nogro.gp' &&
			grep -qF \"title 'raw recvmsg + UDP_GRO ceiling (a whole train a call): not shown:'\" \
				'$scratch/nogro.gp'"
	check "bench --sweep --plot without UDP_SEGMENT: raw-gso left out, the recv-gso panels say why" \
		sh -c "! grep -qF \"'send-batch.dat' using 1:6 \" '$scratch/nogso.gp' &&
			grep -qF \"title 'raw sendmmsg + UDP_SEGMENT (GSO) ceiling: not shown:'\" '$scratch/nogso.gp' &&
			! grep -qF 'recv-gso-batch.dat' '$scratch/nogso.gp' &&
			test \"\$(grep -c \"^set label 1 'not measured:'\" '$scratch/nogso.gp')\" -eq 3"
	check "bench --sweep --plot without the offloads: the PNGs written" \
		test -s "$scratch/nogro.png" -a -s "$scratch/nogso.png"
fi
[ "$fails" -eq 0 ] || sed 's/^/# /' "$scratch/nogro.err" "$scratch/nogso.err"

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
    paths = (("send", sys.argv[2]), ("recv", sys.argv[3]), ("recv_gso", sys.argv[4]))
    assert set(k for k in p if k in ("send", "recv", "recv_gso", "read")) == {"send", "recv", "recv_gso"}, p
    for path, rows in paths:
        rows = rows.replace("-", "_").split()
        assert set(p[path]) == set(rows) | {"plugin_over_" + r for r in rows if r != "plugin"} | (
            {"plugin_gro_off_over_openssl"} if path != "send" else set()), (path, p[path].keys())
        for row in rows:
            c = p[path][row]
            may_lack = row == "raw_gso" or path == "recv_gso"
            assert c["datagrams_per_second"] > 0 or (may_lack and "unavailable" in c), (p, path, row, c)
    assert (p["trains"] is None) == ("unavailable" in p["recv_gso"]["raw"]), p
' "$scratch/sweep.json" "$send_rows" "$recv_rows" "$recv_gso_rows"
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
# Without gnuplot the checks above still count: the test passes, and says
# what it could not check.
if [ "$have_gnuplot" = no ]; then
	echo "# gnuplot is not installed (apt-get install gnuplot-nox): the plot was not checked"
	finish
	exit
fi
check "bench --sweep --plot: the file is there" test -s "$scratch/sweep.png"
check "bench --sweep --plot: it is a PNG (signature)" \
	test "$(od -An -tx1 -N8 "$scratch/sweep.png" | tr -d ' \n')" = 89504e470d0a1a0a
check "bench --sweep --plot: says where it wrote it" \
	grep -qxF "dgrambatch: bench: plot written to $scratch/sweep.png" "$scratch/sweep.err"

finish
