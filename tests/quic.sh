#!/usr/bin/env bash
# quic.sh - QUIC (OpenSSL 3.5's QUIC server and client) on the dgrambatch
# datagram BIO over 127.0.0.1:
#   shim      tests/quic_server and tests/quic_client, both with the preload
#             shim, move 50 MB on one stream, checked with SHA-256;
#   header    the same with the module's BIO taken by the header route
#             (DGB_new_dgram) from a provider a config file loads, no shim;
#             the module's counters must show it carried the datagrams;
#   download  the server sends the 50 MB instead, through the shim and the
#             header route; the server's module segments its sends (GSO),
#             the client's splits the trains it receives (GRO); then 30
#             request/response rounds (--pings) that must not wait for
#             QUIC's timers (see "The latency check" below);
#   nb-*      the download again with both programs in non-blocking mode,
#             through the shim and the header route, the client in
#             explicit event handling (an event loop polling the socket);
#   stall-control  the control for the latency check: the same rounds with
#             a filter BIO that keeps a datagram inside itself (quic_client
#             --hold) must wait for a timer;
#   gro-off   the header-route download with gro = off in the provider's
#             section, non-blocking: no coalesced receives, and intact;
#   gso-fault the header route with every segmented send from the 300th on
#             refused (EIO), by a test-only interposer: intact all the same;
#   s_client  the unmodified openssl s_client -quic, with the shim, against
#             the server in echo mode;
#   disabled  the shim run again with DGRAMBATCH_DISABLE=1, on OpenSSL's BIO.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

# The OpenSSL the tests run with, which a cross-version run sets apart
# from the one the build was made with.
ossl_version=$("$DGB_TOOL" probe 2>/dev/null |
	sed -n 's/^OpenSSL at run time: *OpenSSL \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')
if [ ! -x "${QUIC_SERVER:-}" ] || [ ! -x "${QUIC_CLIENT:-}" ]; then
	skip "OpenSSL ${ossl_version:-(unknown version)} has no QUIC server API" \
		"(OSSL_QUIC_server_method, SSL_new_listener: 3.5 and later); the QUIC test programs are not built"
fi
[ -n "${OPENSSL_BIN:-}" ] || skip "no openssl command for this OpenSSL (for the certificate and s_client -quic)"
command -v timeout >/dev/null || skip "no timeout command"

version=$("$DGB_TOOL" --version | awk '{ print $2 }')
debug_line="dgrambatch $version: preload shim active"

# What the issue asks to move, and the fewest datagrams that can carry it
# (QUIC packets are at most 1500 bytes here, in practice about 1200).
bytes=52428800
min_datagrams=$((bytes / 1500))

# Upper bounds, never reached in a passing run (which takes well under a
# second per transfer, a few seconds under ASan): a lost datagram or a
# misbehaving BIO fails the test instead of hanging it.
wait_limit=20
run_limit=60

# The latency check.  After a download, the client asks for 30 responses
# of about 37 datagrams that the server writes in two parts, so that they
# arrive as two trains (about 8 and 29 datagrams), and reads each only
# once both are queued: the receive of 32 that QUIC makes takes the first
# train and part of the second, and the module keeps the rest of that one,
# the response's end, for the next call (quic_client.c, pingpong()).  It
# leaves it queued in the socket, so QUIC, which sleeps on the socket
# between receives, wakes at once and reads it.  A BIO that took the train
# off the socket and kept its rest itself would leave QUIC asleep on an
# empty socket until a timer woke it: with nothing else in flight, the
# peer's delayed ACK or a probe timeout, both at least OpenSSL's maximum
# ACK delay of 25 ms away (here the server's delayed ACK of the request:
# about 22 ms into the read).  A round takes about 0.1 to 0.2 ms here; the
# median of the rounds in which the module kept datagrams must stay below a
# fifth of that 25 ms, and the control (the same rounds, a datagram kept
# inside a filter BIO) must not.  The median over 30 rounds is what is
# compared: a busy machine delays single rounds, not most.  The client in
# explicit event handling (nb-*) reads the network once per wake-up, as an
# event loop does, and so shows such a wait; a client in blocking mode, or
# in QUIC's implicit event handling, reads it again at every SSL_read_ex,
# which hides nearly all of them: its rounds only guard against slowness.
# (A module changed to take a train off the socket and keep its rest
# fails nb-download and nb-shim-download with medians of about 22.5 ms.)
pings=30
stall_bound=5000

