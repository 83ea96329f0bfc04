#!/usr/bin/env bash
# dtls_openssl.sh - unmodified openssl s_server -dtls and s_client -dtls,
# both with the preload shim, complete a DTLS handshake over loopback and
# carry data both ways on the dgrambatch datagram BIO; with
# DGRAMBATCH_DISABLE=1 the same exchange runs on OpenSSL's own BIO.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

[ -n "${OPENSSL_BIN:-}" ] || skip "no openssl command for this OpenSSL"
command -v timeout >/dev/null || skip "no timeout command"
# The only way to see that s_server has bound its port: it prints nothing
# on stdout under -brief, and stdout must carry only the client's data.
[ -r /proc/net/udp ] || skip "no /proc/net/udp to see the server's socket"

version=$("$DGB_TOOL" --version | awk '{ print $2 }')
debug_line="dgrambatch $version: preload shim active"

# Upper bounds, never reached in a passing run: a lost datagram or a
# misbehaving BIO fails the test instead of hanging it.
wait_limit=20
run_limit=60

# start_openssl IN OUT ERR ARGS...: the openssl command in the background,
# with the shim preloaded and the variables in run_env; sets started_pid.
# This builds on run_openssl, which puts SANITIZER_PRELOAD (the ASan
# runtime, which must come first) into LD_PRELOAD with leak checks off and
# OPENSSL_RUN_LIBDIR into LD_LIBRARY_PATH: the shim rides behind the
# runtime (and without ASan, ASAN_OPTIONS is set for nothing).  timeout(1)
# needs a program, hence the exported functions and bash -c; started_pid
# is timeout's, and a signal to it reaches openssl.
export OPENSSL_BIN OPENSSL_RUN_LIBDIR="${OPENSSL_RUN_LIBDIR:-}" SANITIZER_PRELOAD="${SANITIZER_PRELOAD:-}"
export -f run_openssl _run_openssl
run_env=()
start_openssl() {
	local in=$1 out=$2 err=$3
	shift 3
	env "${run_env[@]}" SANITIZER_PRELOAD="${SANITIZER_PRELOAD:+$SANITIZER_PRELOAD }$DGB_PRELOAD" \
		timeout -k 5 "$run_limit" bash -c 'run_openssl "$@"' openssl "$@" \
		<"$in" >"$out" 2>"$err" {server_in}>&- {client_in}>&- &
	started_pid=$!
	pids+=("$started_pid")
}

# arrived FILE BYTES PID: FILE has grown to BYTES, or PID, which writes it,
# has gone and nothing more will come.
arrived() {
	[ "$(stat -c %s "$1")" -ge "$2" ] || ! alive "$3"
}

# udp_sockets FILE HEXADDR PORT: sockets bound to that address and port, as
# /proc/net/udp{,6} spell it (HEXADDR "" for any address).
udp_sockets() {
	awk -v a="$2" -v p="$(printf '%04X' "$3")" \
		'NR > 1 { split($2, l, ":"); if (l[2] == p && (a == "" || l[1] == a)) n++ } END { print n + 0 }' "$1"
}

port_in_use() {
	[ "$(udp_sockets /proc/net/udp "" "$1")" -gt 0 ] ||
		{ [ -r /proc/net/udp6 ] && [ "$(udp_sockets /proc/net/udp6 "" "$1")" -gt 0 ]; }
}

# A throwaway certificate; the client trusts exactly this one, so a
# completed handshake also shows the server presented it.
need_cert

# listening PID FILE HEXADDR PORT: PID's s_server has bound the port (or
# has exited, and never will)
listening() {
	! alive "$1" || [ "$(udp_sockets "$2" "$3" "$4")" -gt 0 ]
}

both_gone() {
	! alive "$client_pid" && ! alive "$server_pid"
}

