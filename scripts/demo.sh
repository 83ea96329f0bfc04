#!/usr/bin/env bash
# The main job: install the dependencies, build dgrambatch against the
# system OpenSSL, load it through an OpenSSL config file to carry real
# datagrams over loopback, then run unmodified openssl s_server -dtls and
# s_client -dtls through the LD_PRELOAD shim, printing what each did.
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
echo "== dgrambatch probe (OPENSSL_CONF=$cnf)"
OPENSSL_CONF=$cnf "$dir/tools/dgrambatch" probe
echo
echo "== dgrambatch demo"
"$dir/tools/dgrambatch" demo --config "$cnf" --count "${DGB_DEMO_COUNT:-1000}"

echo
echo "== DTLS through the preload shim: openssl s_server -dtls / s_client -dtls on 127.0.0.1"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
port=$((20000 + RANDOM % 10000))
shim=$dir/.libs/dgrambatch-preload.so
mkfifo "$work/srv_in"
(sleep 4; echo "hello from s_server") >"$work/srv_in" &
DGRAMBATCH_DEBUG=1 LD_PRELOAD=$shim timeout 20 openssl s_server -dtls -quiet -naccept 1 \
	-accept "127.0.0.1:$port" -cert "$work/cert.pem" -key "$work/key.pem" \
	<"$work/srv_in" >"$work/srv_out" 2>"$work/srv_err" &
server=$!
sleep 1
(echo "hello from s_client"; sleep 6) |
	DGRAMBATCH_DEBUG=1 LD_PRELOAD=$shim timeout 15 openssl s_client -dtls -quiet \
		-connect "127.0.0.1:$port" -CAfile "$work/cert.pem" -verify_return_error \
		>"$work/cli_out" 2>"$work/cli_err" || true
wait "$server" || true
echo "  s_server stderr: $(grep -m1 dgrambatch "$work/srv_err" || echo 'no dgrambatch line')"
echo "  s_client stderr: $(grep -m1 dgrambatch "$work/cli_err" || echo 'no dgrambatch line')"
echo "  s_server received: $(grep -a -m1 'hello from s_client' "$work/srv_out" || echo nothing)"
echo "  s_client received: $(grep -a -m1 'hello from s_server' "$work/cli_out" || echo nothing)"
if grep -q 'hello from s_client' "$work/srv_out" && grep -q 'hello from s_server' "$work/cli_out" &&
	grep -q 'preload shim active' "$work/srv_err" && grep -q 'preload shim active' "$work/cli_err"; then
	echo "dtls: ok (both programs ran on the dgrambatch BIO)"
else
	echo "dtls: FAILED"
	cat "$work/srv_err" "$work/cli_err"
	exit 1
fi
