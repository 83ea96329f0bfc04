#!/usr/bin/env bash
# quic-bench.sh - QUIC bulk throughput over OpenSSL's QUIC (3.5 and later):
# the same bytes on one stream from tests/quic_client to tests/quic_server
# (or, --download, back) over 127.0.0.1, through the module's datagram BIO
# and through OpenSSL's own, in interleaved rounds; prints each variant's
# median rate, CPU time per side and what the module did at each end, and
# the ratios.  See dgrambatch(1), QUIC BENCHMARK.
#
#   scripts/quic-bench.sh [--build DIR] [--bytes N] [--rounds N]
#                         [--variants LIST] [--pin none|split|same] [--download]
#
# The variants (both programs the same way, the same config file loaded):
#   openssl         OpenSSL's BIO_s_datagram (SSL_set_fd, BIO_new_dgram)
#   module          the module's BIO by the header route (DGB_new_dgram),
#                   as configured: GSO on the sender's socket and GRO on the
#                   receiver's where the kernel has them
#   module-gso-off  the same with gso = off in the provider's section
#   module-gro-off  the same with gro = off
#   module-plain    the same with both off: batching alone
#   shim            OpenSSL's calls, the module's BIO through the preload shim
#
# The rate is the client's: from the handshake's start until the data is
# in (the server's digest of it, or the last byte of a download), without
# the connection's close.  The ratio to openssl is the issue's measure
# (its target: module/openssl >= 1.5).
#
# --pin: none lets the scheduler place the programs; split puts the server
# and the client on a CPU each (the slower side, usually the receiver,
# sets the rate); same puts both on one CPU (the rate follows the CPU time
# the whole transfer costs).
#
# DIR is a configured and built dgrambatch build directory (default: the
# current one); the QUIC programs are made there if need be.  Inside make
# check, QUIC_SERVER, QUIC_CLIENT, DGB_MODULE, DGB_PRELOAD, DGB_TOOL and
# OPENSSL_BIN come from the environment instead.  Where the build's OpenSSL
# has no QUIC server API the script says so and exits 0.
#
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

me=quic-bench
build=
bytes=104857600
rounds=5
variants="openssl module module-gso-off module-gro-off shim"
pin=none
download=0
# Upper bounds, never reached in a working run: a stuck transfer fails
# instead of hanging.
wait_limit=20
run_limit=300

usage() {
	echo "usage: $0 [--build DIR] [--bytes N] [--rounds N] [--variants LIST]" \
		"[--pin none|split|same] [--download]" >&2
	exit 2
}

die() {
	echo "$me: $*" >&2
	exit 1
}

# whole VALUE MIN MAX: VALUE is a plain decimal number in [MIN, MAX]
whole() {
	[[ $1 =~ ^[0-9]+$ ]] && [ "${#1}" -le 15 ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

while [ $# -gt 0 ]; do
	if [ "$1" = --download ]; then
		download=1
		shift
		continue
	fi
	[ $# -ge 2 ] || usage
	case $1 in
	--build) build=$2 ;;
	--bytes) whole "$2" 1 1099511627776 || usage; bytes=$2 ;;
	--rounds) whole "$2" 1 1000 || usage; rounds=$2 ;;
	--variants) variants=${2//,/ } ;;
	--pin) pin=$2 ;;
	*) usage ;;
	esac
	shift 2
done
for v in $variants; do
	case $v in
	openssl | module | module-gso-off | module-gro-off | module-plain | shim) ;;
	*)
		echo "$me: unknown variant $v (openssl, module, module-gso-off, module-gro-off," \
			"module-plain, shim)" >&2
		usage
		;;
	esac
done
[ -n "$variants" ] || usage
case $pin in none | split | same) ;; *) usage ;; esac

# make_var NAME: a variable of the build's Makefile
make_var() {
	sed -n "s/^$1 = //p" "$build/Makefile" | head -n1
}