# The environment that preloads the shim.  A sanitizer's runtime must come
# first in LD_PRELOAD even in the programs built with it (they link it, but
# the shim would be loaded before it); they keep their leak checks.
shim_env=(LD_PRELOAD="${SANITIZER_PRELOAD:+$SANITIZER_PRELOAD }$DGB_PRELOAD" DGRAMBATCH_DEBUG=1)

# A throwaway certificate for localhost; the clients trust exactly this one
# and check the name, so a completed handshake shows the server presented it.
need_cert

# A config file that loads the module by its path, beside the default
# provider, and a modules directory with nothing in it: in the header run
# the module can only come from this file.
write_cnf "$scratch/dgrambatch.cnf"
mkdir "$scratch/no-modules"

# start_server NAME [VAR=VALUE...] -- ARGS...: the test server in the
# background with the extra environment, on a port the kernel picks and
# the server reports; sets dir, server_pid and port (empty if it never
# listened).
start_server() {
	local envs=()
	dir=$scratch/$1
	shift
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	mkdir -p "$dir"
	env "${envs[@]}" timeout -k 5 "$run_limit" "$QUIC_SERVER" \
		--cert "$scratch/cert.pem" --key "$scratch/key.pem" "$@" \
		>"$dir/server.out" 2>"$dir/server.err" &
	server_pid=$!
	pids+=("$server_pid")
	port=$(server_port "$wait_limit" "$dir/server.out" "$server_pid")
	[ -n "$port" ]
}

# stop_server: the server's exit status in server_status, once it has
# served its one connection (or at the deadline, stopped)
stop_server() {
	wait_for "$wait_limit" gone "$server_pid"
	reap "$server_pid"
	server_status=$reaped
}

# transfer NAME [VAR=VALUE...] -- SERVER ARGS -- CLIENT ARGS: one 50 MB
# transfer, both programs with the extra environment; sets client_status
# and server_status, and took (seconds).  False if the server never listened.
transfer() {
	local name=$1 envs=() sargs=() start
	shift
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	while [ "$1" != -- ]; do
		sargs+=("$1")
		shift
	done
	shift
	client_status=none server_status=none took=
	if ! start_server "$name" "${envs[@]}" -- "${sargs[@]}"; then
		stop_server
		return 1
	fi
	echo "# $name: server on 127.0.0.1:$port"
	start=$(now)
	env "${envs[@]}" timeout -k 5 "$run_limit" "$QUIC_CLIENT" --port "$port" \
		--ca "$scratch/cert.pem" --bytes "$bytes" "$@" \
		>"$dir/client.out" 2>"$dir/client.err"
	client_status=$?
	stop_server
	took=$(elapsed "$start")
	echo "# $name: $bytes bytes and the reply in $took s; $(grep -h 'MB/s' "$dir/client.err")"
	return 0
}

# expect_transfer NAME: the checks common to the 50 MB transfers
expect_transfer() {
	local name=$1 dir=$scratch/$1 hex
	hex=$(awk '$1 == "OK" && $2 == "sha256" { print $3 }' "$dir/client.out")
	check "$name: client exited 0 (status $client_status)" test "$client_status" = 0
	check "$name: server exited 0 (status $server_status)" test "$server_status" = 0
	check "$name: client says OK for $bytes bytes" \
		grep -qx "OK sha256 [0-9a-f]\{64\} $bytes" "$dir/client.out"
	check "$name: server hashed the same $bytes bytes" \
		grep -qx "SERVED sha256 ${hex:-none} $bytes" "$dir/server.out"
}

# expect_bio NAME KIND: both programs report their datagram BIO as KIND
expect_bio() {
	local who
	for who in client server; do
		check "$1: $who's datagram BIO is $2's" grep -qx "BIO $2" "$scratch/$1/$who.out"
	done
}

