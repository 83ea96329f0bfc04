#!/usr/bin/env bash
# netem.sh - QUIC and DTLS over a lossy, reordering, duplicating link, on
# the dgrambatch datagram BIO and, for comparison, on OpenSSL's own, in two
# network namespaces of the test's own joined by a veth pair
# (tests/netns.sh).
#
# The impairment, the same both ways:
#   delay 5ms, jitter 2ms, loss 5%, duplicate 1%, reorder 10%
# by tc's netem on both ends of the veth pair where the kernel has
# sch_netem; where it has not (as in some VM and container kernels), by
# tests/wire, which does what netem does in user space on a wire of its
# own: a third namespace between the two, bridging two veth pairs frame by
# frame.  Either way the ends keep their addresses and 4-tuples.  The wire
# reports what it did (frames lost, duplicated, reordered), and the test
# checks that it did each.  DGB_NETEM=wire uses the wire even where netem
# exists.
# For IPv4 and IPv6:
#   quic-module   tests/quic_server and tests/quic_client --connected, both
#                 with the preload shim, move --bytes, checked with SHA-256
#   quic-openssl  the same on OpenSSL's own BIO (no shim)
#   dtls-module   openssl s_server -dtls and s_client -dtls with the shim
#                 send each other numbered lines, one record each
#   dtls-openssl  the same on OpenSSL's own BIO
# QUIC must deliver everything intact.  DTLS retransmits its handshake but
# never application data, so a lost record stays lost: its checks are the
# handshake, that every line that arrived is one that was sent, unchanged
# and once (duplicates are DTLS's replay protection's to drop), and a
# clean exit.  Times are printed side by side, not compared.
#
# DGB_ROBUST_SECONDS=N makes the transfers longer.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"
. "$(dirname "$0")/netns.sh"

if [ ! -x "${QUIC_SERVER:-}" ] || [ ! -x "${QUIC_CLIENT:-}" ]; then
	skip "no QUIC server in this OpenSSL (3.5 and later); the QUIC test programs are not built"
fi
[ -n "${OPENSSL_BIN:-}" ] || skip "no openssl command for this OpenSSL"
netns_require

seconds=${DGB_ROBUST_SECONDS:-0}
case $seconds in '' | *[!0-9]*) seconds=0 ;; esac
bytes=$((seconds > 2 ? seconds * 2000000 : 4000000))
dtls_lines=$((seconds > 2 ? seconds * 50 : 100))
run_limit=$((seconds > 2 ? seconds * 10 + 120 : 120))
wait_limit=30

netem="delay 5ms 2ms loss 5% duplicate 1% reorder 10%"
wire_args=(--delay 5 --jitter 2 --loss 5 --duplicate 1 --reorder 10 --seed "$$")
wire_bin=${DGB_WIRE:-}

# netem_works: can this kernel put a netem qdisc on a veth?  (On netns.sh's
# probe pair, removed at once; tc's complaint in tc.err.)
netem_on_probe() {
	tc -n "$ns_probe" qdisc add dev dgbp0 root netem delay 1ms 2>"$scratch/tc.err"
}

netem_works() {
	command -v tc >/dev/null && netns_probe netem_on_probe
}

if [ "${DGB_NETEM:-}" != wire ] && netem_works; then
	mode=netem
	netns_setup 2>"$scratch/setup.err" &&
		tc -n "$ns_client" qdisc add dev "$dev_client" root netem $netem 2>>"$scratch/setup.err" &&
		tc -n "$ns_server" qdisc add dev "$dev_server" root netem $netem 2>>"$scratch/setup.err"
	setup=$?
	impairment="veth $dev_client-$dev_server, netem $netem (both ends)"
else
	mode=wire
	[ -x "$wire_bin" ] || skip "no sch_netem here, and no tests/wire (DGB_WIRE: '$wire_bin')"
	for c in ethtool sysctl ss; do
		command -v "$c" >/dev/null || skip "no sch_netem here, and no $c command, which tests/wire's link needs"
	done
	[ -s "$scratch/tc.err" ] && echo "# no netem here ($(head -n1 "$scratch/tc.err")): tests/wire instead"
	netns_setup wire 2>"$scratch/setup.err"
	setup=$?
	impairment="veth $dev_client-$dev_mid_client, tests/wire ${wire_args[*]} (both ways, in namespace $ns_mid), veth $dev_mid_server-$dev_server"
