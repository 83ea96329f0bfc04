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
# make install links man3/NAME.3 to dgrambatch.3 for each name of the
# page's NAME section: every public name must be there to be found by man.
in_name=$(sed -n '/^=head1 NAME/,/^=head1 SYNOPSIS/p' "$top/doc/dgrambatch.3.pod" | tr ', ' '\n\n')
for n in $names; do
	check "$n is in dgrambatch(3)" grep -qw "$n" "$top/doc/dgrambatch.3.pod"
	check "man $n finds dgrambatch(3) (NAME section)" sh -c "printf '%s\n' \"\$1\" | grep -qx '$n'" - "$in_name"
done

for cmd in probe demo bench run; do
	check "dgrambatch $cmd is in dgrambatch(1)" grep -q "B<$cmd>" "$top/doc/dgrambatch.1.pod"
done

if command -v podchecker >/dev/null; then
	for pod in "$top"/doc/*.pod; do
		check "$(basename "$pod") is well-formed POD" podchecker -warnings "$pod" >/dev/null 2>&1
	done
fi

finish
