#!/usr/bin/env bash
# soak.sh - QUIC bulk transfers (tests/quic_server and tests/quic_client
# over 127.0.0.1, OpenSSL 3.5) through the dgrambatch module while the
# test-only fault interposer (tests/fault.c, DGB_FAULTLIB, preloaded into
# both programs, first in LD_PRELOAD) fails about 1% of their socket calls
# at random:
#   send calls     EAGAIN, EINTR, ENOBUFS, or short (a sendmmsg that sends
#                  fewer entries than asked);
#   GSO entries    EIO or EINVAL (segmented sends: the module sends the run
#                  again one datagram at a time and turns GSO off for the
#                  socket);
#   receive calls  EAGAIN, EINTR, or short (a recvmmsg that takes fewer).
# Rounds of two transfers, an upload (the client sends) and a download
# (--download: the server sends), through the header route (--bio header,
# the provider from a config file) with GRO on the receiver where the
# kernel has it, and one upload through the preload shim.  Each must come
# through intact (SHA-256, checked by the programs), and the module's
# counters must agree with what the interposer saw and injected (its
# counts, written at exit to DGB_FAULT_COUNTS), per program:
#   tx datagrams   = datagrams the kernel took + the segments of GSO
#                    entries failed with ENOBUFS (the module counts such a
#                    run sent and lost: see dgrambatch(7))
#   tx bytes       = the same in bytes
#   tx syscalls    = send calls the interposer saw
#   GSO sends      = GSO entries the kernel took + those failed with ENOBUFS
#   GSO segments   = their datagrams
#   GSO fallbacks  = refused GSO first entries (EIO, EINVAL) whose resend,
#                    one datagram per entry in the next call, went out;
#                    and every refusal was followed by that resend
# and between the two: what one side's module received is at most what
# the other's kernel took, and the difference (datagrams lost) at most
# what the receiving kernel dropped for a full buffer (SO_RXQ_OVFL) and a
# few left unread at exit.  Over the
# whole soak every kind of fault must have been injected at least once.
#
# DGB_ROBUST_SECONDS (default 8) bounds the time the rounds may start in;
# DGB_SOAK_RATE (0.01), DGB_SOAK_SEED (the first round's seed, 1000; each
# transfer's two programs take the next two) and DGB_SOAK_BYTES (20 MB per
# transfer) change the rest.  A failing transfer prints its seeds: the
# same draws, which fall on the same calls where the programs make the
# same calls in the same order (timing changes that).
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

if [ ! -x "${QUIC_SERVER:-}" ] || [ ! -x "${QUIC_CLIENT:-}" ]; then
	skip "no QUIC server in this OpenSSL (OSSL_QUIC_server_method, SSL_new_listener:" \
		"3.5 and later); the QUIC test programs are not built"
fi
[ -n "${OPENSSL_BIN:-}" ] || skip "no openssl command for this OpenSSL (for the certificate)"
[ -n "${DGB_FAULTLIB:-}" ] && [ -f "$DGB_FAULTLIB" ] ||
	skip "no fault interposer (DGB_FAULTLIB: tests/.libs/libdgbfault.so)"
command -v timeout >/dev/null || skip "no timeout command"

seconds=${DGB_ROBUST_SECONDS:-8}
rate=${DGB_SOAK_RATE:-0.01}
seed=${DGB_SOAK_SEED:-1000}
bytes=${DGB_SOAK_BYTES:-20000000}
# Bounds never reached in a passing run (a transfer takes well under a
# second, a few under a sanitizer): a hang fails instead of hanging.
wait_limit=20
run_limit=60
# Datagrams a program may leave unread when it exits: the last of the
# peer's closing ones (none has been seen so far).
unread_bound=8
kinds_send="EAGAIN EINTR ENOBUFS short"
kinds_gso="EIO EINVAL"
kinds_recv="EAGAIN EINTR short"
plan_tail="rate=$rate,errs=${kinds_send// /+},gso=${kinds_gso// /+},recv=${kinds_recv// /+}"

echo "# soak: ${seconds}s of rounds, $bytes bytes a transfer, fault rate $rate, first seed $seed"

if "$DGB_TOOL" probe | grep -Eq '^udp_gro +yes +yes' &&
	"$DGB_TOOL" probe | grep -Eq '^udp_segment +yes +yes'; then
	have_offload=1
else
	have_offload=0
	echo "# no UDP GSO or GRO in this kernel: no GSO faults, no coalesced receives"
	kinds_gso=
