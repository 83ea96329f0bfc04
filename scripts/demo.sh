#!/usr/bin/env bash
# The main job: install the dependencies, build dgrambatch against the
# system OpenSSL, load it through an OpenSSL config file, and show what it
# is for: the same datagrams through OpenSSL's own datagram BIO and through
# the module's, with the system calls each took (counted by strace, outside
# both), UDP GSO and GRO where the kernel has them, a short throughput
# figure, and unmodified openssl s_server -dtls and s_client -dtls running
# on the module through `dgrambatch run`.
#
# DGB_DEMO_COUNT sets how many datagrams each run moves (default 10000);
# DGB_BUILD_ROOT where scripts/build.sh builds (default build/).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
bash "$top/scripts/deps.sh"

dir=$(bash "$top/scripts/build.sh" openssl-system)
tool=$dir/tools/dgrambatch
count=${DGB_DEMO_COUNT:-10000}
size=1200

work=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

cnf=$dir/demo-openssl.cnf
module_cnf "$dir/.libs/dgrambatch.so" >"$cnf"

section() {
	echo
	echo "== $1"
	shift
	local line
	for line in "$@"; do
		echo "   $line"
	done
	echo
}

section "What OpenSSL loads: openssl list -providers (OPENSSL_CONF=$cnf)"
OPENSSL_CONF=$cnf openssl list -providers

section "What this build, OpenSSL and kernel can do: dgrambatch probe"
OPENSSL_CONF=$cnf "$tool" probe | tee "$work/probe"

section "The module through the config file: dgrambatch demo --only basic" \
	"A drop-in: the module's BIO moves $count datagrams one BIO_write and one BIO_read at a time," \
	"as OpenSSL's does, and counts what it moved."
"$tool" demo --config "$cnf" --count "$count" --size "$size" --only basic | grep -v '^demo: ok$'

# strace_run PART: `dgrambatch demo --only PART` in a process of its own,
# under strace -c when it works here, which counts every socket system call
# (strace's %network class) the process makes, start-up included.
strace_ok=
if command -v strace >/dev/null && strace -f -c -o /dev/null true 2>/dev/null; then
	strace_ok=1
fi
strace_run() {
	local part=$1
	if [ -n "$strace_ok" ]; then
		strace -f -c -S calls -U calls,errors,name -e trace=%network -o "$work/$part.strace" \
			"$tool" demo --config "$cnf" --count "$count" --size "$size" --only "$part" \
			>"$work/$part.out"
	else
		"$tool" demo --config "$cnf" --count "$count" --size "$size" --only "$part" \
			>"$work/$part.out"
	fi
	grep -v '^demo: ok$' "$work/$part.out"
	strace_summary "$part"
}