# expect_shim NAME COUNT [WHO...]: the debug line COUNT times in each one's stderr
expect_shim() {
	local name=$1 count=$2 who n whos
	shift 2
	whos=("$@")
	[ "${#whos[@]}" -gt 0 ] || whos=(client server)
	for who in "${whos[@]}"; do
		n=$(grep -c -F "$debug_line" "$scratch/$name/$who.err")
		if [ "$count" -gt 0 ]; then
			check "$name: $who ran with the shim (debug line once)" test "$n" -eq "$count"
		else
			check "$name: $who ran without the shim (no debug line)" test "$n" -eq 0
		fi
	done
}

# show_output NAME FAILS [WHO...]: what the programs said, if checks failed
# since the count was FAILS
show_output() {
	local name=$1 before=$2 who f whos
	shift 2
	[ "$fails" -gt "$before" ] || return 0
	whos=("$@")
	[ "${#whos[@]}" -gt 0 ] || whos=(client server)
	for who in "${whos[@]}"; do
		for f in out err; do
			echo "# --- $who std$f ($name)"
			sed 's/^/# /' "$scratch/$name/$who.$f"
		done
	done
}

# counter FILE KEY [LINE]: the value of KEY=... in the module's COUNTERS
# line (or the line named LINE, e.g. COUNTERS-GSO), or -1
counter() {
	awk -v k="$2=" -v line="${3:-COUNTERS}" '$1 == line {
		for (i = 2; i <= NF; i++)
			if (index($i, k) == 1 && substr($i, length(k) + 1) ~ /^[0-9]+$/) {
				v = substr($i, length(k) + 1)
				exit
			}
	} END { print v == "" ? -1 : v }' "$1"
}

# The GRO checks need the kernel's UDP_GRO, and trains need its UDP GSO on
# the sending side (loopback coalesces nothing by itself); without both the
# module receives one datagram at a time.
if "$DGB_TOOL" probe | grep -Eq '^udp_gro +yes +yes' &&
	"$DGB_TOOL" probe | grep -Eq '^udp_segment +yes +yes'; then
	have_gro=1
else
	have_gro=0
	echo "# no UDP GRO or GSO in this kernel: coalesced receives not checked"
fi

# expect_gro NAME WHO: WHO's datagram BIO says its socket hands over
# trains, where the kernel has GRO
expect_gro() {
	[ "$have_gro" = 1 ] || return 0
	check "$1: $2's socket handed over coalesced trains (GRO on)" \
		grep -qx "GRO on" "$scratch/$1/$2.out"
}

# expect_coalesced NAME WHO: WHO's module (the receiver of the data)
# received coalesced trains, split them, delivered some of their
# datagrams in a later call than the one that received the train, and
# had to cut none short
expect_coalesced() {
	local f=$scratch/$1/$2.out r s c d t rx
	r=$(counter "$f" receives COUNTERS-GRO) s=$(counter "$f" segments COUNTERS-GRO)
	c=$(counter "$f" carried COUNTERS-GRO) d=$(counter "$f" kernel_drops COUNTERS-GRO)
	t=$(counter "$f" truncated COUNTERS-GRO) rx=$(counter "$f" rx)
	echo "# $1: $2 COUNTERS-GRO receives=$r segments=$s carried=$c kernel_drops=$d truncated=$t (rx=$rx)"
	[ "$have_gro" = 1 ] || return 0
	check "$1: $2's module received coalesced trains ($r)" test "$r" -gt 0
	check "$1: they held more datagrams than there were trains ($s > $r)" test "$s" -gt "$r"
	check "$1: most datagrams came in trains ($s of $rx)" test "$((2 * s))" -ge "$rx"
	check "$1: some went to a later call than their train's first ($c)" test "$c" -gt 0
	check "$1: no receive was cut short ($t)" test "$t" -eq 0
}

# ping_stats FILE: "ROUNDS KEPT MEDIAN P90 MAX" from the client's PING
# lines; the times (microseconds) are those of the rounds in which the
# module kept datagrams for a later call, or of all where it could not say
ping_stats() {
	local n
	n=$(grep -c '^PING ' "$1")
	awk '$1 == "PING" && $4 != 0 { print $3 }' "$1" | sort -n |
		awk -v n="$n" '{ x[NR] = $1 } END {
			if (NR == 0) print n, 0, -1, -1, -1
			else print n, NR, x[int((NR + 1) / 2)], x[int((9 * NR + 9) / 10)], x[NR]
		}'
}