# Where the programs are: the environment of make check (where QUIC_SERVER
# is set, and empty when the OpenSSL the tests run with has no QUIC server,
# as in check-all.sh's cross stage under 3.0), or a build directory.
if [ -n "$build" ] || [ -z "${QUIC_SERVER+set}" ] || [ -z "${DGB_MODULE:-}" ]; then
	build=$(cd "${build:-.}" && pwd)
	if [ ! -f "$build/Makefile" ] || [ ! -x "$build/tools/dgrambatch" ]; then
		die "$build is not a built dgrambatch build directory (give --build DIR)"
	fi
	QUIC_SERVER=$build/tests/quic_server
	QUIC_CLIENT=$build/tests/quic_client
	DGB_MODULE=$build/.libs/dgrambatch.so
	DGB_PRELOAD=$build/.libs/dgrambatch-preload.so
	DGB_TOOL=$build/tools/dgrambatch
	OPENSSL_BIN=$(make_var OPENSSL_BIN)
	OPENSSL_RUN_LIBDIR=$(make_var OPENSSL_RUN_LIBDIR)
	SANITIZER_PRELOAD=$(make_var SANITIZER_PRELOAD)
	if { [ ! -x "$QUIC_SERVER" ] || [ ! -x "$QUIC_CLIENT" ]; } &&
		grep -qx "HAVE_QUIC_SERVER_TRUE=''" "$build/config.log" 2>/dev/null; then
		make -s -C "$build" tests/quic_server tests/quic_client >&2 ||
			die "cannot make the QUIC programs in $build"
	fi
fi
: "${DGB_MODULE:?}" "${DGB_PRELOAD:?}" "${DGB_TOOL:?}"

ossl=$("$DGB_TOOL" --version | sed -n 's/.*(built with \(OpenSSL [^ )]*\).*/\1/p')
if [ ! -x "$QUIC_SERVER" ] || [ ! -x "$QUIC_CLIENT" ]; then
	echo "$me: ${ossl:-this OpenSSL} has no QUIC server API (OSSL_QUIC_server_method," \
		"SSL_new_listener: OpenSSL 3.5 and later), so the QUIC programs are not built:" \
		"nothing to measure"
	exit 0
fi
command -v timeout >/dev/null || die "no timeout command"
[ -n "${OPENSSL_BIN:-}" ] || OPENSSL_BIN=$(command -v openssl) ||
	die "no openssl command for the certificate"

# The CPUs for --pin: the first two this script may run on.
srv_pin=() cli_pin=()
if [ "$pin" != none ]; then
	command -v taskset >/dev/null || die "--pin needs taskset"
	read -r -a cpus < <(taskset -cp $$ | sed 's/.*: //' | tr ',' '\n' |
		awk -F- '{ for (c = $1; c <= ($2 == "" ? $1 : $2); c++) printf "%d ", c } END { print "" }')
	[ "$pin" = same ] || [ "${#cpus[@]}" -ge 2 ] || die "--pin split needs two CPUs"
	srv_pin=(taskset -c "${cpus[0]}")
	cli_pin=(taskset -c "${cpus[$([ "$pin" = split ] && echo 1 || echo 0)]}")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dgb-quic-bench.XXXXXX")
