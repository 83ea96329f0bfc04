# netns.sh - sourced after testlib.sh by the tests that need a network of
# their own (tests/icmp.sh, tests/netem.sh): two network namespaces, a
# client's and a server's, joined by a veth pair with addresses of their
# own, IPv4 and IPv6.  Nothing of the host's network is touched, its
# loopback least of all: a forged "fragmentation needed" there would pin
# the path MTU of 127.0.0.1 for the whole machine.
#
#   netns_require     skips (77), saying why, where namespaces cannot be made
#   netns_usable      the same test, false with the reason in netns_why
#   netns_basics      root and ip(8) only, the same way
#   netns_probe [COMMAND...]
#                     a throwaway namespace (ns_probe) with a veth pair
#                     dgbp0-dgbp1, COMMAND run while it exists
#   netns_loopback    one namespace, ns_client = ns_server, with only its
#                     loopback (root and ip(8) are all it needs); false,
#                     with the reason on stderr, where it cannot be made
#   netns_setup [wire]
#                     makes them; sets ns_client, ns_server, dev_client,
#                     dev_server, addr4_client, addr4_server, addr6_client,
#                     addr6_server.  With "wire", a third namespace, ns_mid,
#                     sits between them: client dev_client - dev_mid_client
#                     [ns_mid] dev_mid_server - dev_server server, two veth
#                     pairs and nothing joining dev_mid_client and
#                     dev_mid_server, for tests/wire to bridge.  The ends
#                     send frames as a cable carries them (no segmentation
#                     offload), and nothing in ns_mid speaks on them.
#   in_client, in_server COMMAND...   run COMMAND in that namespace
#   netns_kill        stops every process left in the client's and the
#                     server's namespaces (not the wire's)
#
# The namespaces, the veth pair (which goes with them), any qdisc on it and
# every process still running in them are removed when the test exits, on
# failure, timeout or signal too.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0

ns_client=
ns_server=
ns_mid=
ns_probe=
dev_client=dgbc0
dev_server=dgbs0
dev_mid_client=dgbm0
dev_mid_server=dgbm1
# Documentation prefixes (RFC 5737, RFC 3849): routed nowhere, and only
# inside the test's own namespaces.
addr4_client=192.0.2.1
addr4_server=192.0.2.2
addr6_client=2001:db8:d9b::1
addr6_server=2001:db8:d9b::2