fi

need_cert
write_cnf "$scratch/dgrambatch.cnf"
mkdir "$scratch/no-modules"
header_env=(OPENSSL_CONF="$scratch/dgrambatch.cnf" OPENSSL_MODULES="$scratch/no-modules")

preload() {
	echo "${SANITIZER_PRELOAD:+$SANITIZER_PRELOAD }$DGB_FAULTLIB${1:+ $1}"
}

# counter FILE KEY LINE: KEY=... in the program's line LINE (COUNTERS,
# COUNTERS-DETAIL, COUNTERS-GSO, COUNTERS-GRO; FAULTS: the interposer's), or -1
counter() {
	awk -v k="$2=" -v line="$3" '$1 == line {
		for (i = 2; i <= NF; i++)
			if (index($i, k) == 1 && substr($i, length(k) + 1) ~ /^[0-9]+$/)
				v = substr($i, length(k) + 1)
	} END { print v == "" ? -1 : v }' "$1"
}

# The totals over the soak, by name.
declare -A total
add() {
	total[$1]=$((${total[$1]:-0} + $2))
}

# transfer NAME SEED ROUTE [--download]: one transfer, both programs under
# the random plan (seeds SEED and SEED+1); ROUTE is header or shim.
# Sets client_status and server_status; false if the server never listened.
transfer() {
	local name=$1 s=$2 route=$3 dl=${4:-} envs sbio=() cbio=() extra=
	dir=$scratch/$name
	mkdir -p "$dir"
	if [ "$route" = header ]; then
		envs=("${header_env[@]}")
		sbio=(--bio header)
		cbio=(--bio header --connected)
	else
		envs=(DGRAMBATCH_DEBUG=1 DGRAMBATCH_STATS=1)
		extra=$DGB_PRELOAD
	fi
	client_status=none server_status=none
	timeout -k 5 "$run_limit" env "${envs[@]}" LD_PRELOAD="$(preload "$extra")" \
		DGB_FAULTS="random:seed=$s,$plan_tail" DGB_FAULT_COUNTS="$dir/server.faults" \
		"$QUIC_SERVER" --cert "$scratch/cert.pem" --key "$scratch/key.pem" "${sbio[@]}" $dl \
		>"$dir/server.out" 2>"$dir/server.err" &
	server_pid=$!
	pids+=("$server_pid")
	port=$(server_port "$wait_limit" "$dir/server.out" "$server_pid")
	if [ -z "$port" ]; then
		reap "$server_pid"
		return 1
	fi
	timeout -k 5 "$run_limit" env "${envs[@]}" LD_PRELOAD="$(preload "$extra")" \
		DGB_FAULTS="random:seed=$((s + 1)),$plan_tail" DGB_FAULT_COUNTS="$dir/client.faults" \
		"$QUIC_CLIENT" --port "$port" --ca "$scratch/cert.pem" --bytes "$bytes" \
		"${cbio[@]}" $dl >"$dir/client.out" 2>"$dir/client.err"
	client_status=$?
	wait_for "$wait_limit" gone "$server_pid"
	reap "$server_pid"
	server_status=$reaped
	return 0
}

# shim_counters FILE: the shim's counters (DGRAMBATCH_STATS=1, on stderr)
# in FILE, as the lines the programs print for the header route
shim_counters() {
	awk '$1 == "sent" { tx = $2; txb = $4; txs = $7 }
	$1 == "received" { rx = $2; rxb = $4; rxs = $7 }
	$1 == "GSO" { gs = $2; gg = $6; gf = $10 }
	$1 == "errors" { drops = $6; for (i = 2; i <= NF; i++) if ($i == "receives") tr = $(i - 1) }
	END {
		print "COUNTERS tx=" tx " rx=" rx
		print "COUNTERS-DETAIL tx_bytes=" txb " rx_bytes=" rxb " tx_syscalls=" txs " rx_syscalls=" rxs
		print "COUNTERS-GSO sends=" gs " segments=" gg " fallbacks=" gf
		print "COUNTERS-GRO kernel_drops=" drops " truncated=" tr
	}' "$1"
}