server_pid=
# The server runs in a subshell that times it; stop what it started too.
stop_server() {
	[ -n "$server_pid" ] || return 0
	pkill -P "$server_pid" 2>/dev/null || true
	kill "$server_pid" 2>/dev/null || true
	server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

# A throwaway certificate for localhost, which the client checks.
LD_LIBRARY_PATH=${OPENSSL_RUN_LIBDIR:+$OPENSSL_RUN_LIBDIR${LD_LIBRARY_PATH:+:}}${LD_LIBRARY_PATH:-} \
	"$OPENSSL_BIN" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/key.pem" -out "$work/cert.pem" -days 1 -subj /CN=localhost \
	-addext basicConstraints=critical,CA:TRUE -addext subjectAltName=DNS:localhost \
	>"$work/req.log" 2>&1 || die "cannot make a certificate: $(cat "$work/req.log")"

# The same providers in every variant: OpenSSL's default and the module, by
# its path; only the datagram BIO differs.
module_cnf "$DGB_MODULE" >"$work/auto.cnf"
module_cnf "$DGB_MODULE" "gso = off" >"$work/gso-off.cnf"
module_cnf "$DGB_MODULE" "gro = off" >"$work/gro-off.cnf"
module_cnf "$DGB_MODULE" "gso = off
gro = off" >"$work/plain.cnf"
shim=${SANITIZER_PRELOAD:+$SANITIZER_PRELOAD }$DGB_PRELOAD

describe() {
	case $1 in
	openssl) echo "OpenSSL's BIO_s_datagram" ;;
	module) echo "module BIO (DGB_new_dgram), as configured" ;;
	module-gso-off) echo "module BIO (DGB_new_dgram), gso = off" ;;
	module-gro-off) echo "module BIO (DGB_new_dgram), gro = off" ;;
	module-plain) echo "module BIO (DGB_new_dgram), gso, gro = off" ;;
	shim) echo "module BIO through the preload shim" ;;
	esac
}

# cpu FILE: user + system seconds from a `time` report ("%U %S")
cpu() {
	awk 'NF == 2 { s = $1 + $2 } END { print s == "" ? "-" : s }' "$1"
}

# The direction: which program sends the data and which receives it.
if [ "$download" = 1 ]; then
	dir_args=(--download) sender=server receiver=client direction="server to client"
else
	dir_args=() sender=client receiver=server direction="client to server"
fi