# netns_cleanup: everything netns_setup made, and the processes in it.
netns_cleanup() {
	local ns p
	netns_kill
	for p in $([ -n "$ns_mid" ] && ip netns pids "$ns_mid" 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	for ns in $ns_client $ns_server $ns_mid $ns_probe; do
		ip netns del "$ns" 2>/dev/null
	done
	ns_client= ns_server= ns_mid= ns_probe=
}

# The test library's cleanup (its processes, the scratch directory) runs
# after ours; a signal ends the test through the EXIT trap as well.
trap 'netns_cleanup; cleanup' EXIT
trap 'exit 143' TERM INT HUP

# netns_basics: root and ip(8), all that a namespace needs; if not, false
# with the reason in netns_why.
netns_basics() {
	netns_why=
	if [ "$(id -u)" != 0 ]; then
		netns_why="network namespaces need root (uid $(id -u))"
	elif ! command -v ip >/dev/null; then
		netns_why="no ip command (iproute2)"
	fi
	[ -z "$netns_why" ]
}

# netns_probe [COMMAND...]: a throwaway namespace, ns_probe, with a veth
# pair dgbp0-dgbp1 in it, and COMMAND, if given, run while it exists; then
# it is removed.  False, with the reason in netns_why, if the namespace or
# the pair cannot be made or COMMAND fails.
netns_probe() {
	netns_why=
	ns_probe=dgb-probe-$$
	if ! ip netns add "$ns_probe" 2>"$scratch/netns.err"; then
		netns_why="cannot make a network namespace: $(cat "$scratch/netns.err")"
		ns_probe=
		return 1
	fi
	if ! ip link add dgbp0 netns "$ns_probe" type veth peer name dgbp1 netns "$ns_probe" \
		2>"$scratch/netns.err"; then
		netns_why="cannot make a veth pair: $(cat "$scratch/netns.err")"
	elif [ $# -gt 0 ] && ! "$@"; then
		netns_why="$1 failed"
	fi
	ip netns del "$ns_probe"
	ns_probe=
	[ -z "$netns_why" ]
}

# netns_usable: can this machine make namespaces and veth pairs?  If not,
# false with the reason in netns_why.
netns_usable() {
	netns_basics && netns_probe
}

netns_require() {
	command -v timeout >/dev/null || skip "no timeout command"
	netns_usable || skip "$netns_why"
}

# netns_kill: every process still running in the namespaces (all the
# test's: nothing else runs there), e.g. an openssl left behind when the
# shell that started it was stopped
netns_kill() {
	local ns p
	for ns in $ns_client $ns_server; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
	done
}

in_client() {
	ip netns exec "$ns_client" "$@"
}

in_server() {
	ip netns exec "$ns_server" "$@"
}

# netns_loopback: one namespace with nothing but its own loopback, up, for
# a test whose ends both run in it (in_client and in_server both run
# there): no datagram from anything else on the machine reaches them.
netns_loopback() {
	netns_basics || { echo "$netns_why" >&2; return 1; }
	ns_client=dgb-$$-lo
	ns_server=$ns_client
	ip netns add "$ns_client" && ip -n "$ns_client" link set lo up
}

# netns_setup [wire]: the two namespaces and the veth pair between them (or,
# with "wire", the middle namespace and two pairs), up, with their
# addresses (IPv6 without duplicate address detection, so usable at once).
# False, with the reason on stderr, if a step fails.
netns_setup() {
	local ns dev
	ns_client=dgb-$$-client
	ns_server=dgb-$$-server
	ip netns add "$ns_client" && ip netns add "$ns_server" || return 1
	if [ "${1:-}" = wire ]; then
		ns_mid=dgb-$$-mid
		command -v ethtool >/dev/null || {
			echo "no ethtool command: the wire needs the ends' segmentation offload off" >&2
			return 1
		}
		ip netns add "$ns_mid" &&
			ip link add "$dev_client" netns "$ns_client" type veth \
				peer name "$dev_mid_client" netns "$ns_mid" &&
			ip link add "$dev_server" netns "$ns_server" type veth \
				peer name "$dev_mid_server" netns "$ns_mid" || return 1
		# The middle keeps quiet: no addresses, no IPv6 (no router or
		# neighbour solicitations of its own), no GRO merging frames.
		ip netns exec "$ns_mid" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 &&
			ip netns exec "$ns_mid" sysctl -qw net.ipv6.conf."$dev_mid_client".disable_ipv6=1 \
				net.ipv6.conf."$dev_mid_server".disable_ipv6=1 || return 1
		for dev in "$dev_mid_client" "$dev_mid_server"; do
			ip netns exec "$ns_mid" ethtool -K "$dev" gro off >/dev/null &&
				ip -n "$ns_mid" link set "$dev" up || return 1
		done
		# A UDP GSO send leaves the ends segmented, as on a NIC.
		ip netns exec "$ns_client" ethtool -K "$dev_client" tso off tx-udp-segmentation off &&
			ip netns exec "$ns_server" ethtool -K "$dev_server" tso off tx-udp-segmentation off ||
			return 1
	else
		ip link add "$dev_client" netns "$ns_client" type veth \
			peer name "$dev_server" netns "$ns_server" || return 1
	fi
	ip -n "$ns_client" addr add "$addr4_client/24" dev "$dev_client" &&
		ip -n "$ns_server" addr add "$addr4_server/24" dev "$dev_server" &&
		ip -n "$ns_client" addr add "$addr6_client/64" dev "$dev_client" nodad &&
		ip -n "$ns_server" addr add "$addr6_server/64" dev "$dev_server" nodad || return 1
	for ns in "$ns_client" "$ns_server"; do
		ip -n "$ns" link set lo up || return 1
	done
	ip -n "$ns_client" link set "$dev_client" up && ip -n "$ns_server" link set "$dev_server" up &&
		wait_for 10 netns_up
}

# The link is up once both ends say so (and the middle's, with a wire).
netns_up() {
	ip -n "$ns_client" link show "$dev_client" | grep -q 'state UP' &&
		ip -n "$ns_server" link show "$dev_server" | grep -q 'state UP' &&
		{ [ -z "$ns_mid" ] || { ip -n "$ns_mid" link show "$dev_mid_client" | grep -q 'state UP' &&
			ip -n "$ns_mid" link show "$dev_mid_server" | grep -q 'state UP'; }; }
}

# udp_local NS: "ADDR PORT" of the one UDP socket in namespace NS, or nothing
udp_local() {
	ip netns exec "$1" ss -Hnua 2>/dev/null | awk 'NR == 1 {
		a = $4; p = a; sub(/.*:/, "", p); sub(/:[0-9]+$/, "", a); gsub(/[][]/, "", a)
		print a, p }'
}

# sock_seen NS: true once NS has a UDP socket; its address and port in
# sock_addr and sock_port
sock_seen() {
	read -r sock_addr sock_port < <(udp_local "$1") && [ -n "${sock_port:-}" ]
}

# dtls_server_up: s_server (pid in server_pid) has bound its socket in the
# server's namespace, or is gone (tests/icmp.sh, tests/netem.sh)
dtls_server_up() {
	sock_seen "$ns_server" || ! alive "$server_pid"
}
