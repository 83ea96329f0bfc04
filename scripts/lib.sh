# lib.sh - shell functions the scripts and the shell tests share, sourced
# by scripts/demo.sh, scripts/deb.sh, scripts/quic-bench.sh and
# tests/testlib.sh.  Bash; defines functions only.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0

# module_cnf MODULE [LINES]: on stdout, an openssl.cnf that activates
# OpenSSL's default provider and the module at the path MODULE, with LINES
# added to the module's section.
module_cnf() {
	cat <<CNF
# Load OpenSSL's default provider and dgrambatch; see dgrambatch(7).
openssl_conf = openssl_init

[openssl_init]
providers = provider_sect

[provider_sect]
default = default_sect
dgrambatch = dgrambatch_sect

[default_sect]
activate = 1

[dgrambatch_sect]
module = $1
activate = 1
CNF
	if [ -n "${2:-}" ]; then
		printf '%s\n' "$2"
	fi
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds; false at the deadline
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}