# expect_prompt NAME: the latency check (see the top) on NAME's rounds;
# sets kept and median
expect_prompt() {
	local n p90 max
	read -r n kept median p90 max < <(ping_stats "$scratch/$1/client.out")
	echo "# $1: $n rounds, $kept counted (datagrams kept for a later call):" \
		"median $median us, 90th percentile $p90 us, max $max us"
	check "$1: the server answered $pings rounds" grep -qx "PINGS $pings" "$scratch/$1/server.out"
	check "$1: the client timed $pings rounds ($n)" test "$n" -eq "$pings"
	[ "$have_gro" = 1 ] || return 0
	# The preload shim's counters are its own, which no provider reports.
	if grep -q '^PING .* -1$' "$scratch/$1/client.out"; then
		echo "# $1: which rounds had datagrams kept is not known here: all are timed"
	else
		check "$1: in a third of them or more the module kept datagrams ($kept)" \
			test "$((3 * kept))" -ge "$n"
	fi
	check "$1: the rounds took no timer's wait (median $median us < $stall_bound us)" \
		test "$median" -ge 0 -a "$median" -lt "$stall_bound"
}

# (a) The shim in both programs: libssl's SSL_set_fd in the server and the
# client's own BIO_new_dgram get the module's BIO.
before=$fails
if transfer shim "${shim_env[@]}" -- -- ; then
	expect_transfer shim
	expect_shim shim 1
	expect_bio shim dgrambatch
	expect_gro shim server
	show_output shim "$before"
else
	not_ok "shim: the server did not listen: $(cat "$scratch/shim/server.err")"
fi

# (b) The header route, no shim: DGB_new_dgram in both programs takes the
# module's BIO from the provider the config file loaded, on a connected
# socket in the client.  The counters are the module's own: the data
# direction must account for the whole transfer; the other carries the
# acknowledgements (a fraction of that) and the replies.
before=$fails
if transfer header OPENSSL_CONF="$scratch/dgrambatch.cnf" OPENSSL_MODULES="$scratch/no-modules" \
	-- --bio header -- --bio header --connected; then
	expect_transfer header
	expect_shim header 0
	expect_bio header dgrambatch
	ctx=$(counter "$scratch/header/client.out" tx) crx=$(counter "$scratch/header/client.out" rx)
	stx=$(counter "$scratch/header/server.out" tx) srx=$(counter "$scratch/header/server.out" rx)
	echo "# header: client COUNTERS tx=$ctx rx=$crx, server COUNTERS tx=$stx rx=$srx"
	check "header: client's module sent at least $min_datagrams datagrams ($ctx)" \
		test "$ctx" -ge "$min_datagrams"
	check "header: server's module received at least $min_datagrams datagrams ($srx)" \
		test "$srx" -ge "$min_datagrams"
	check "header: server's module sent the acknowledgements ($stx)" test "$stx" -gt 0
	check "header: client's module received them ($crx)" test "$crx" -gt 0
	check "header: nothing received that was not sent (client rx $crx <= server tx $stx)" \
		test "$crx" -le "$stx"
	check "header: nothing received that was not sent (server rx $srx <= client tx $ctx)" \
		test "$srx" -le "$ctx"
	# The client sends the data: where the kernel has UDP GSO, most of its
	# datagrams go out in segmented sends.
	gsends=$(counter "$scratch/header/client.out" sends COUNTERS-GSO)
	gsegs=$(counter "$scratch/header/client.out" segments COUNTERS-GSO)
	echo "# header: client COUNTERS-GSO sends=$gsends segments=$gsegs"
	if "$DGB_TOOL" probe | grep -Eq '^udp_segment +yes +yes'; then
		check "header: the client's data went out in segmented sends ($gsends)" \
			test "$gsends" -gt 0
		check "header: most of its datagrams were segments ($gsegs of $ctx)" \
			test "$((2 * gsegs))" -ge "$ctx"
	else
		echo "# header: no UDP GSO in this kernel; segmented sends not checked"
	fi
	# The server receives the data: where the kernel has UDP GRO, the
	# client's segmented sends reach it as trains, which its module splits.
	expect_gro header server
	expect_coalesced header server
	show_output header "$before"
