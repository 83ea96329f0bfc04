#!/usr/bin/env bash
# The main job: install the dependencies, build dgrambatch against the
# system OpenSSL, and load it through an OpenSSL config file to carry real
# datagrams over loopback, printing what it did.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/deps.sh"
dir=$(bash "$top/scripts/build.sh" openssl-system)

cnf=$dir/demo-openssl.cnf
cat >"$cnf" <<CNF
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
module = $dir/.libs/dgrambatch.so
activate = 1
CNF

echo
echo "== openssl list -providers (OPENSSL_CONF=$cnf)"
OPENSSL_CONF=$cnf openssl list -providers
echo
echo "== dgrambatch probe"
"$dir/tools/dgrambatch" probe
echo
echo "== dgrambatch demo"
"$dir/tools/dgrambatch" demo --config "$cnf" --count "${DGB_DEMO_COUNT:-1000}"
