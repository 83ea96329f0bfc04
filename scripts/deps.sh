#!/usr/bin/env bash
# Install what dgrambatch needs to build and test, from Debian's archive.
# Idempotent: packages already present are left alone, and apt's lists are
# only refreshed when something is missing.
set -euo pipefail

packages=(
	build-essential autoconf automake libtool pkg-config
	libssl-dev openssl check
	perl binutils dpkg-dev ca-certificates
	# The main job counts system calls with strace (scripts/demo.sh).
	strace
	# Optional: 'dgrambatch bench --sweep --plot' draws with gnuplot, and
	# tests/bench.sh checks the plot where it is installed.
	gnuplot-nox
	# The robustness tests' namespaces (ip), and the ends of tests/wire's
	# link (ethtool), where the kernel has no netem.
	iproute2 ethtool
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		sudo=(sudo)
	else
		echo "deps: need root to install: ${missing[*]}" >&2
		exit 1
	fi
else
	sudo=()
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
for try in 1 2 3; do
	if "${sudo[@]}" apt-get update -q >/dev/null &&
		"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
		exit 0
	fi
	echo "deps: apt-get failed (try $try of 3)" >&2
	sleep $((try * 10))
done
echo "deps: could not install ${missing[*]}" >&2
exit 1