else
	not_ok "header: the server did not listen: $(cat "$scratch/header/server.err")"
fi

# (a2, b1) The download: the server sends the 50 MB (--download), through
# the shim and through the header route; where the kernel has UDP GSO, the
# server's counters show its datagrams went out in segmented sends, and
# where it has UDP GRO, the client's show they came in as trains.  Then
# the rounds of the latency check, in blocking mode.
before=$fails
if transfer shim-download "${shim_env[@]}" -- --download -- --download --pings "$pings"; then
	expect_transfer shim-download
	expect_shim shim-download 1
	expect_bio shim-download dgrambatch
	expect_gro shim-download client
	expect_prompt shim-download
	show_output shim-download "$before"
else
	not_ok "shim-download: the server did not listen: $(cat "$scratch/shim-download/server.err")"
fi
before=$fails
if transfer download OPENSSL_CONF="$scratch/dgrambatch.cnf" OPENSSL_MODULES="$scratch/no-modules" \
	-- --bio header --download -- --bio header --connected --download --pings "$pings"; then
	expect_transfer download
	expect_bio download dgrambatch
	stx=$(counter "$scratch/download/server.out" tx)
	gsends=$(counter "$scratch/download/server.out" sends COUNTERS-GSO)
	gsegs=$(counter "$scratch/download/server.out" segments COUNTERS-GSO)
	echo "# download: server COUNTERS tx=$stx, COUNTERS-GSO sends=$gsends segments=$gsegs"
	check "download: the server's module sent at least $min_datagrams datagrams ($stx)" \
		test "$stx" -ge "$min_datagrams"
	if "$DGB_TOOL" probe | grep -Eq '^udp_segment +yes +yes'; then
		check "download: the server's data went out in segmented sends ($gsends)" \
			test "$gsends" -gt 0
		check "download: most of its datagrams were segments ($gsegs of $stx)" \
			test "$((2 * gsegs))" -ge "$stx"
	fi
	expect_gro download client
	expect_coalesced download client
	expect_prompt download
	show_output download "$before"
else
	not_ok "download: the server did not listen: $(cat "$scratch/download/server.err")"
fi

# (a3, b3) The same downloads in non-blocking mode, waiting in poll(2),
# the client in explicit event handling, so that the latency check tells
# most (it reads the network once per wake-up of its poll): through the
# shim, the server in QUIC's implicit event handling; through the header
# route (unconnected, so each datagram split from a train carries the
# sender's address), the server in explicit event handling too.
before=$fails
if transfer nb-shim-download "${shim_env[@]}" -- --download --nonblock -- \
	--download --explicit --pings "$pings"; then
	expect_transfer nb-shim-download
	expect_shim nb-shim-download 1
	expect_bio nb-shim-download dgrambatch
	expect_gro nb-shim-download client
	expect_prompt nb-shim-download
	show_output nb-shim-download "$before"
else
	not_ok "nb-shim-download: the server did not listen: $(cat "$scratch/nb-shim-download/server.err")"
fi
before=$fails
if transfer nb-download OPENSSL_CONF="$scratch/dgrambatch.cnf" OPENSSL_MODULES="$scratch/no-modules" \
	-- --bio header --download --explicit -- --bio header --download --explicit --pings "$pings"; then
	expect_transfer nb-download
	expect_bio nb-download dgrambatch
	expect_gro nb-download client
	expect_coalesced nb-download client
	expect_prompt nb-download
	prompt_median=$median
	show_output nb-download "$before"
else
	not_ok "nb-download: the server did not listen: $(cat "$scratch/nb-download/server.err")"
fi

