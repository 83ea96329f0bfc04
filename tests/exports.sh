#!/usr/bin/env bash
# exports.sh - each shared object exports exactly its intended symbols.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

[ -n "${NM:-}" ] || skip "no nm found by configure"

# exports FILE: the names of the defined dynamic symbols, sorted
exports() {
	"$NM" -D --defined-only "$1" | awk '{ print $NF }' | sed 's/@.*//' | sort -u
}

expect_exports() {
	local file=$1 want=$2 got
	got=$(exports "$file" | tr '\n' ' ' | sed 's/ $//')
	if [ "$got" = "$want" ]; then
		ok "$(basename "$file") exports exactly: ${want:-nothing}"
	else
		not_ok "$(basename "$file") exports '${got}', expected '${want}'"
	fi
}

check "module built" test -f "$DGB_MODULE"
check "preload shim built" test -f "$DGB_PRELOAD"

# The provider module: the entry point OpenSSL looks up, nothing else.
expect_exports "$DGB_MODULE" "OSSL_provider_init"

# The preload shim: only the OpenSSL functions it interposes.
expect_exports "$DGB_PRELOAD" "BIO_new_dgram BIO_s_datagram"

# No internal name leaks through either object, whatever the list above.
for f in "$DGB_MODULE" "$DGB_PRELOAD"; do
	leaked=$(exports "$f" | grep -E '^(dgb_|DGB_)' || true)
	check "$(basename "$f") leaks no dgb_ symbol" test -z "$leaked"
done

# The module must be loadable for its whole life (-z nodelete).
if command -v readelf >/dev/null; then
	check "module is marked NODELETE" sh -c "readelf -d '$DGB_MODULE' | grep -q NODELETE"
	# Initial-exec TLS in a dlopen'ed object draws on glibc's small static
	# TLS surplus, and dlopen fails once that is used up.
	for f in "$DGB_MODULE" "$DGB_PRELOAD"; do
		check "$(basename "$f") uses no static TLS" \
			sh -c "! readelf -d '$f' | grep -q STATIC_TLS"
	done
fi

# One build serves every libcrypto.so.3: nothing needs a symbol version
# later than OpenSSL 3.0's; what later versions added is looked up at run
# time.  The tool may be a libtool wrapper script.
tool=$(dirname "$DGB_TOOL")/.libs/$(basename "$DGB_TOOL")
[ -f "$tool" ] || tool=$DGB_TOOL

# after_30 FILE: the libcrypto symbols FILE needs in a version later than 3.0.0
after_30() {
	"$NM" -D --undefined-only "$1" | awk '{ print $NF }' | grep '@OPENSSL_' |
		while IFS=@ read -r sym ver; do
			[ "$(printf '%s\n' OPENSSL_3.0.0 "$ver" | sort -V | tail -n 1)" = OPENSSL_3.0.0 ] ||
				echo "$sym@$ver"
		done
}

for f in "$DGB_MODULE" "$DGB_PRELOAD" "$tool"; do
	# Without versions in nm's output the next check would prove nothing.
	check "$(basename "$f"): $NM shows its OPENSSL_ symbol versions" \
		sh -c "'$NM' -D --undefined-only '$f' | grep -q '@OPENSSL_3\.0\.0'"
	late=$(after_30 "$f" | tr '\n' ' ' | sed 's/ $//')
	check "$(basename "$f") needs no OpenSSL symbol version after 3.0.0${late:+ (needs $late)}" \
		test -z "$late"
done

finish
