#!/usr/bin/env bash
# icmp.sh - forged ICMP and ICMPv6 errors during QUIC and DTLS transfers
# on the dgrambatch datagram BIO, in two network namespaces of the test's
# own joined by a veth pair (tests/netns.sh), never on the host's network.
#
# For IPv4 and IPv6: tests/quic_server (in the server's namespace) and
# tests/quic_client --connected (in the client's), both with the preload
# shim and its counters (DGRAMBATCH_STATS, as `dgrambatch run --stats`),
# move --bytes, checked with SHA-256 at both ends; then unmodified openssl
# s_server -dtls and s_client -dtls exchange data both ways.  Meanwhile
# tests/icmp_forge, on a raw socket in the other namespace, sends round
# after round of errors quoting each side's own 4-tuple (read with ss):
#   at the client:  port, host and network unreachable;
#   at the server:  the same, and fragmentation needed (ICMPv6: packet too
#                   big) with the absurd MTUs 68, 1 and 65535.
# Every transfer must complete intact, and the client's module must have
# counted the errors it absorbed ("ICMP errors reported" > 0).
#
# What the kernel does with them decides what the module sees: it reports
# an ICMP error only to a connected UDP socket (or one with IP_RECVERR),
# and only one at a time (the socket keeps the last).  So the connected
# client's module absorbs unreachables; the server's socket, unconnected,
# never sees them, and its "fragmentation needed" only lowers the path MTU
# in the server's namespace (to 552, the kernel's floor; IPv6: 1280),
# under which the server must go on sending.
#
# At the connected client, "fragmentation needed" and "packet too big"
# come back as EMSGSIZE, which OpenSSL's own datagram BIO returns as a
# fatal error (QUIC then ends the connection: "network BIO I/O error"); the
# module absorbs it as any ICMP error, as the transfer shows.
# DGB_ICMP_FRAG_CLIENT=0 leaves them out there (to compare with OpenSSL's
# BIO).
#
# DGB_ROBUST_SECONDS=N makes the transfers about N seconds long (default:
# the short form, about a second each).
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"
. "$(dirname "$0")/netns.sh"

forge=${DGB_TOOL%/tools/dgrambatch}/tests/icmp_forge
if [ ! -x "${QUIC_SERVER:-}" ] || [ ! -x "${QUIC_CLIENT:-}" ]; then
	skip "no QUIC server in this OpenSSL (3.5 and later); the QUIC test programs are not built"
fi
[ -n "${OPENSSL_BIN:-}" ] || skip "no openssl command for this OpenSSL"
[ -x "$forge" ] || skip "no $forge"
command -v ss >/dev/null || skip "no ss command (iproute2), to read the sockets' ports"
netns_require

seconds=${DGB_ROBUST_SECONDS:-0}
case $seconds in '' | *[!0-9]*) seconds=0 ;; esac
# About 100 MB/s through the shim over the veth pair on a 2-core machine.
bytes=$((seconds > 3 ? seconds * 100000000 : 300000000))
dtls_lines=$((seconds > 1 ? seconds * 80 : 120))
run_limit=$((seconds > 1 ? seconds * 4 + 60 : 60))
wait_limit=20

if ! netns_setup 2>"$scratch/setup.err"; then
	not_ok "network namespaces and veth pair: $(cat "$scratch/setup.err")"
	finish
	exit
fi
ok "namespaces $ns_client and $ns_server, veth $dev_client-$dev_server"

export OPENSSL_BIN OPENSSL_RUN_LIBDIR="${OPENSSL_RUN_LIBDIR:-}" SANITIZER_PRELOAD="${SANITIZER_PRELOAD:-}"
export -f run_openssl _run_openssl
shim_env=(LD_PRELOAD="${SANITIZER_PRELOAD:+$SANITIZER_PRELOAD }$DGB_PRELOAD" DGRAMBATCH_STATS=1)

need_cert

# icmp_count FILE: the "ICMP errors reported" of the shim's stats in FILE
# (the largest: bash -c, which starts openssl, prints its own empty ones)
icmp_count() {
	awk '$1 == "errors" && $3 == "ICMP" && $2 + 0 >= v + 0 { v = $2 } END { print v == "" ? -1 : v }' "$1"
}

