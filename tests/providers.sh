#!/usr/bin/env bash
# providers.sh - the openssl command lists dgrambatch as an active provider,
# by name from OPENSSL_MODULES and from a config file.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

[ -n "${OPENSSL_BIN:-}" ] || skip "no openssl command for this OpenSSL"

version=$("$DGB_TOOL" --version | awk '{ print $2 }')

# provider_block FILE NAME: the lines of `openssl list -providers` for NAME
provider_block() {
	awk -v n="$2" '$1 == n { on = 1; print; next } /^  [^ ]/ { on = 0 } on' "$1"
}

expect_active() {
	local out=$1 how=$2 block
	block=$(provider_block "$out" dgrambatch)
	check "$how: dgrambatch is listed" test -n "$block"
	check "$how: name" grep -q 'name: dgrambatch' <<<"$block"
	check "$how: version $version" grep -q "version: $version" <<<"$block"
	check "$how: status active" grep -q 'status: active' <<<"$block"
	check "$how: default still listed" grep -q '^  default' "$out"
}

# By name, OPENSSL_MODULES pointing at the build.
if run_openssl list -providers -provider default -provider dgrambatch >"$scratch/byname" 2>&1; then
	ok "openssl list -providers -provider dgrambatch"
	expect_active "$scratch/byname" "by name"
else
	not_ok "openssl list -providers -provider dgrambatch: $(cat "$scratch/byname")"
fi

# -verbose adds the build info.
run_openssl list -providers -verbose -provider default -provider dgrambatch >"$scratch/verbose" 2>&1
check "verbose listing shows the build info" grep -q "build info: dgrambatch $version" "$scratch/verbose"

# From a config file that also keeps the default provider.
write_cnf "$scratch/openssl.cnf"
if OPENSSL_CONF=$scratch/openssl.cnf run_openssl list -providers >"$scratch/bycnf" 2>&1; then
	ok "openssl list -providers with the config file"
	expect_active "$scratch/bycnf" "config"
else
	not_ok "openssl list -providers with the config file: $(cat "$scratch/bycnf")"
fi
digest=$(printf abc | OPENSSL_CONF=$scratch/openssl.cnf run_openssl dgst -sha256 -r 2>&1)
check "a digest through the default provider still works" \
	test "${digest%% *}" = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

# The shipped example is a snippet: it defines the dgrambatch section and
# nothing else, and works pulled with .include into an openssl.cnf set up
# as its comments say (found through OPENSSL_MODULES here), keeping the
# default provider.
example=$(cd "$(dirname "$0")/../doc" && pwd)/openssl-dgrambatch.cnf
check "the example defines only [dgrambatch_sect]" \
	test "$(grep -E '^[[:space:]]*\[' "$example")" = "[dgrambatch_sect]"
check "the example names the two lines for [provider_sect]" \
	sh -c "grep -q '^#   default = default_sect\$' '$example' && grep -q '^#   dgrambatch = dgrambatch_sect\$' '$example'"
{
	echo "openssl_conf = openssl_init"
	echo "[openssl_init]"
	sed -n 's/^#   \(providers = provider_sect\)$/\1/p' "$example"
	echo "[provider_sect]"
	sed -n 's/^#   \(default = default_sect\)$/\1/p; s/^#   \(dgrambatch = dgrambatch_sect\)$/\1/p' "$example"
	echo "[default_sect]"
	sed -n 's/^#   \(activate = 1\)$/\1/p' "$example"
	echo ".include $example"
} >"$scratch/byinclude.cnf"
if OPENSSL_CONF=$scratch/byinclude.cnf run_openssl list -providers >"$scratch/byexample" 2>&1; then
	expect_active "$scratch/byexample" "example snippet through .include"
else
	not_ok "openssl list -providers with doc/openssl-dgrambatch.cnf included: $(cat "$scratch/byexample")"
fi
digest=$(printf abc | OPENSSL_CONF=$scratch/byinclude.cnf run_openssl dgst -sha256 -r 2>&1)
check "example snippet: a digest through the default provider works" \
	test "${digest%% *}" = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

# A bad max_batch keeps the provider from activating.
write_cnf "$scratch/bad.cnf" "max_batch = 0"
OPENSSL_CONF=$scratch/bad.cnf run_openssl list -providers >"$scratch/bybad" 2>&1
check "max_batch = 0: dgrambatch is not active" sh -c "! grep -q '^  dgrambatch' '$scratch/bybad'"
# A good one is reported by the provider.
write_cnf "$scratch/good.cnf" "max_batch = 96"
OPENSSL_CONF=$scratch/good.cnf run_openssl list -providers -verbose >"$scratch/bygood" 2>&1
check "max_batch = 96: dgrambatch is active" grep -q '^  dgrambatch' "$scratch/bygood"

# The main job: the demo loads the module through the config file and
# carries real datagrams through its BIO.
if "$DGB_TOOL" demo --config "$scratch/openssl.cnf" --count 200 >"$scratch/demo" 2>&1; then
	ok "dgrambatch demo through the config file"
	check "demo reports what the module carried" grep -q 'module counts tx 200 datagrams' "$scratch/demo"
else
	not_ok "dgrambatch demo: $(cat "$scratch/demo")"
fi

finish
