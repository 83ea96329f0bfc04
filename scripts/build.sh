#!/usr/bin/env bash
# build.sh NAME [CONFIGURE-ARGS...]: configure and build dgrambatch out of
# tree in $DGB_BUILD_ROOT/NAME (default: build/NAME in the source tree) and
# print that directory.  The autotools files are generated first if needed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
name=$1
shift
root=${DGB_BUILD_ROOT:-$top/build}
dir=$root/$name

if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
	[ "$top/Makefile.am" -nt "$top/Makefile.in" ]; then
	(cd "$top" && autoreconf -fi >&2)
fi
if [ -f "$top/config.status" ]; then
	echo "build.sh: $top was configured in place; run 'make distclean' there first" >&2
	exit 1
fi
mkdir -p "$dir"
cd "$dir"
"$top/configure" "$@" >configure.out 2>&1 || { cat configure.out >&2; exit 1; }
sed -n '/^dgrambatch .* configured$/,$p' configure.out >&2
make -j"$(nproc)" >make.out 2>&1 || { tail -n 60 make.out >&2; exit 1; }
echo "$dir"