# expect_intact NAME: both exited 0, the client's hash of what it sent or
# received is the server's
expect_intact() {
	local dir=$scratch/$1 hex
	hex=$(awk '$1 == "OK" && $2 == "sha256" { print $3 }' "$dir/client.out")
	check "$1: both exited 0 (client $client_status, server $server_status)" \
		test "$client_status" = 0 -a "$server_status" = 0
	check "$1: $bytes bytes intact (SHA-256 ${hex:0:16}... on both sides)" \
		grep -qx "SERVED sha256 ${hex:-none} $bytes" "$dir/server.out"
}

# expect_counts NAME WHO PEER: WHO's module's counters against the
# interposer's counts in WHO, and what PEER's module received
expect_counts() {
	local n=$1 f=$scratch/$1/$2.out q=$scratch/$1/$2.faults p=$scratch/$1/$3.out pq=$scratch/$1/$3.faults
	local tx txb txs gs gg gf sent bsent calls gsent gsegs eno enosegs enobytes refused resent failed
	local prx prxb drops lost k v fired line
	check "$n: $2 wrote the interposer's counts once" test "$(grep -c '^FAULTS ' "$q" 2>/dev/null)" = 1
	tx=$(counter "$f" tx COUNTERS) txb=$(counter "$f" tx_bytes COUNTERS-DETAIL)
	txs=$(counter "$f" tx_syscalls COUNTERS-DETAIL)
	gs=$(counter "$f" sends COUNTERS-GSO) gg=$(counter "$f" segments COUNTERS-GSO)
	gf=$(counter "$f" fallbacks COUNTERS-GSO)
	sent=$(counter "$q" datagrams-sent FAULTS) bsent=$(counter "$q" bytes-sent FAULTS)
	calls=$(counter "$q" calls FAULTS)
	gsent=$(counter "$q" gso-sent FAULTS) gsegs=$(counter "$q" gso-segments FAULTS)
	eno=$(counter "$q" gso-enobufs FAULTS) enosegs=$(counter "$q" gso-enobufs-segments FAULTS)
	enobytes=$(counter "$q" gso-enobufs-bytes FAULTS)
	refused=$(counter "$q" gso-first-refused FAULTS) resent=$(counter "$q" gso-resent FAULTS)
	failed=$(counter "$q" gso-resend-failed FAULTS)
	fired=$(counter "$q" random-fired FAULTS)
	prx=$(counter "$p" rx COUNTERS) prxb=$(counter "$p" rx_bytes COUNTERS-DETAIL)
	drops=$(counter "$p" kernel_drops COUNTERS-GRO)
	lost=$((sent - prx))
	line="$2: tx=$tx (sent $sent + ENOBUFS'd GSO $enosegs) syscalls=$txs/$calls"
	line+=" GSO sends=$gs segments=$gg fallbacks=$gf (refused $refused, resent $resent, resend failed $failed);"
	line+=" faults $fired:"
	for k in $kinds_send; do
		v=$(counter "$q" "inj-send-$k" FAULTS)
		line+=" send-$k=$v"
		add "send-$k" "$v"
	done
	for k in $kinds_gso; do
		v=$(counter "$q" "inj-gso-$k" FAULTS)
		line+=" gso-$k=$v"
		add "gso-$k" "$v"
	done
	for k in $kinds_recv; do
		v=$(counter "$q" "inj-recv-$k" FAULTS)
		line+=" recv-$k=$v"
		add "recv-$k" "$v"
	done
	echo "# $n: $line; $3 rx=$prx (lost $lost, kernel drops $drops)"
	add fallbacks "$gf"
	add enobufs "$enosegs"
	add refused "$refused"
	add lost "$lost"
	add datagrams "$sent"
	check "$n: $2's tx = datagrams sent + ENOBUFS'd GSO segments ($tx = $sent + $enosegs)" \
		test "$tx" -ge 0 -a "$tx" = "$((sent + enosegs))"
	check "$n: $2's tx bytes = bytes sent + ENOBUFS'd GSO bytes ($txb = $bsent + $enobytes)" \
		test "$txb" -ge 0 -a "$txb" = "$((bsent + enobytes))"
	check "$n: $2's tx syscalls = send calls seen ($txs = $calls)" test "$txs" -ge 0 -a "$txs" = "$calls"
	check "$n: $2's GSO sends = GSO entries sent + ENOBUFS'd ($gs = $gsent + $eno)" \
		test "$gs" -ge 0 -a "$gs" = "$((gsent + eno))"
	check "$n: $2's GSO segments = theirs ($gg = $gsegs + $enosegs)" \
		test "$gg" -ge 0 -a "$gg" = "$((gsegs + enosegs))"
	check "$n: $2's GSO fallbacks = refused GSO sends resent ($gf = $resent)" \
		test "$gf" -ge 0 -a "$gf" = "$resent"
	check "$n: $2 resent every refused GSO send at once ($refused = $resent + $failed)" \
		test "$refused" -ge 0 -a "$refused" = "$((resent + failed))"
	check "$n: $3 received no more than $2 sent ($prx <= $sent, bytes $prxb <= $bsent)" \
		test "$prx" -ge 0 -a "$prx" -le "$sent" -a "$prxb" -le "$bsent"
	check "$n: what $3 did not receive, the kernel dropped or was left at exit ($lost <= $drops + $unread_bound)" \
		test "$lost" -le "$((drops + unread_bound))"
	check "$n: $3's module cut no receive short ($(counter "$p" truncated COUNTERS-GRO))" \
		test "$(counter "$p" truncated COUNTERS-GRO)" = 0
}

