#!/usr/bin/env bash
# docs.sh - every public name of the header is documented in dgrambatch(3),
# every command of the tool in dgrambatch(1), and the POD is well formed.
# Copyright 2026 The dgrambatch authors.
# SPDX-License-Identifier: Apache-2.0
. "$(dirname "$0")/testlib.sh"

top=$(cd "$(dirname "$0")/.." && pwd)
header=$top/include/dgrambatch.h

names=$(grep -oE '\bDGB_[A-Za-z0-9_]+' "$header" | sort -u)
check "the header has public names" test -n "$names"
for n in $names; do
	check "$n is in dgrambatch(3)" grep -qw "$n" "$top/doc/dgrambatch.3.pod"
done

for cmd in probe demo bench; do
	check "dgrambatch $cmd is in dgrambatch(1)" grep -q "B<$cmd>" "$top/doc/dgrambatch.1.pod"
done

if command -v podchecker >/dev/null; then
	for pod in "$top"/doc/*.pod; do
		check "$(basename "$pod") is well-formed POD" podchecker -warnings "$pod" >/dev/null 2>&1
	done
fi

finish