# transfer VARIANT ROUND: one transfer; appends a line to results:
# VARIANT MB/s SECONDS TX TX_SYSCALLS GSO_SEGMENTS CLIENT_CPU SERVER_CPU
#   RX RX_SYSCALLS GRO_RECEIVES GRO_SEGMENTS GRO_CARRIED RECEIVER_GRO
# (TX... of the sender's module, RX... of the receiver's, "-" where the
# program does not report them)
transfer() {
	local v=$1 d=$work/$1.$2 envs=() args=() want=dgrambatch port='' i rate='' secs='' hex
	local status=0
	mkdir "$d"
	: >"$d/server.out"
	case $v in
	openssl) envs=(OPENSSL_CONF="$work/auto.cnf"); want=openssl ;;
	module) envs=(OPENSSL_CONF="$work/auto.cnf"); args=(--bio header) ;;
	module-gso-off) envs=(OPENSSL_CONF="$work/gso-off.cnf"); args=(--bio header) ;;
	module-gro-off) envs=(OPENSSL_CONF="$work/gro-off.cnf"); args=(--bio header) ;;
	module-plain) envs=(OPENSSL_CONF="$work/plain.cnf"); args=(--bio header) ;;
	shim) envs=(OPENSSL_CONF="$work/auto.cnf" LD_PRELOAD="$shim") ;;
	esac
	(
		TIMEFORMAT='%U %S'
		time env "${envs[@]}" "${srv_pin[@]}" timeout -k 5 "$run_limit" "$QUIC_SERVER" \
			--cert "$work/cert.pem" --key "$work/key.pem" "${args[@]}" "${dir_args[@]}" \
			>"$d/server.out" 2>"$d/server.err"
	) 2>"$d/server.time" &
	server_pid=$!
	for ((i = 0; i < wait_limit * 20; i++)); do
		port=$(awk '$1 == "PORT" { print $2; exit }' "$d/server.out")
		[ -z "$port" ] || break
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$port" ] || die "$v: the server did not listen: $(cat "$d/server.err")"
	(
		TIMEFORMAT='%U %S'
		time env "${envs[@]}" "${cli_pin[@]}" timeout -k 5 "$run_limit" "$QUIC_CLIENT" \
			--port "$port" --ca "$work/cert.pem" --bytes "$bytes" "${args[@]}" \
			"${dir_args[@]}" >"$d/client.out" 2>"$d/client.err"
	) 2>"$d/client.time" || status=$?
	[ "$status" -eq 0 ] || die "$v: the client failed: $(cat "$d/client.err")"
	wait "$server_pid" || die "$v: the server failed: $(cat "$d/server.err")"
	server_pid=
	hex=$(awk '$1 == "OK" && $2 == "sha256" { print $3 }' "$d/client.out")
	if ! grep -qx "OK sha256 [0-9a-f]\{64\} $bytes" "$d/client.out" ||
		! grep -qx "SERVED sha256 ${hex:-none} $bytes" "$d/server.out"; then
		die "$v: the receiver did not get exactly what the sender sent"
	fi
	if ! grep -qx "BIO $want" "$d/client.out" || ! grep -qx "BIO $want" "$d/server.out"; then
		die "$v: the programs did not run on $want's BIO"
	fi
	read -r secs rate < <(sed -n 's/.* bytes in \([0-9.]*\) s (\([0-9.]*\) MB\/s)$/\1 \2/p' \
		"$d/client.err") || true
	[ -n "${rate:-}" ] || die "$v: the client reported no rate"
	# The module's counters in each program, where it prints them.
	awk -v v="$v" -v rate="$rate" -v secs="$secs" -v ccpu="$(cpu "$d/client.time")" \
		-v scpu="$(cpu "$d/server.time")" -v sfile="$d/$sender.out" '
		function val(a, k) { return (k in a) && a[k] != "" ? a[k] : "-" }
		{
			who = FILENAME == sfile ? "s" : "r"
			if ($1 ~ /^COUNTERS(-DETAIL|-GSO|-GRO)?$/)
				for (i = 2; i <= NF; i++) {
					split($i, kv, "=")
					c[who, ($1 == "COUNTERS-GSO" ? "gso_" : $1 == "COUNTERS-GRO" ? "gro_" : "") kv[1]] = kv[2]
				}
			if ($1 == "GRO" && who == "r")
				gro = $2
		}
		END {
			for (k in c) { split(k, p, SUBSEP); if (p[1] == "s") s[p[2]] = c[k]; else r[p[2]] = c[k] }
			printf "%s %s %s %s %s %s %s %s %s %s %s %s %s %s\n", v, rate, secs,
				val(s, "tx"), val(s, "tx_syscalls"), val(s, "gso_segments"), ccpu, scpu,
				val(r, "rx"), val(r, "rx_syscalls"), val(r, "gro_receives"),
				val(r, "gro_segments"), val(r, "gro_carried"), gro == "" ? "-" : gro
		}' "$d/$sender.out" "$d/$receiver.out" >>"$work/results"
	printf '# round %d %-15s %8.1f MB/s  (%s s; CPU s: client %s, server %s)\n' "$2" "$v" \
		"$rate" "$secs" "$(cpu "$d/client.time")" "$(cpu "$d/server.time")"
}

read -r -a list <<<"$variants"
echo "# $me: $bytes bytes per transfer, $direction over 127.0.0.1, $ossl," \
	"$rounds rounds of ${#list[@]} variants, interleaved; CPUs: $pin" \
	"(${srv_pin[*]:-any} / ${cli_pin[*]:-any})"