# (b4) The control: the rounds of nb-download (after 1 MB) with the
# client's filter BIO keeping the last datagram of each receive inside
# itself (--hold), as a BIO that kept a train's rest would: they must wait
# for a timer, or the latency check could not tell.
if [ "$have_gro" = 1 ]; then
	before=$fails
	if bytes=1048576 transfer stall-control OPENSSL_CONF="$scratch/dgrambatch.cnf" \
		OPENSSL_MODULES="$scratch/no-modules" -- --bio header --download --nonblock -- \
		--bio header --download --explicit --hold --pings "$pings"; then
		check "stall-control: client exited 0 (status $client_status)" test "$client_status" = 0
		check "stall-control: server exited 0 (status $server_status)" test "$server_status" = 0
		read -r n kept median p90 max < <(ping_stats "$scratch/stall-control/client.out")
		echo "# stall-control: $n rounds, $kept counted: median $median us," \
			"90th percentile $p90 us, max $max us"
		check "stall-control: the client timed $pings rounds ($n)" test "$n" -eq "$pings"
		check "stall-control: with a datagram kept inside the BIO they waited (median $median us >= $stall_bound us)" \
			test "$median" -ge "$stall_bound"
		[ -z "${prompt_median:-}" ] || [ "$prompt_median" -le 0 ] ||
			echo "# stall-control: $(awk -v a="$median" -v b="$prompt_median" \
				'BEGIN { printf "%.0f", a / b }') times nb-download's median"
		show_output stall-control "$before"
	else
		not_ok "stall-control: the server did not listen: $(cat "$scratch/stall-control/server.err")"
	fi
fi

# (b5) gro = off in the provider's section: the client's module receives
# datagram by datagram (no trains, its socket without UDP_GRO) while the
# server's still segments its sends, and the download is intact; both
# programs in non-blocking mode with QUIC's implicit event handling.
write_cnf "$scratch/gro-off.cnf" "gro = off"
before=$fails
if transfer gro-off OPENSSL_CONF="$scratch/gro-off.cnf" OPENSSL_MODULES="$scratch/no-modules" \
	-- --bio header --download --nonblock -- --bio header --connected --download --nonblock; then
	expect_transfer gro-off
	expect_bio gro-off dgrambatch
	crx=$(counter "$scratch/gro-off/client.out" rx)
	grecv=$(counter "$scratch/gro-off/client.out" receives COUNTERS-GRO)
	gsends=$(counter "$scratch/gro-off/server.out" sends COUNTERS-GSO)
	echo "# gro-off: client COUNTERS rx=$crx, COUNTERS-GRO receives=$grecv;" \
		"server COUNTERS-GSO sends=$gsends"
	check "gro-off: the client's socket handed over no trains (GRO off)" \
		grep -qx "GRO off" "$scratch/gro-off/client.out"
	check "gro-off: the client's module made no coalesced receive ($grecv)" test "$grecv" -eq 0
	check "gro-off: it received at least $min_datagrams datagrams ($crx)" \
		test "$crx" -ge "$min_datagrams"
	if "$DGB_TOOL" probe | grep -Eq '^udp_segment +yes +yes'; then
		check "gro-off: the server still segmented its sends ($gsends)" test "$gsends" -gt 0
	fi
	show_output gro-off "$before"
else
	not_ok "gro-off: the server did not listen: $(cat "$scratch/gro-off/server.err")"
fi

# (b2) The header route again, with every segmented send from the 300th
# on refused with EIO, as by a device without checksum offload, through the
# test-only interposer preloaded into both programs: the module sends the
# refused run one datagram at a time, turns GSO off for the socket, and the
# transfer completes intact.
if [ -n "${DGB_FAULTLIB:-}" ] && [ -f "$DGB_FAULTLIB" ] &&
	"$DGB_TOOL" probe | grep -Eq '^udp_segment +yes +yes'; then
	before=$fails
	if transfer gso-fault OPENSSL_CONF="$scratch/dgrambatch.cnf" OPENSSL_MODULES="$scratch/no-modules" \
		LD_PRELOAD="${SANITIZER_PRELOAD:+$SANITIZER_PRELOAD }$DGB_FAULTLIB" \
		DGB_FAULTS='gso:300+:EIO' \
		-- --bio header -- --bio header --connected; then
		expect_transfer gso-fault
		expect_bio gso-fault dgrambatch
		gsends=$(counter "$scratch/gso-fault/client.out" sends COUNTERS-GSO)
		gfall=$(counter "$scratch/gso-fault/client.out" fallbacks COUNTERS-GSO)
		echo "# gso-fault: client COUNTERS-GSO sends=$gsends fallbacks=$gfall"
		check "gso-fault: the client's GSO sends before the fault (>= 299: $gsends)" \
			test "$gsends" -ge 299
		check "gso-fault: the refused run was sent one by one, once ($gfall)" \
			test "$gfall" -eq 1
		show_output gso-fault "$before"
	else
		not_ok "gso-fault: the server did not listen: $(cat "$scratch/gso-fault/server.err")"
	fi