# The forged messages of one round, per victim: KIND:MTU
kinds_client=(port:0 host:0 net:0)
[ "${DGB_ICMP_FRAG_CLIENT:-1}" = 1 ] && kinds_client+=(frag:68 frag:1 frag:65535)
kinds_server=(port:0 host:0 net:0 frag:68 frag:1 frag:65535)

# forge_round FILE CADDR CPORT SADDR SPORT: one round of every kind at each
# side, forge_count messages of each forge_interval microseconds apart,
# appended to FILE as "SENT <victim> <kind> <n>"
forge_round() {
	local out=$1 ca=$2 cp=$3 sa=$4 sp=$5 k
	local forgers=()
	for k in "${kinds_client[@]}"; do
		in_server "$forge" --to "$ca" --victim "$(hostport "$ca" "$cp")" \
			--peer "$(hostport "$sa" "$sp")" --kind "${k%:*}" --mtu "${k#*:}" \
			--count "$forge_count" --interval-us "$forge_interval" 2>>"$out.err" |
			sed "s/^SENT /SENT client /;s/ frag / frag${k#*:} /" >>"$out" &
		forgers+=($!)
	done
	for k in "${kinds_server[@]}"; do
		in_client "$forge" --to "$sa" --victim "$(hostport "$sa" "$sp")" \
			--peer "$(hostport "$ca" "$cp")" --kind "${k%:*}" --mtu "${k#*:}" \
			--count "$forge_count" --interval-us "$forge_interval" 2>>"$out.err" |
			sed "s/^SENT /SENT server /;s/ frag / frag${k#*:} /" >>"$out" &
		forgers+=($!)
	done
	# All kinds at once; each pipeline is short (a few ms of sending).
	wait "${forgers[@]}"
}

# forge_while PID FILE CADDR CPORT SADDR SPORT: rounds until PID exits;
# sets rounds (the rounds begun while it ran)
forge_while() {
	local pid=$1
	shift
	rounds=0
	while alive "$pid"; do
		rounds=$((rounds + 1))
		forge_round "$@"
	done
}

# forged FILE VICTIM: "kind=n ..." and the total in forged_total
forged() {
	awk -v v="$2" '$2 == v { n[$3] += $4; t += $4 } END {
		for (k in n) printf "%s=%d ", k, n[k]; printf "total=%d\n", t }' "$1"
}