: >"$work/results"
for ((r = 1; r <= rounds; r++)); do
	# Each round starts one variant later, so none always goes first.
	for ((k = 0; k < ${#list[@]}; k++)); do
		transfer "${list[$(((r - 1 + k) % ${#list[@]}))]}" "$r"
	done
done

# median VARIANT COLUMN: the median of a column of VARIANT's results
median() {
	awk -v v="$1" -v c="$2" '$1 == v && $c != "-" { print $c }' "$work/results" | sort -g |
		awk '{ x[NR] = $1 } END {
			if (NR == 0) print "-"
			else print NR % 2 ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2
		}'
}

# spread VARIANT: (max - min) / median of the rates, in per cent
spread() {
	awk -v v="$1" -v m="$(median "$1" 2)" '$1 == v {
		if (n++ == 0 || $2 < lo) lo = $2
		if (n == 1 || $2 > hi) hi = $2
	} END { printf "%.1f%%", 100 * (hi - lo) / m }' "$work/results"
}

# per_mb SECONDS: CPU milliseconds per MB moved
per_mb() {
	awk -v s="$1" -v b="$bytes" 'BEGIN { if (s == "-") print "-"; else printf "%.2f", s * 1e3 / (b / 1e6) }'
}

# sender VARIANT: what the sender's module sent, where it reports it
sender() {
	awk -v v="$1" '$1 == v && $4 != "-" { tx += $4; calls += $5; if ($6 != "-") { seg += $6; gso = 1 } }
		END {
			if (tx == 0) { print "-"; exit }
			printf "%.1f/syscall", tx / calls
			if (gso) printf ", %.0f%% GSO", 100 * seg / tx
			print ""
		}' "$work/results"
}

# receiver VARIANT: what the receiver's module received, where it reports
# it: datagrams per receiving system call (the empty polls of QUIC's
# reactor included), the share that came in coalesced trains and their
# mean length, and whether its socket had GRO on
receiver() {
	awk -v v="$1" '$1 == v && $9 != "-" { rx += $9; calls += $10; if ($12 != "-") { n += $11; seg += $12; gro = 1 }; on = $14 }
		END {
			if (rx == 0) { print "-"; exit }
			printf "%.1f/syscall", rx / calls
			if (gro) printf ", %.0f%% in trains of %.1f", 100 * seg / rx, n ? seg / n : 0
			if (on != "-") printf " (GRO %s)", on
			print ""
		}' "$work/results"
}

# ratio A B: A / B to three places
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'
}

echo
echo "CPU ms/MB: CPU time (user + system) per 10^6 bytes moved; the $sender sends, the $receiver receives"
printf '%-15s %-40s %11s %7s %8s %8s  %-26s %s\n' variant BIO "median MB/s" spread "client" "server" \
	"sender's module" "receiver's module"
for v in "${list[@]}"; do
	printf '%-15s %-40s %11.1f %7s %8s %8s  %-26s %s\n' "$v" "$(describe "$v")" "$(median "$v" 2)" \
		"$(spread "$v")" "$(per_mb "$(median "$v" 7)")" "$(per_mb "$(median "$v" 8)")" \
		"$(sender "$v")" "$(receiver "$v")"
done
echo
# Rates over OpenSSL's (and over the module with an offload off), each
# with the sender's CPU time per byte the other way round; then the
# receiver's.
if [ "$sender" = client ]; then scol=7 rcol=8; else scol=8 rcol=7; fi
pairs=()
if [[ " $variants " == *" openssl "* ]]; then
	for v in "${list[@]}"; do
		[ "$v" = openssl ] || pairs+=("$v openssl")
	done
fi
for v in module-gso-off module-gro-off module-plain; do
	[[ " $variants " != *" module "* || " $variants " != *" $v "* ]] || pairs+=("module $v")
done
recv=()
for p in "${pairs[@]}"; do
	read -r a b <<<"$p"
	echo "$a/$b $(ratio "$(median "$a" 2)" "$(median "$b" 2)")" \
		"(sender CPU per byte: $b/$a $(ratio "$(median "$b" $scol)" "$(median "$a" $scol)"))"
	recv+=("$b/$a $(ratio "$(median "$b" $rcol)" "$(median "$a" $rcol)")")
done
if [ "${#recv[@]}" -gt 0 ]; then
	echo "receiver CPU per byte: $(printf '%s, ' "${recv[@]}" | sed 's/, $//')"
fi
if [[ " $variants " == *" openssl "* && " $variants " == *" module "* ]]; then
	r=$(ratio "$(median module 2)" "$(median openssl 2)")
	echo "target: module/openssl >= 1.5: $r, $(awk -v r="$r" 'BEGIN { print (r >= 1.5 ? "met" : "not met") }')"
fi
exit 0