round=0
transfers=0
start=$SECONDS
while [ "$round" -eq 0 ] || [ $((SECONDS - start)) -lt "$seconds" ]; do
	for dl in "" --download; do
		name=r$round${dl:+-download}
		s=$((seed + 2 * transfers))
		before=$fails
		if transfer "$name" "$s" header $dl; then
			echo "# $name: seeds $s (server), $((s + 1)) (client)"
			expect_intact "$name"
			check "$name: both BIOs are the module's" \
				test "$(cat "$dir/client.out" "$dir/server.out" | grep -cx 'BIO dgrambatch')" = 2
			if [ "$have_offload" = 1 ]; then
				receiver=server
				[ -z "$dl" ] || receiver=client
				check "$name: the receiver ($receiver) had GRO on" \
					grep -qx "GRO on" "$dir/$receiver.out"
			fi
			expect_counts "$name" client server
			expect_counts "$name" server client
		else
			not_ok "$name: the server did not listen (seed $s): $(cat "$dir/server.err")"
		fi
		transfers=$((transfers + 1))
		if [ "$fails" -gt "$before" ]; then
			for who in client server; do
				for f in out err faults; do
					echo "# --- $who.$f ($name)"
					sed 's/^/# /' "$dir/$who.$f" 2>/dev/null | tail -40
				done
			done
		fi
		rm -rf "$dir"
	done
	round=$((round + 1))
done

# The preload shim, once: the same faults under libssl's own SSL_set_fd.
name=shim
s=$((seed + 2 * transfers))
if transfer "$name" "$s" shim; then
	echo "# $name: seeds $s (server), $((s + 1)) (client)"
	expect_intact "$name"
	for who in client server; do
		check "$name: $who ran with the shim and faults ($(counter "$dir/$who.faults" random-fired FAULTS) injected)" \
			grep -q 'preload shim active' "$dir/$who.err"
		check "$name: $who's datagram BIO is the module's" grep -qx 'BIO dgrambatch' "$dir/$who.out"
		shim_counters "$dir/$who.err" >>"$dir/$who.out"
	done
	expect_counts "$name" client server
	expect_counts "$name" server client
else
	not_ok "$name: the server did not listen (seed $s): $(cat "$dir/server.err")"
fi
transfers=$((transfers + 1))

summary="$transfers transfers of $bytes bytes in $((SECONDS - start)) s; datagrams sent ${total[datagrams]:-0},"
summary+=" lost ${total[lost]:-0}, counted sent but failed with ENOBUFS ${total[enobufs]:-0}; GSO refusals ${total[refused]:-0}, fallbacks ${total[fallbacks]:-0}; injected:"
for k in $kinds_send; do summary+=" send-$k=${total[send-$k]:-0}"; done
for k in $kinds_gso; do summary+=" gso-$k=${total[gso-$k]:-0}"; done
for k in $kinds_recv; do summary+=" recv-$k=${total[recv-$k]:-0}"; done
echo "# soak: $summary"
for k in $kinds_send; do
	check "soak: send calls got $k (${total[send-$k]:-0})" test "${total[send-$k]:-0}" -gt 0
done
for k in $kinds_gso; do
	check "soak: GSO sends got $k (${total[gso-$k]:-0})" test "${total[gso-$k]:-0}" -gt 0
done
for k in $kinds_recv; do
	check "soak: receive calls got $k (${total[recv-$k]:-0})" test "${total[recv-$k]:-0}" -gt 0
done
finish