# The calls that move datagrams; every other socket call sets a socket up or asks about it.
io_calls=" sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg "
strace_summary() {
	local part=$1 failed other list
	io[$part]=- all[$part]=-
	intact[$part]=$(sed -n 's/^  checked *\([0-9]*\) of [0-9]* intact.*/\1/p' "$work/$part.out")
	[ -n "$strace_ok" ] || return 0
	# strace -U calls,errors,name: "calls [errors] name" rows between the rules;
	# failed is "count names" of the calls that move datagrams but failed.
	IFS=";" read -r "io[$part]" "all[$part]" other failed list < <(awk -v io="$io_calls" '
		/^-/ { rule++; next }
		rule == 1 && NF >= 2 {
			calls = $1; errors = NF == 3 ? $2 : 0; name = $NF
			all += calls
			if (!index(io, " " name " ")) {
				other += calls
				next
			}
			moved += calls - errors
			list = list (list == "" ? "" : ", ") name " " calls - errors
			if (errors > 0) {
				failed += errors
				fnames = fnames " " name ":" errors
			}
		}
		END { printf "%d;%d;%d;%d%s;%s\n", moved, all, other, failed, fnames, list }' \
		"$work/$part.strace")
	printf '  strace -f -c  %s socket system calls in all: %s' "${all[$part]}" "$list"
	if [ "$failed" != 0 ]; then
		printf ', %s that failed' "${failed%% *}"
		# The module learns once whether the kernel has them, calling each on no socket.
		case ${failed#* } in
		"sendmmsg:1 recvmmsg:1" | "recvmmsg:1 sendmmsg:1")
			printf ' (the module asking once whether the kernel has sendmmsg and recvmmsg)' ;;
		esac
	fi
	printf ', %s to set the sockets up and ask about them\n' "$other"
}
declare -A io all intact

if [ -n "$strace_ok" ]; then
	counted=("checks every one on arrival. strace -f -c counts every socket system call of the process from"
		"outside, so neither BIO has a say; dgrambatch's own counters must agree on what it sent.")
else
	counted=("checks every one on arrival. strace cannot run here (missing, or ptrace not allowed), so the"
		"system calls are dgrambatch's own counts, and OpenSSL's go uncounted.")
fi
section "1. Batched I/O: $count datagrams of $size bytes, OpenSSL's BIO and dgrambatch's" \
	"Each run sends the same datagrams from one loopback socket to another in its own process and" \
	"${counted[@]}"
strace_run openssl
echo
strace_run batched

section "2. UDP GSO and GRO: the same datagrams, segmented on send and coalesced on receive" \
	"Where the kernel has UDP_SEGMENT, a run of same-sized datagrams to one peer leaves in one" \
	"segmented send; with UDP_GRO the receiver gets such a train in one go, and the module splits it."
gso_usable=$(awk '$1 == "udp_segment" { print $3 }' "$work/probe")
gro_usable=$(awk '$1 == "udp_gro" { print $3 }' "$work/probe")
[ "$gso_usable" = yes ] || echo "   (dgrambatch probe: this kernel cannot segment sends; the run shows why)"
[ "$gro_usable" = yes ] || echo "   (dgrambatch probe: this kernel cannot coalesce receives; the run shows why)"
strace_run offload

section "3. Throughput: OpenSSL's BIO against dgrambatch's, side by side" \
	"Batching saves system calls, not the kernel's work for each datagram, which is most of the cost" \
	"over loopback; GSO and GRO cut that work. On loopback a segmented send reaches the receiver" \
	"whole, so GSO and GRO gain more here than across a real network, where the NIC or the stack" \
	"splits and merges trains. One short run on a shared machine: the figures vary."
"$tool" demo --config "$cnf" --size "$size" --only speed >"$work/speed.out"
grep -v '^demo: ok$' "$work/speed.out"

section "4. DTLS: unmodified openssl s_server -dtls and s_client -dtls under 'dgrambatch run --stats'" \
	"dgrambatch run preloads the shim, so both programs get the module's BIO from BIO_s_datagram;" \
	"--stats makes each print the module's counters when it exits. DTLS writes one record at a time," \
	"so they show a datagram a call: the point here is the drop-in. Each step waits for the one before:" \
	"the client for the port the kernel gave the server, each answer for the line before it."
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
mkfifo "$work/srv_in" "$work/cli_in"
# This shell holds each program's stdin open until its turn to stop:
# s_server ends on EOF, and EOF is how s_client is told to close.
exec {srv_in}<>"$work/srv_in" {cli_in}<>"$work/cli_in"

# Port 0: the kernel picks a free port, and s_server prints it (ACCEPT host:port).
DGRAMBATCH_DEBUG=1 timeout 30 "$tool" run --stats -- openssl s_server -dtls -naccept 1 \
	-accept 127.0.0.1:0 -cert "$work/cert.pem" -key "$work/key.pem" \
	<"$work/srv_in" >"$work/srv_out" 2>"$work/srv_err" {srv_in}>&- {cli_in}>&- &
server=$!
pids+=("$server")
alive() { kill -0 "$1" 2>/dev/null; }
has() { grep -aq "$1" "$2"; }
listening() { has '^ACCEPT ' "$work/srv_out" || ! alive "$server"; }
wait_for 10 listening || true
port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/srv_out" | head -n1)
dtls_ok=1
if [ -z "$port" ]; then
	echo "  s_server did not report its port"
	dtls_ok=
else
	echo "  s_server listens on 127.0.0.1:$port"
	DGRAMBATCH_DEBUG=1 timeout 30 "$tool" run --stats -- openssl s_client -dtls -brief -nocommands \
		-connect "127.0.0.1:$port" -CAfile "$work/cert.pem" -verify_return_error \
		<"$work/cli_in" >"$work/cli_out" 2>"$work/cli_err" {srv_in}>&- {cli_in}>&- &
	client=$!
	pids+=("$client")
	arrived() { has "$1" "$2" || ! alive "$3"; }
	# The client speaks first; the server answers once the line is in;
	# the client hangs up once it has the answer, and s_server, told to
	# take one session, then exits too.
	echo "hello from s_client" >&"$cli_in"
	wait_for 15 arrived 'hello from s_client' "$work/srv_out" "$server" || true
	echo "hello from s_server" >&"$srv_in"
	wait_for 15 arrived 'hello from s_server' "$work/cli_out" "$client" || true
	exec {cli_in}>&-
	both_gone() { ! alive "$client" && ! alive "$server"; }
	wait_for 15 both_gone || true
	client_status=0
	wait "$client" || client_status=$?
fi
{ exec {srv_in}>&- {cli_in}>&-; } 2>/dev/null || true
server_status=0
wait "$server" || server_status=$?
echo "  s_server exited with status $server_status, s_client with ${client_status:-none}"

show() {
	local who=$1 err=$2 out=$3 want=$4
	echo "  $who received: $(grep -a -m1 "$want" "$out" || echo nothing)"
	echo "  $who stderr, dgrambatch's lines:"
	awk '/^dgrambatch [^ ]*: preload shim active/ { print; next }
		/^dgrambatch [^ ]*: stats of / { block = 1; print; next }
		block && /^  / { print; next }
		{ block = 0 }' "$err" | sed 's/^/    /'
}
show s_server "$work/srv_err" "$work/srv_out" 'hello from s_client'
show s_client "$work/cli_err" "$work/cli_out" 'hello from s_server'
if [ -n "$dtls_ok" ] && has 'hello from s_client' "$work/srv_out" &&
	has 'hello from s_server' "$work/cli_out" &&
	has 'preload shim active' "$work/srv_err" && has 'preload shim active' "$work/cli_err" &&
	has 'stats of openssl\[[0-9]*\]$' "$work/srv_err" && has 'stats of openssl\[[0-9]*\]$' "$work/cli_err" &&
	[ "$server_status" = 0 ] && [ "${client_status:-}" = 0 ]; then
	dtls="dtls: ok (both programs ran on the dgrambatch BIO)"
else
	echo "dtls: FAILED"
	cat "$work/srv_out" "$work/srv_err" "$work/cli_out" "$work/cli_err" 2>/dev/null
	exit 1
fi

# The summary: the system calls each run took, by strace where it ran,
# else by the module's own counters.
calls_of() {
	local n
	if [ "${all[$1]}" != - ]; then
		echo "${io[$1]} ${all[$1]}"
	else
		n=$(sed -n 's/^  system calls  \([0-9]*\) by the module.*/\1/p' "$work/$1.out")
		echo "${n:--} -"
	fi
}
times_of() {
	sed -n "$1s/.* \([0-9.]*\) times openssl.*/\1/p" "$work/speed.out"
}
how="by strace -f -c"
[ -n "$strace_ok" ] || how="by the module's counters (strace did not run here)"
section "Summary: dgrambatch $("$tool" --version | awk '{ print $2 }') on $(openssl version | awk '{ print $1, $2 }'), Linux $(uname -r)"
printf '  %-34s %8s %20s %18s\n' "$count datagrams of $size bytes" intact "send/receive calls" "all socket calls"
for part in openssl batched offload; do
	case $part in
	openssl) what="OpenSSL's BIO_s_datagram" ;;
	batched) what="dgrambatch, batched" ;;
	offload) what="dgrambatch, batched, GSO and GRO" ;;
	esac
	read -r moved every < <(calls_of "$part")
	printf '  %-34s %8s %20s %18s\n' "$what" "${intact[$part]:--}" "$moved" "$every"