# --- QUIC ---------------------------------------------------------------
# quic FAMILY SADDR CADDR
quic() {
	local fam=$1 sa=$2 ca=$3 name=quic$1 port start took cstatus sstatus hex n
	local before=$fails
	dir=$scratch/$name
	mkdir -p "$dir"
	in_server env "${shim_env[@]}" timeout -k 5 "$run_limit" "$QUIC_SERVER" --addr "$sa" \
		--cert "$scratch/cert.pem" --key "$scratch/key.pem" \
		>"$dir/server.out" 2>"$dir/server.err" &
	server_pid=$!
	pids+=("$server_pid")
	port=$(server_port "$wait_limit" "$dir/server.out" "$server_pid")
	if [ -z "$port" ]; then
		reap "$server_pid"
		not_ok "$name: the server did not listen on $sa: $(cat "$dir/server.err")"
		return
	fi
	start=$(now)
	in_client env "${shim_env[@]}" timeout -k 5 "$run_limit" "$QUIC_CLIENT" --addr "$sa" \
		--port "$port" --connected --ca "$scratch/cert.pem" --bytes "$bytes" \
		>"$dir/client.out" 2>"$dir/client.err" &
	client_pid=$!
	pids+=("$client_pid")
	sock_port=
	wait_for "$wait_limit" sock_seen "$ns_client"
	echo "# $name: server $(hostport "$sa" "$port"), client $(hostport "$ca" "${sock_port:-?}")"
	if [ -n "$sock_port" ]; then
		forge_while "$client_pid" "$dir/forged" "$ca" "$sock_port" "$sa" "$port"
	fi
	reap "$client_pid"
	cstatus=$reaped
	wait_for "$wait_limit" eval '! alive "$server_pid"'
	reap "$server_pid"
	sstatus=$reaped
	netns_kill
	took=$(elapsed "$start")
	touch "$dir/forged"
	hex=$(awk '$1 == "OK" && $2 == "sha256" { print $3 }' "$dir/client.out")
	echo "# $name: $bytes bytes in $took s, $rounds forging rounds; $(grep -h 'MB/s' "$dir/client.err")"
	echo "# $name: forged at the client: $(forged "$dir/forged" client)"
	echo "# $name: forged at the server: $(forged "$dir/forged" server)"
	echo "# $name: ICMP errors the modules counted: client $(icmp_count "$dir/client.err"), server $(icmp_count "$dir/server.err")"
	[ ! -s "$dir/forged.err" ] || sed 's/^/# forge: /' "$dir/forged.err" | sort -u
	check "$name: the forger ran during the transfer ($rounds rounds)" test "$rounds" -ge 1
	for k in "${kinds_client[@]}"; do
		n=$(awk -v k="${k%:*}" -v m="${k#*:}" '$2 == "client" && ($3 == k || $3 == k m) { t += $4 } END { print t + 0 }' "$dir/forged")
		check "$name: forged ${k%:*}${k#*:} at the client ($n)" test "$n" -gt 0
	done
	for k in "${kinds_server[@]}"; do
		n=$(awk -v k="${k%:*}" -v m="${k#*:}" '$2 == "server" && ($3 == k || $3 == k m) { t += $4 } END { print t + 0 }' "$dir/forged")
		check "$name: forged ${k%:*}${k#*:} at the server ($n)" test "$n" -gt 0
	done
	check "$name: client exited 0 (status $cstatus)" test "$cstatus" = 0
	check "$name: server exited 0 (status $sstatus)" test "$sstatus" = 0
	check "$name: client says OK for $bytes bytes" grep -qx "OK sha256 [0-9a-f]\{64\} $bytes" "$dir/client.out"
	check "$name: server hashed the same $bytes bytes" grep -qx "SERVED sha256 ${hex:-none} $bytes" "$dir/server.out"
	check "$name: both ran on the module's BIO" test "$(grep -cx 'BIO dgrambatch' "$dir/client.out" "$dir/server.out" | awk -F: '{ s += $2 } END { print s }')" = 2
	check "$name: the client's module absorbed ICMP errors ($(icmp_count "$dir/client.err"))" \
		test "$(icmp_count "$dir/client.err")" -gt 0
	if [ "$fails" -gt "$before" ]; then
		for f in client.out client.err server.out server.err; do
			echo "# --- $f ($name)"
			sed 's/^/# /' "$dir/$f" | tail -n 30
		done
	fi
}

# --- DTLS ---------------------------------------------------------------
arrived() {
	[ "$(stat -c %s "$1")" -ge "$2" ] || ! alive "$3"
}

both_gone() {
	! alive "$client_pid" && ! alive "$server_pid"
}