# exchange NAME FAMILY [VAR=VALUE...]: one DTLS session between s_server and
# s_client on loopback (FAMILY 4 or 6), both with the extra environment;
# the files are left in $scratch/NAME.  Sets client_status and
# server_status; false if the server never listened.
exchange() {
	local name=$1 family=$2 dir=$scratch/$1 host hex udp try port
	local server_pid= client_pid up= patience=$wait_limit
	shift 2
	case $family in
	4) host=127.0.0.1 hex=0100007F udp=/proc/net/udp ;;
	6) host='[::1]' hex=00000000000000000000000001000000 udp=/proc/net/udp6 ;;
	esac
	run_env=("$@" DGRAMBATCH_DEBUG=1)
	mkdir "$dir"
	payload c2s 128 >"$dir/c2s"
	payload s2c 128 >"$dir/s2c"
	mkfifo "$dir/server.in" "$dir/client.in"
	client_status=none server_status=none

	# Each program's stdin stays open (this shell holds the FIFO) until its
	# turn to stop: s_server ends the session on EOF, and EOF is how
	# s_client is told to close it.  start_openssl keeps these descriptors
	# from the children, or the EOF would never come.
	exec {server_in}<>"$dir/server.in" {client_in}<>"$dir/client.in"

	# A random port below the ephemeral range, free as far as the kernel
	# shows.  s_server sets SO_REUSEADDR, so a clash would not fail its
	# bind: hence the count of sockets on the port afterwards.
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 12000))
		port_in_use "$port" && continue
		start_openssl "$dir/server.in" "$dir/server.out" "$dir/server.err" \
			s_server -dtls -"$family" -accept "$host:$port" \
			-cert "$scratch/cert.pem" -key "$scratch/key.pem" -naccept 1 -brief
		server_pid=$started_pid
		# Neither bound nor gone: another try would only hang as long.
		wait_for "$wait_limit" listening "$server_pid" "$udp" "$hex" "$port" || break
		if alive "$server_pid" && [ "$(udp_sockets "$udp" "" "$port")" -eq 1 ]; then
			up=1
			break
		fi
		reap "$server_pid"
		server_pid=
	done
	if [ -z "$up" ]; then
		[ -z "$server_pid" ] || reap "$server_pid"
		exec {server_in}>&- {client_in}>&-
		return 1
	fi
	echo "# $name: s_server on $host:$port"

	start_openssl "$dir/client.in" "$dir/client.out" "$dir/client.err" \
		s_client -dtls -"$family" -connect "$host:$port" \
		-CAfile "$scratch/cert.pem" -verify_return_error -brief -nocommands
	client_pid=$started_pid

	# One direction at a time, so that each side's output is exactly what
	# the other sent: the client speaks first, the server answers once all
	# of it has arrived, and the client hangs up once it has the answer.
	# After one step has run out of time, the rest would only wait as long.
	cat "$dir/c2s" >&"$client_in"
	wait_for "$patience" arrived "$dir/server.out" "$(stat -c %s "$dir/c2s")" "$server_pid" ||
		patience=0
	cat "$dir/s2c" >&"$server_in"
	wait_for "$patience" arrived "$dir/client.out" "$(stat -c %s "$dir/s2c")" "$client_pid" ||
		patience=0

	# s_client sends close_notify on EOF; s_server, told to take one
	# session, then exits too.
	exec {client_in}>&-
	wait_for "$patience" both_gone
	exec {server_in}>&-
	reap "$client_pid"
	client_status=$reaped
	reap "$server_pid"
	server_status=$reaped
	return 0
}

# expect_session NAME: the checks common to every exchange
expect_session() {
	local name=$1 dir=$scratch/$1 who
	for who in client server; do
		check "$name: s_$who handshake completed (DTLSv1.2)" \
			grep -q '^Protocol version: DTLSv1.2$' "$dir/$who.err"
	done
	check "$name: certificate verified by s_client" grep -q '^Verification: OK$' "$dir/client.err"
	check "$name: client's $(stat -c %s "$dir/c2s") bytes arrived at the server intact" \
		cmp -s "$dir/c2s" "$dir/server.out"
	check "$name: server's $(stat -c %s "$dir/s2c") bytes arrived at the client intact" \
		cmp -s "$dir/s2c" "$dir/client.out"
	check "$name: s_client exited 0 on its own (status $client_status)" test "$client_status" = 0
	check "$name: s_server exited 0 on its own (status $server_status)" test "$server_status" = 0
}

# expect_shim NAME COUNT: the debug line COUNT times in each program's stderr
expect_shim() {
	local name=$1 count=$2 who n
	for who in client server; do
		n=$(grep -c -F "$debug_line" "$scratch/$name/$who.err")
		if [ "$count" -gt 0 ]; then
			check "$name: s_$who ran on the dgrambatch BIO (debug line once)" test "$n" -eq "$count"
		else
			check "$name: s_$who ran on OpenSSL's own BIO (no debug line)" test "$n" -eq 0
		fi
	done
}

# show_stderr NAME FAILS: what the programs said, if checks failed since
# the count was FAILS
show_stderr() {
	local who
	[ "$fails" -gt "$2" ] || return 0
	for who in client server; do
		echo "# --- s_$who stderr ($1)"
		sed 's/^/# /' "$scratch/$1/$who.err"
	done
}

# The shim carries the session over IPv4.
before=$fails
if exchange shim4 4; then
	expect_session shim4
	expect_shim shim4 1
	show_stderr shim4 "$before"
else
	not_ok "shim4: s_server did not listen on 127.0.0.1: $(cat "$scratch/shim4/server.err")"
fi

# The control: the shim preloaded but disabled passes everything through.
before=$fails
if exchange disabled4 4 DGRAMBATCH_DISABLE=1; then
	expect_session disabled4
	expect_shim disabled4 0
	show_stderr disabled4 "$before"
else
	not_ok "disabled4: s_server did not listen on 127.0.0.1: $(cat "$scratch/disabled4/server.err")"
fi

# IPv6 loopback, where the machine has it.
if [ -r /proc/net/udp6 ] && grep -qs '^0\{31\}1 ' /proc/net/if_inet6; then
	before=$fails
	if exchange shim6 6; then
		expect_session shim6
		expect_shim shim6 1
		show_stderr shim6 "$before"
	else
		not_ok "shim6: s_server did not listen on [::1]: $(cat "$scratch/shim6/server.err")"
	fi
else
	echo "# ::1 is not configured here; the IPv6 exchange is left out"
fi

finish