done
echo "  system calls $how; each datagram is sent and received once"
read -r ossl_moved _ < <(calls_of openssl)
read -r mod_moved _ < <(calls_of batched)
if [[ $ossl_moved =~ ^[0-9]+$ && $mod_moved =~ ^[0-9]+$ && $mod_moved -gt 0 ]]; then
	echo "  dgrambatch sent and received them in $mod_moved system calls where OpenSSL's BIO took" \
		"$ossl_moved ($(awk -v a="$ossl_moved" -v b="$mod_moved" 'BEGIN { printf "%.0f", a / b }') times fewer)"
fi
# offload_line GSO|GRO VERB NOUN: what the offload part said of it, in brief
offload_line() {
	sed -n -e "s/^  $1  *\([0-9]*\) of [0-9]* datagrams $2 \([0-9]*\) $3s\{0,1\} .*/\1 datagrams in \2 $3s/p" \
		-e "s/^  $1  *not in use: \(.*\)/not in use (\1)/p" \
		-e "s/^  $1  *\(on, but .*\)/\1/p" "$work/offload.out"
}
echo "  GSO: $(offload_line GSO 'left in' 'segmented send');" \
	"GRO: $(offload_line GRO 'arrived in' 'coalesced receive')"
echo "  throughput, one short run: dgrambatch batched $(times_of '/^  dgrambatch  [BD]/') times" \
	"OpenSSL's BIO, with GSO and GRO $(times_of '/^  dgrambatch  the same/') times"
echo "$dtls"