fi
if [ "$setup" != 0 ]; then
	not_ok "network namespaces and the impaired link: $(cat "$scratch/setup.err")"
	finish
	exit
fi
if [ "$mode" = wire ]; then
	ip netns exec "$ns_mid" "$wire_bin" --a "$dev_mid_client" --b "$dev_mid_server" "${wire_args[@]}" \
		>"$scratch/wire.out" 2>"$scratch/wire.err" &
	wire_pid=$!
	pids+=("$wire_pid")
	if ! wait_for "$wait_limit" eval 'grep -qsx READY "$scratch/wire.out" || ! alive "$wire_pid"' ||
		! alive "$wire_pid"; then
		not_ok "tests/wire did not start: $(cat "$scratch/wire.err")"
		finish
		exit
	fi
fi
ok "namespaces $ns_client and $ns_server, $impairment"

export OPENSSL_BIN OPENSSL_RUN_LIBDIR="${OPENSSL_RUN_LIBDIR:-}" SANITIZER_PRELOAD="${SANITIZER_PRELOAD:-}"
export -f run_openssl _run_openssl
shim_env=(LD_PRELOAD="${SANITIZER_PRELOAD:+$SANITIZER_PRELOAD }$DGB_PRELOAD" DGRAMBATCH_DEBUG=1)
plain_env=(LD_PRELOAD="${SANITIZER_PRELOAD:-}")

need_cert

# table rows: "NAME SECONDS RESULT"
rows=()

