#!/usr/bin/env bash
# foreign_core.sh - the module refuses an OpenSSL core that is not the
# libcrypto it is linked to: a program with a static libcrypto loads it.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

prog=${DGB_MODULE%/.libs/*}/tests/foreign_core
[ -x "$prog" ] || skip "$prog not built"

# foreign NAME: the program's output and exit status, in $out and $rc
foreign() {
	out=$("$prog" "$1" 2>&1)
	rc=$?
}

foreign default
[ "$rc" -ne 77 ] || skip "$out"
echo "$out"

if command -v readelf >/dev/null; then
	check "the program has no libcrypto.so of its own" \
		sh -c "! readelf -d '$prog' | grep NEEDED | grep -q libcrypto"
fi
# The control: the static libcrypto loads its own default provider.
check "the static core loads the default provider" test "$rc" -eq 0

foreign dgrambatch
echo "$out"
check "the static core does not get dgrambatch" test "$rc" -eq 1
check "the module says why" \
	grep -q "not the libcrypto the module is linked to" <<<"$out"

finish
