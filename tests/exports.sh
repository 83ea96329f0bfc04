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
fi

finish