else
	echo "# gso-fault: skipped (no UDP GSO in this kernel, or no fault interposer)"
fi

# (c) The unmodified openssl s_client -quic with the shim, against the
# server (with the shim too) in echo mode.  s_client hangs up as soon as its
# input ends, so its input stays open (this shell holds the FIFO) until the
# line has come back.  run_openssl puts a sanitizer's runtime before the
# shim, with leak checks off, and OPENSSL_RUN_LIBDIR into LD_LIBRARY_PATH;
# timeout(1) needs a program, hence the exported functions and bash -c.
export OPENSSL_BIN OPENSSL_RUN_LIBDIR="${OPENSSL_RUN_LIBDIR:-}" SANITIZER_PRELOAD="${SANITIZER_PRELOAD:-}"
export -f run_openssl _run_openssl

echoed() {
	grep -qxF "$line" "$dir/client.out" || ! alive "$client_pid"
}

before=$fails
client_status=none server_status=none
if start_server s_client "${shim_env[@]}" -- --echo; then
	echo "# s_client: server on 127.0.0.1:$port"
	line="dgrambatch QUIC echo $RANDOM$RANDOM$RANDOM"
	mkfifo "$dir/client.in"
	exec {client_in}<>"$dir/client.in"
	start=$(now)
	env DGRAMBATCH_DEBUG=1 SANITIZER_PRELOAD="${SANITIZER_PRELOAD:+$SANITIZER_PRELOAD }$DGB_PRELOAD" \
		timeout -k 5 "$run_limit" bash -c 'run_openssl "$@"' openssl \
		s_client -quic -alpn dgb-test -connect "127.0.0.1:$port" \
		-CAfile "$scratch/cert.pem" -verify_return_error -verify_hostname localhost -brief \
		<"$dir/client.in" >"$dir/client.out" 2>"$dir/client.err" {client_in}>&- &
	client_pid=$!
	pids+=("$client_pid")
	echo "$line" >&"$client_in"
	wait_for "$wait_limit" echoed
	# End of input: s_client closes the connection; the server, told to
	# take one, exits.
	exec {client_in}>&-
	wait_for "$wait_limit" gone "$client_pid"
	reap "$client_pid"
	client_status=$reaped
	stop_server
	echo "# s_client: the echo and the close in $(elapsed "$start") s"
	check "s_client: handshake completed (QUICv1)" grep -q '^Protocol version: QUICv1$' "$dir/client.err"
	check "s_client: certificate verified" grep -q '^Verification: OK$' "$dir/client.err"
	check "s_client: the line came back" grep -qxF "$line" "$dir/client.out"
	check "s_client: the server echoed exactly the line" \
		grep -qx "ECHOED $((${#line} + 1))" "$dir/server.out"
	check "s_client: s_client exited 0 (status $client_status)" test "$client_status" = 0
	check "s_client: server exited 0 (status $server_status)" test "$server_status" = 0
	expect_shim s_client 1 client server
	check "s_client: server's datagram BIO is dgrambatch's" grep -qx "BIO dgrambatch" "$dir/server.out"
	show_output s_client "$before"
else
	stop_server
	not_ok "s_client: the server did not listen: $(cat "$scratch/s_client/server.err")"
fi

# (d) The control: the shim preloaded but disabled passes everything
# through to OpenSSL, and the same transfer works on its BIO.
before=$fails
if transfer disabled "${shim_env[@]}" DGRAMBATCH_DISABLE=1 -- -- ; then
	expect_transfer disabled
	expect_shim disabled 0
	expect_bio disabled openssl
	show_output disabled "$before"
else
	not_ok "disabled: the server did not listen: $(cat "$scratch/disabled/server.err")"
fi

finish
