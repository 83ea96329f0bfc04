#!/usr/bin/env bash
# foreign_core.sh - the module knows its own libcrypto: it refuses an
# OpenSSL core that is not the libcrypto it is linked to (a program with a
# static libcrypto loads it), and accepts its own in a program built without
# PIE that takes a libcrypto function's address, where the function's
# address is the program's.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

builddir=${DGB_MODULE%/.libs/*}
prog=$builddir/tests/foreign_core
nopie=$builddir/tests/nopie_core
[ -x "$prog" ] || skip "$prog not built"

# The program without PIE runs everywhere; the static one needs libcrypto.a.
if out=$("$nopie" 2>&1); then rc=0; else rc=$?; fi
echo "$out"
check "a program without PIE loads the module, with its batched I/O" test "$rc" -eq 0

# foreign NAME: the program's output and exit status, in $out and $rc
foreign() {
	out=$("$prog" "$1" 2>&1)
	rc=$?
}

foreign default
if [ "$rc" -eq 77 ]; then
	echo "SKIP the static libcrypto half: $out"
	finish
	exit
fi
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
