#!/usr/bin/env bash
# demo.sh - `dgrambatch demo`, part by part: every datagram arrives intact
# through OpenSSL's BIO and the module's, the module's counters agree with
# what it moved, its batched calls take fewer system calls than datagrams
# (by its own counters and, where strace runs here, counted from outside
# the process), GSO and GRO are used where the kernel has them and
# explained where not, and the throughput part reports its rows.  Never
# the throughput figures.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

write_cnf "$scratch/openssl.cnf"
count=3000
size=1200
bytes=$((count * size))

# demo OUT [VAR=VALUE...] [-- ARGS...]: the demo with those variables, its
# output and errors in OUT; the exit status in $status
demo() {
	local out=$1 envs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	[ $# -eq 0 ] || shift
	timeout 120 env "${envs[@]}" "$DGB_TOOL" demo --config "$scratch/openssl.cnf" \
		--count "$count" --size "$size" "$@" >"$out" 2>&1
	status=$?
}

# part TITLE FILE: the lines of the part whose first line starts with TITLE
part() {
	awk -v t="$1" 'index($0, t) == 1 { on = 1 } on && /^$/ { exit } on' "$2"
}

# has TEXT REGEX...: every extended regular expression matches a line of TEXT
has() {
	local text=$1 re
	shift
	for re in "$@"; do
		grep -qE "$re" <<<"$text" || return 1
	done
}

# field PATTERN TEXT: the first group of a sed pattern in TEXT
field() {
	sed -n "s/$1/\\1/p" <<<"$2" | head -n1
}

"$DGB_TOOL" probe >"$scratch/probe"
native=$(grep -q '^native BIO_sendmmsg: *yes' "$scratch/probe" && echo yes || echo no)
if [ "$native" = yes ]; then
	mod_send=BIO_sendmmsg mod_recv=BIO_recvmmsg
	ossl_send=BIO_sendmmsg ossl_recv=BIO_recvmmsg
else
	mod_send=DGB_sendmmsg mod_recv=DGB_recvmmsg
	ossl_send=BIO_write ossl_recv=BIO_read
fi
usable() {
	grep -qE "^$1 +yes +yes$" "$scratch/probe"
}

# The whole demonstration.
demo "$scratch/all"
check "demo: exit 0" test "$status" -eq 0
check "demo: ends with demo: ok" test "$(tail -n1 "$scratch/all")" = "demo: ok"
[ "$status" -eq 0 ] || sed 's/^/# /' "$scratch/all"

basic=$(part "dgrambatch demo (OpenSSL " "$scratch/all")
check "basic: one system call per BIO_write and BIO_read, by the module's counters" \
	grep -qx "  module counts tx $count datagrams, $bytes bytes, $count syscalls; rx $count datagrams, $bytes bytes, $count syscalls" <<<"$basic"
check "basic: each datagram intact" \
	grep -qx "  received      $count datagrams with BIO_read, each intact and in order" <<<"$basic"

# intact TEXT NAME: the part's check line says every datagram arrived intact
intact() {
	check "$2: $count of $count intact and in order, $bytes bytes compared" \
		grep -qx "  checked       $count of $count intact and in order, $bytes bytes compared" <<<"$1"
}

ossl=$(part "batched I/O, OpenSSL's own BIO: " "$scratch/all")
check "openssl: part shown" test -n "$ossl"
intact "$ossl" openssl
check "openssl: sent with $ossl_send" \
	grep -qE "^  sent          $count datagrams of $size bytes with [0-9]+ $ossl_send calls?$" <<<"$ossl"
check "openssl: received with $ossl_recv" \
	grep -qE "^  received      $count datagrams with [0-9]+ $ossl_recv calls?$" <<<"$ossl"
if [ "$native" = no ]; then
	check "openssl: one BIO_write and one BIO_read per datagram" \
		has "$ossl" " with $count BIO_write calls\$" " with $count BIO_read calls\$"
fi

# module_calls TEXT: "total send receive", the module's system calls
module_calls() {
	field '^  system calls  \([0-9]* by the module.s counters ([0-9]* to send, [0-9]*\) to receive.*' "$1" |
		sed 's/ by the module.s counters (/ /; s/ to send, / /'
}

batched=$(part "batched I/O, dgrambatch's BIO: " "$scratch/all")
check "batched: part shown" test -n "$batched"
intact "$batched" batched
check "batched: $mod_send and $mod_recv" \
	has "$batched" "^  sent +$count datagrams of $size bytes with [0-9]+ $mod_send calls?\$" \
	"^  received +$count datagrams with [0-9]+ $mod_recv calls?\$"
read -r total tx rx < <(module_calls "$batched")
check "batched: the module's system calls ($total) add up ($tx + $rx)" \
	test -n "$total" -a "$total" = "$((tx + rx))"
check "batched: fewer system calls than datagrams each way ($tx, $rx < $count)" \
	test "${tx:-$count}" -lt "$count" -a "${rx:-$count}" -lt "$count"

offload=$(part "GSO and GRO, dgrambatch's BIO: " "$scratch/all")
check "offload: part shown, with the settings" grep -q 'gso = auto, gro = auto$' <<<"$offload"
intact "$offload" offload
read -r total tx rx < <(module_calls "$offload")
check "offload: fewer system calls than datagrams each way ($tx, $rx < $count)" \
	test "${tx:-$count}" -lt "$count" -a "${rx:-$count}" -lt "$count"
gso_line=$(grep '^  GSO  ' <<<"$offload")
gro_line=$(grep '^  GRO  ' <<<"$offload")
if usable udp_segment; then
	segs=$(field '^  GSO  *\([0-9]*\) of .*' "$gso_line")
	sends=$(field '.* left in \([0-9]*\) segmented sends*.*' "$gso_line")
	refused=$(field '.*; \([0-9]*\) refused by the kernel.*' "$gso_line")
	if [ "${refused:-0}" -gt 0 ]; then
		# A path MTU cached for 127.0.0.1 below the datagrams' size (after
		# an ICMP "fragmentation needed") makes the kernel refuse them.
		echo "# the kernel refused $refused segmented sends (small cached path MTU?)"
		check "offload: refused segmented sends are counted" test -n "$segs"
	else
		check "offload: datagrams left in segmented sends ($segs in $sends)" \
			test "${segs:-0}" -gt 0 -a "${sends:-0}" -gt 0 -a "${sends:-0}" -lt "${segs:-0}"
	fi
else
	check "offload: no GSO here, and why" grep -q '^  GSO           not in use: ' <<<"$offload"
fi
if usable udp_gro; then
	check "offload: coalesced receives counted" \
		grep -qE "^  GRO           [0-9]+ of $count datagrams arrived in [0-9]+ coalesced receives? " <<<"$gro_line"
	if usable udp_segment && [ "${refused:-0}" -eq 0 ]; then
		trains=$(field '^  GRO  *\([0-9]*\) of .*' "$gro_line")
		check "offload: segmented sends arrive as trains, split back ($trains datagrams)" \
			test "${trains:-0}" -gt 0
		check "offload: the module's receive calls include GRO's SO_PEEK_OFF settings" \
			grep -q ' to receive, SO_PEEK_OFF settings included)' <<<"$offload"
	fi
else
	check "offload: no GRO here, and why" grep -q '^  GRO           not in use: ' <<<"$offload"
fi

speed=$(part "throughput: " "$scratch/all")
check "speed: part shown" test -n "$speed"
check "speed: openssl row" \
	grep -qE "^  openssl +$ossl_send/$ossl_recv +[0-9]+ datagrams/s +[0-9]+\.[0-9]+ Gbit/s$" <<<"$speed"
check "speed: dgrambatch batched row, against openssl" \
	grep -qE "^  dgrambatch +$mod_send/$mod_recv +[0-9]+ datagrams/s +[0-9]+\.[0-9]+ Gbit/s +[0-9]+\.[0-9] times openssl$" <<<"$speed"
check "speed: dgrambatch offload row, against openssl" \
	grep -qE "^  dgrambatch +the same, (with GSO and GRO|with GSO \(no GRO here\)|with GRO \(no GSO here\)|no GSO or GRO here) +[0-9]+ datagrams/s +[0-9.]+ Gbit/s +[0-9]+\.[0-9] times openssl$" <<<"$speed"
check "speed: says it is one short run" grep -q '^  one short run on a shared machine' <<<"$speed"

# Without the offloads: the demo says why, and every datagram still arrives.
demo "$scratch/nocaps" DGRAMBATCH_CAPS_DISABLE=udp_segment,udp_gro -- --only offload
check "no offloads: exit 0" test "$status" -eq 0
offload=$(part "GSO and GRO, dgrambatch's BIO: " "$scratch/nocaps")
intact "$offload" "no offloads"
check "no offloads: GSO not in use, the probe names it" \
	grep -qx '  GSO           not in use: udp_segment is not usable here (see dgrambatch probe)' <<<"$offload"
check "no offloads: GRO not in use, the probe names it" \
	grep -qx '  GRO           not in use: udp_gro is not usable here (see dgrambatch probe)' <<<"$offload"
write_cnf "$scratch/off.cnf" "gso = off
gro = off"
timeout 120 "$DGB_TOOL" demo --config "$scratch/off.cnf" --count 100 --only offload >"$scratch/off" 2>&1
check "gso = off, gro = off: exit 0" test $? -eq 0
check "gso = off, gro = off: the configuration is named" \
	sh -c "grep -qx '  GSO           not in use: gso = off in the configuration' '$scratch/off' &&
		grep -qx '  GRO           not in use: gro = off in the configuration' '$scratch/off'"

# --only runs the parts named, in the usual order, and nothing else.
demo "$scratch/only" -- --only speed,batched
check "--only speed,batched: exit 0" test "$status" -eq 0
check "--only speed,batched: those two parts, in order" \
	test "$(grep -E '^[a-z]' "$scratch/only" | cut -c1-12 | tr '\n' '|')" = "batched I/O,|throughput: |demo: ok|"
"$DGB_TOOL" demo --config "$scratch/openssl.cnf" --only nonsense >/dev/null 2>&1
check "--only nonsense is a usage error" test $? -eq 2
"$DGB_TOOL" demo --config "$scratch/openssl.cnf" --only >/dev/null 2>&1
check "--only without a list is a usage error" test $? -eq 2

# The system calls, counted from outside the process: every socket call
# strace sees, against what the demo says.  strace needs ptrace, under
# which LeakSanitizer cannot work (the runs above check for leaks).
if command -v strace >/dev/null && strace -f -c -o /dev/null true 2>/dev/null; then
	# traced PART: "moved failed", the calls that send or receive, and those that failed
	traced() {
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
			strace -f -c -U calls,errors,name -e trace=%network -o "$scratch/$1.strace" \
			"$DGB_TOOL" demo --config "$scratch/openssl.cnf" --count "$count" --size "$size" \
			--only "$1" >"$scratch/$1.out" 2>&1
		awk '/^-/ { rule++; next }
			rule == 1 && $NF ~ /^(sendto|recvfrom|sendmsg|recvmsg|sendmmsg|recvmmsg)$/ {
				e = NF == 3 ? $2 : 0; moved += $1 - e; failed += e }
			END { print moved + 0, failed + 0 }' "$scratch/$1.strace"
	}
	read -r moved failed < <(traced openssl)
	intact "$(cat "$scratch/openssl.out")" "strace, openssl"
	if [ "$native" = no ]; then
		check "strace: OpenSSL's BIO made one call per datagram each way ($moved for $count)" \
			test "$moved" -eq $((2 * count))
	else
		check "strace: OpenSSL's BIO_sendmmsg and BIO_recvmmsg batch ($moved calls for $count)" \
			test "$moved" -gt 0 -a "$moved" -lt $((2 * count))
	fi
	read -r moved failed < <(traced batched)
	read -r total tx rx < <(module_calls "$(cat "$scratch/batched.out")")
	check "strace: the module's batched calls are what its counters say ($moved, $total)" \
		test -n "$total" -a "$moved" = "$total"
	check "strace: fewer calls than datagrams ($moved < $count)" test "$moved" -lt "$count"
	check "strace: a failed call is only the module's probe of sendmmsg and recvmmsg ($failed)" \
		test "$failed" -le 2
else
	echo "# strace is missing or cannot trace here: the system calls are not counted from outside"
fi

finish