show() {
	local before=$1 f
	[ "$fails" -gt "$before" ] || return 0
	for f in "$dir"/*.err; do
		echo "# --- $(basename "$f") ($(basename "$dir"))"
		grep -v '^Client cipher list\|^Signature Algorithms' "$f" | sed 's/^/# /' | tail -n 20
	done
}

# quic NAME BIO FAMILY SADDR: BIO module or openssl
quic() {
	local name=$1 bio=$2 sa=$4 envs port start took cstatus sstatus hex before=$fails
	if [ "$bio" = module ]; then envs=("${shim_env[@]}"); else envs=("${plain_env[@]}"); fi
	dir=$scratch/$name
	mkdir -p "$dir"
	in_server env "${envs[@]}" timeout -k 5 "$run_limit" "$QUIC_SERVER" --addr "$sa" \
		--cert "$scratch/cert.pem" --key "$scratch/key.pem" \
		>"$dir/server.out" 2>"$dir/server.err" &
	server_pid=$!
	pids+=("$server_pid")
	port=$(server_port "$wait_limit" "$dir/server.out" "$server_pid")
	if [ -z "$port" ]; then
		reap "$server_pid"
		not_ok "$name: the server did not listen on $sa: $(cat "$dir/server.err")"
		rows+=("$name - no-server")
		return
	fi
	start=$(now)
	in_client env "${envs[@]}" timeout -k 5 "$run_limit" "$QUIC_CLIENT" --addr "$sa" \
		--port "$port" --connected --ca "$scratch/cert.pem" --bytes "$bytes" \
		>"$dir/client.out" 2>"$dir/client.err"
	cstatus=$?
	took=$(elapsed "$start")
	wait_for "$wait_limit" eval '! alive "$server_pid"'
	reap "$server_pid"
	sstatus=$reaped
	netns_kill
	hex=$(awk '$1 == "OK" && $2 == "sha256" { print $3 }' "$dir/client.out")
	echo "# $name: $bytes bytes in $took s; $(grep -h 'MB/s' "$dir/client.err")"
	check "$name: client exited 0 (status $cstatus)" test "$cstatus" = 0
	check "$name: server exited 0 (status $sstatus)" test "$sstatus" = 0
	check "$name: client says OK for $bytes bytes" grep -qx "OK sha256 [0-9a-f]\{64\} $bytes" "$dir/client.out"
	check "$name: server hashed the same $bytes bytes" grep -qx "SERVED sha256 ${hex:-none} $bytes" "$dir/server.out"
	if [ "$bio" = module ]; then
		check "$name: both on the module's BIO" test "$(cat "$dir/client.out" "$dir/server.out" | grep -cx 'BIO dgrambatch')" = 2
	else
		check "$name: both on OpenSSL's BIO" test "$(cat "$dir/client.out" "$dir/server.out" | grep -cx 'BIO openssl')" = 2
	fi
	if [ "$fails" -gt "$before" ]; then rows+=("$name $took FAILED"); else rows+=("$name $took intact"); fi
	show "$before"
}

# subset GOT SENT: every line of GOT is a line of SENT, and none twice
subset() {
	[ -z "$(sort "$1" | uniq -d)" ] && [ -z "$(sort -u "$1" | comm -23 - <(sort -u "$2"))" ]
}

# dtls NAME BIO FAMILY SADDR: numbered lines both ways, one write each, 10
# ms apart; then s_client hangs up (EOF), and s_server is told too.
# Both run with -nbio: on a blocking socket, an s_client or s_server whose
# select() was woken by a stale handshake record (a duplicate, or a flight
# retransmitted after a loss) waits in SSL_read for a record that never
# comes, and when both ends do that at once neither sends again.  Seen
# here about one run in ten, on OpenSSL's own BIO as on the module's: the
# applications' wait, not the BIO's.
dtls() {
	local name=$1 bio=$2 fam=$3 sa=$4 envs port=4433 start took cstatus sstatus feeder
	local before=$fails server_in client_in got_s got_c
	if [ "$bio" = module ]; then envs=("${shim_env[@]}"); else envs=("${plain_env[@]}"); fi
	dir=$scratch/$name
	mkdir -p "$dir"
	payload c2s "$dtls_lines" >"$dir/c2s"
	payload s2c "$dtls_lines" >"$dir/s2c"
	mkfifo "$dir/server.in" "$dir/client.in"
	exec {server_in}<>"$dir/server.in" {client_in}<>"$dir/client.in"
	start=$(now)
	in_server env "${envs[@]}" timeout -k 5 "$run_limit" bash -c 'run_openssl "$@"' openssl \
		s_server -dtls -"$fam" -accept "$(hostport "$sa" "$port")" \
		-cert "$scratch/cert.pem" -key "$scratch/key.pem" -naccept 1 -brief -nbio \
		<"$dir/server.in" >"$dir/server.out" 2>"$dir/server.err" {server_in}>&- {client_in}>&- &
	server_pid=$!
	pids+=("$server_pid")
	wait_for "$wait_limit" dtls_server_up
	in_client env "${envs[@]}" timeout -k 5 "$run_limit" bash -c 'run_openssl "$@"' openssl \
		s_client -dtls -"$fam" -connect "$(hostport "$sa" "$port")" \
		-CAfile "$scratch/cert.pem" -verify_return_error -brief -nocommands -nbio \
		<"$dir/client.in" >"$dir/client.out" 2>"$dir/client.err" {server_in}>&- {client_in}>&- &
	client_pid=$!
	pids+=("$client_pid")
	# The data once both ends have finished their handshake.
	wait_for "$run_limit" eval 'grep -qs "^Protocol version" "$dir/client.err" && grep -qs "^Protocol version" "$dir/server.err" || ! alive "$client_pid"'
	exec 3<"$dir/c2s" 4<"$dir/s2c"
	while IFS= read -r c <&3 && IFS= read -r s <&4; do
		printf '%s\n' "$c" >&"$client_in"
		printf '%s\n' "$s" >&"$server_in"
		sleep 0.01
	done
	exec 3<&- 4<&-
	# What is still in flight (5 ms of delay, a few ms of jitter) lands.
	sleep 0.5
	exec {client_in}>&-
	wait_for "$wait_limit" gone "$client_pid"
	exec {server_in}>&-
	reap "$client_pid"
	cstatus=$reaped
	wait_for "$wait_limit" eval '! alive "$server_pid"'
	reap "$server_pid"
	sstatus=$reaped
	netns_kill
	took=$(elapsed "$start")
	got_s=$(wc -l <"$dir/server.out") got_c=$(wc -l <"$dir/client.out")
	echo "# $name: $took s; the server got $got_s of $dtls_lines lines, the client $got_c"
	# (s_server prints its handshake's summary only where it finished the
	# handshake before reading data: the data arriving shows it did.)
	check "$name: s_client handshake completed (DTLSv1.2)" \
		grep -q '^Protocol version: DTLSv1.2$' "$dir/client.err"
	check "$name: the lines the server got were sent, unchanged, once ($got_s)" subset "$dir/server.out" "$dir/c2s"
	check "$name: the lines the client got were sent, unchanged, once ($got_c)" subset "$dir/client.out" "$dir/s2c"
	check "$name: most lines arrived ($got_s, $got_c of $dtls_lines)" \
		test "$((2 * got_s))" -ge "$dtls_lines" -a "$((2 * got_c))" -ge "$dtls_lines"
	check "$name: s_client exited 0 (status $cstatus)" test "$cstatus" = 0
	check "$name: s_server exited 0 (status $sstatus)" test "$sstatus" = 0
	if [ "$bio" = module ]; then
		check "$name: both on the module's BIO" test "$(cat "$dir/client.err" "$dir/server.err" | grep -c 'preload shim active')" = 2
	fi
	if [ "$fails" -gt "$before" ]; then
		rows+=("$name $took FAILED")
	else
		rows+=("$name $took $got_s+$got_c/$((2 * dtls_lines))-lines")
	fi
	show "$before"
}

for fam in 4 6; do
	if [ "$fam" = 4 ]; then sa=$addr4_server; else sa=$addr6_server; fi
	quic "quic$fam-module" module "$fam" "$sa"
	quic "quic$fam-openssl" openssl "$fam" "$sa"
	dtls "dtls$fam-module" module "$fam" "$sa"
	dtls "dtls$fam-openssl" openssl "$fam" "$sa"
done

if [ "$mode" = wire ]; then
	# It ends on SIGTERM; a wire that does not is killed, and fails below.
	kill "$wire_pid" 2>/dev/null
	wait_for 10 gone "$wire_pid" || kill -9 "$wire_pid" 2>/dev/null
	reap "$wire_pid"
	check "tests/wire ended cleanly (status $reaped)" test "$reaped" = 0
	read -r -a w < <(grep '^WIRE ' "$scratch/wire.out")
	# w: WIRE frames N udp N checksummed N lost N duplicated N reordered N held N
	#    overflow N txerr N oversize N kernel_drops N
	declare -A wire=()
	for ((i = 1; i + 1 < ${#w[@]}; i += 2)); do wire[${w[i]}]=${w[i + 1]}; done
	echo "# ${w[*]}"
	for k in lost duplicated reordered; do
		check "the wire $k UDP frames (${wire[$k]:-none} of ${wire[udp]:-?})" test "${wire[$k]:-0}" -gt 0
	done
	check "the wire sent every frame it meant to (txerr ${wire[txerr]:-?}, overflow ${wire[overflow]:-?})" \
		test "${wire[txerr]:-x}" = 0 -a "${wire[overflow]:-x}" = 0
	check "no frame reached the wire larger than a link carries (oversize ${wire[oversize]:-?}: the ends' segmentation offload is off)" \
		test "${wire[oversize]:-x}" = 0
fi

echo "# $impairment"
echo "# QUIC: $bytes bytes; DTLS: $dtls_lines lines each way (handshake to close)"
printf '# %-8s %-8s %12s %12s   %s\n' transfer family module openssl "results (module / openssl)"
for kind in quic dtls; do
	for fam in 4 6; do
		m=$(printf '%s\n' "${rows[@]}" | awk -v n="$kind$fam-module" '$1 == n { print $2, $3 }')
		o=$(printf '%s\n' "${rows[@]}" | awk -v n="$kind$fam-openssl" '$1 == n { print $2, $3 }')
		printf '# %-8s %-8s %11ss %11ss   %s / %s\n' "$kind" "IPv$fam" "${m%% *}" "${o%% *}" "${m#* }" "${o#* }"
	done
done

finish