# dtls FAMILY SADDR CADDR: s_server and s_client send each other lines,
# one write each, 10 ms apart (each program sends what one read of its
# input returns as one record, which DTLS never splits: larger than the
# veth's MTU of 1500 it would fail with EMSGSIZE, the sockets being set to
# path MTU discovery), both at once,
# under forged errors
dtls() {
	local fam=$1 sa=$2 ca=$3 name=dtls$1 port=4433 cstatus sstatus start feeder
	local before=$fails server_in client_in
	dir=$scratch/$name
	mkdir -p "$dir"
	payload c2s "$dtls_lines" >"$dir/c2s"
	payload s2c "$dtls_lines" >"$dir/s2c"
	mkfifo "$dir/server.in" "$dir/client.in"
	exec {server_in}<>"$dir/server.in" {client_in}<>"$dir/client.in"
	in_server env "${shim_env[@]}" timeout -k 5 "$run_limit" bash -c 'run_openssl "$@"' openssl \
		s_server -dtls -"$fam" -accept "$(hostport "$sa" "$port")" \
		-cert "$scratch/cert.pem" -key "$scratch/key.pem" -naccept 1 -brief \
		<"$dir/server.in" >"$dir/server.out" 2>"$dir/server.err" {server_in}>&- {client_in}>&- &
	server_pid=$!
	pids+=("$server_pid")
	wait_for "$wait_limit" dtls_server_up
	start=$(now)
	in_client env "${shim_env[@]}" timeout -k 5 "$run_limit" bash -c 'run_openssl "$@"' openssl \
		s_client -dtls -nbio -"$fam" -connect "$(hostport "$sa" "$port")" \
		-CAfile "$scratch/cert.pem" -verify_return_error -brief -nocommands \
		<"$dir/client.in" >"$dir/client.out" 2>"$dir/client.err" {server_in}>&- {client_in}>&- &
	client_pid=$!
	pids+=("$client_pid")
	sock_port=
	wait_for "$wait_limit" sock_seen "$ns_client"
	echo "# $name: s_server $(hostport "$sa" "$port"), s_client $(hostport "$ca" "${sock_port:-?}")"
	# Both sides write their chunks at once, so that neither waits for
	# the other; the forger runs until the feeder is done.
	(
		exec 3<"$dir/c2s" 4<"$dir/s2c"
		while IFS= read -r c <&3 && IFS= read -r s <&4; do
			printf '%s\n' "$c" >&"$client_in"
			printf '%s\n' "$s" >&"$server_in"
			sleep 0.01
		done
	) &
	feeder=$!
	pids+=("$feeder")
	rounds=0
	[ -z "$sock_port" ] || forge_while "$feeder" "$dir/forged" "$ca" "$sock_port" "$sa" "$port"
	reap "$feeder"
	wait_for "$wait_limit" arrived "$dir/server.out" "$(stat -c %s "$dir/c2s")" "$server_pid"
	wait_for "$wait_limit" arrived "$dir/client.out" "$(stat -c %s "$dir/s2c")" "$client_pid"
	exec {client_in}>&-
	wait_for "$wait_limit" both_gone
	exec {server_in}>&-
	reap "$client_pid"
	cstatus=$reaped
	reap "$server_pid"
	sstatus=$reaped
	netns_kill
	touch "$dir/forged"
	echo "# $name: $(stat -c %s "$dir/c2s") + $(stat -c %s "$dir/s2c") bytes in $(elapsed "$start") s, $rounds forging rounds"
	echo "# $name: forged at the client: $(forged "$dir/forged" client)"
	echo "# $name: forged at the server: $(forged "$dir/forged" server)"
	echo "# $name: ICMP errors the modules counted: s_client $(icmp_count "$dir/client.err"), s_server $(icmp_count "$dir/server.err")"
	check "$name: the forger ran during the exchange ($rounds rounds)" test "$rounds" -ge 1
	# (s_server prints its handshake's summary only where it finished the
	# handshake before reading data: the data arriving shows it did.)
	check "$name: s_client handshake completed (DTLSv1.2)" \
		grep -q '^Protocol version: DTLSv1.2$' "$dir/client.err"
	check "$name: client's bytes arrived at the server intact" cmp -s "$dir/c2s" "$dir/server.out"
	check "$name: server's bytes arrived at the client intact" cmp -s "$dir/s2c" "$dir/client.out"
	check "$name: s_client exited 0 (status $cstatus)" test "$cstatus" = 0
	check "$name: s_server exited 0 (status $sstatus)" test "$sstatus" = 0
	check "$name: s_client's module absorbed ICMP errors ($(icmp_count "$dir/client.err"))" \
		test "$(icmp_count "$dir/client.err")" -gt 0
	if [ "$fails" -gt "$before" ]; then
		for f in client.err server.err; do
			echo "# --- $f ($name)"
			sed 's/^/# /' "$dir/$f" | tail -n 30
		done
	fi
}

# QUIC gets a flood: 20 of each kind 0.2 ms apart, round after round.
forge_count=20 forge_interval=200
quic 4 "$addr4_server" "$addr4_client"
quic 6 "$addr6_server" "$addr6_client"
# DTLS a steadier rain: 4 of each kind 3 ms apart, and s_client -nbio.
# s_client reads its socket once select(2) finds it readable, which a
# pending error makes it.  The module absorbs the error and reads again:
# non-blocking, that finds nothing and says "retry", and s_client goes
# back to select(2).  On a blocking socket (no -nbio) it waits for the
# next datagram instead, and where the peer has nothing more to send
# s_client never gets back to its input: the exchange hangs (a run or two
# in five here).  And the module returns the eighth error in a row in one
# call as OpenSSL would (dgrambatch(7), "ICMP errors"), upon which
# s_client ends the session: under the flood QUIC gets, more than eight
# arrive between two of the peer's datagrams.
forge_count=4 forge_interval=3000
dtls 4 "$addr4_server" "$addr4_client"
dtls 6 "$addr6_server" "$addr6_client"
echo "# path MTU cached in the server's namespace after the forged messages:"
in_server ip route get "$addr4_client" | sed 's/^/#   /'
in_server ip -6 route get "$addr6_client" | sed 's/^/#   /'

finish
