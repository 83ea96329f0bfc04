#!/usr/bin/env bash
# rpm.sh - the RPM stage of the test suite: build dgrambatch's four RPMs
# (dgrambatch, -provider, -preload, -devel) from the 'make dist' tarball
# with rpmbuild -tb, its %check included, lint them and the spec with
# rpmlint, and hold each package's file list, file flags and dependencies to
# what is written below.  Meant for a Debian 12 machine, run as root (or
# with sudo) from the top of a clone; apt-get brings what is missing.
# DGB_RPM_KEEP=1 keeps the work directory (and says where it is).
#
# Building Fedora packages on a Debian host differs from building them on
# Fedora in ways this script either evens out or states:
#  - There is no RPM database of the installed (Debian) packages, so
#    BuildRequires cannot be checked: rpmbuild runs with --nodeps, and
#    scripts/deps.sh installs their Debian equivalents.
#  - Debian's rpm sets %_libdir to /usr/lib64 (its x86_64-linux platform
#    macros), while Debian's libcrypto.pc names its modules directory
#    /usr/lib/x86_64-linux-gnu/ossl-modules.  The spec follows libcrypto,
#    as it must (that is where this libcrypto looks), so the module lands
#    there, and the shim in /usr/lib64/dgrambatch.  Debian's dynamic linker
#    expands $LIB to lib/x86_64-linux-gnu, not lib64, so the shim's path in
#    the systemd example is the literal one here, /usr/$LIB/... on Fedora.
#  - Debian's rpm has no redhat-rpm-config: no debuginfo packages (nothing
#    hooks %debug_package into %install), so binaries are only 'strip -g'ed
#    and keep their symbol tables; rpmlint's unstripped-binary-or-object is
#    that, and is filtered below.  Nothing in the spec turns debuginfo off:
#    on Fedora the usual -debuginfo and -debugsource packages are made.
#  - Debian's rpm passes -O2 -g as build flags.  For x86_64 this script
#    passes the hardening and LTO flags of Fedora's redhat-rpm-config
#    instead, so the build and make check meet the compiler as on Fedora.
#  - Debian's /bin/sh is dash, and rpm's brp-compress uses bash's 'read -d',
#    so under dash no man page is compressed.  It is run with bash here, as
#    Fedora (whose /bin/sh is bash) runs it.
#  - Debian's rpm puts %doc and %license files in NAME-VERSION directories;
#    Fedora's %_docdir_fmt is NAME, which is passed here.
#  - Debian's rpmlint comes with no distribution configuration.  Fedora's
#    (configs/Fedora in rpmlint's source, and rpmlint-fedora-license-data)
#    expects .gz man pages, knows SPDX license names, and filters
#    no-signature and no-packager-tag (the build system signs and stamps
#    packages), no-group-tag and no-buildroot-tag (tags Fedora no longer
#    uses), and requires-on-release (subpackages of one build must match
#    exactly); the configuration written below does the same.  Findings
#    that hold on Fedora too are filtered, with reasons, in
#    dgrambatch.rpmlintrc next to the spec.
set -euo pipefail -f

top=$(cd "$(dirname "$0")/.." && pwd)
start=$SECONDS

bash "$top/scripts/deps.sh"

# The RPM tools, installed as scripts/deps.sh installs the build's.
need=()
for p in rpm rpmlint cpio file; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || { echo "rpm: need root to install: ${need[*]}" >&2; exit 1; }
		sudo=(sudo)
	fi
	echo "rpm: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	ok=
	for try in 1 2 3; do
		if "${sudo[@]}" apt-get update -q >/dev/null &&
			"${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; then
			ok=1
			break
		fi
		echo "rpm: apt-get failed (try $try of 3)" >&2
		sleep $((try * 10))
	done
	[ -n "$ok" ] || { echo "rpm: could not install ${need[*]}" >&2; exit 1; }
fi

work=$(mktemp -d /tmp/rpm-dgrambatch.XXXXXX)
cleanup() {
	if [ -n "${DGB_RPM_KEEP:-}" ]; then
		echo "rpm: work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
fail() {
	echo "rpm: FAILED: $*"
	exit 1
}

# --- the tarball -----------------------------------------------------------
echo "rpm: configuring and building for 'make dist' in $work/build"
dir=$(DGB_BUILD_ROOT=$work/build bash "$top/scripts/build.sh" dist 2>"$work/configure.log") ||
	{ cat "$work/configure.log"; fail "scripts/build.sh"; }
make -C "$dir" dist >"$work/dist.log" 2>&1 || { tail -n 40 "$work/dist.log"; fail "make dist"; }
version=$(sed -n 's/^PACKAGE_VERSION = //p' "$dir/Makefile")
tarball=$dir/dgrambatch-$version.tar.gz
[ -f "$tarball" ] || fail "no $tarball"
echo "rpm: $(basename "$tarball") ($((SECONDS - start))s)"

# --- rpmbuild -tb ------------------------------------------------------------
defines=(
	--define "_topdir $work/rpmbuild"
	--define "_tmppath $work/tmp"
	--define "_docdir_fmt %%{NAME}"
	--define "__os_install_post $(rpm --eval '%{__os_install_post}' |
		sed 's|^[[:space:]]*\(/usr/lib/rpm/brp-compress\)|bash \1|' | awk 'NF' | paste -sd ';')"
)
if [ "$(uname -m)" = x86_64 ]; then
	defines+=(
		--define "optflags -O2 -flto=auto -ffat-lto-objects -fexceptions -g -grecord-gcc-switches -pipe -Wall -Werror=format-security -Wp,-U_FORTIFY_SOURCE,-D_FORTIFY_SOURCE=3 -Wp,-D_GLIBCXX_ASSERTIONS -fstack-protector-strong -m64 -march=x86-64 -mtune=generic -fasynchronous-unwind-tables -fstack-clash-protection -fcf-protection -mtls-dialect=gnu2 -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer"
		--define "build_ldflags -Wl,-z,relro -Wl,--as-needed -Wl,-z,pack-relative-relocs -Wl,-z,now -Wl,--build-id=sha1"
	)
fi
mkdir -p "$work/tmp"
t=$SECONDS
echo "rpm: rpmbuild -tb --nodeps (with %check)"
if ! rpmbuild -tb --nodeps "${defines[@]}" "$tarball" >"$work/rpmbuild.log" 2>&1; then
	tail -n 80 "$work/rpmbuild.log"
	fail "rpmbuild"
fi
log=$work/rpmbuild.log
grep -q '^Executing(%check)' "$log" || fail "%check did not run"
summary=$(grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR): ' "$log" | sed 's/^# //; s/:  */ /' | paste -sd ',' | sed 's/,/, /g')
echo "rpm: rpmbuild ok ($((SECONDS - t))s); make check in %check: $summary"
grep -q '^# FAIL:  *0$' "$log" && grep -q '^# ERROR: *0$' "$log" || fail "make check in %check"

mapfile -t rpms < <(find "$work/rpmbuild/RPMS" -name '*.rpm' | sort)
[ "${#rpms[@]}" -eq 4 ] || fail "expected 4 packages, rpmbuild wrote ${#rpms[@]}: ${rpms[*]##*/}"

# --- rpmlint -----------------------------------------------------------------
spec=$work/spec
mkdir -p "$spec"
tar -xzf "$tarball" -C "$spec" --strip-components=1 \
	"dgrambatch-$version/dgrambatch.spec" "dgrambatch-$version/dgrambatch.rpmlintrc"
cat >"$work/rpmlint-fedora-host.toml" <<'TOML'
# What Fedora's rpmlint configuration sets and Debian's rpmlint does not
# (see the notes at the top of scripts/rpm.sh).
CompressExtension = "gz"
ValidLicenses = ["Apache-2.0"]
Filters = [
    " no-signature",
    " no-packager-tag",
    " no-group-tag",
    " no-buildroot-tag",
    " requires-on-release",
    # Debian host only: no find-debuginfo, so the symbol tables stay.
    " unstripped-binary-or-object ",
    # Debian 12's rpmlint 2.4.0 collects man page sections where it means
    # page names, so it reports every binary; later rpmlint does not.
    # The file list check below wants dgrambatch(1) in the package.
    " no-manual-page-for-binary dgrambatch$",
]
TOML
rc=0
rpmlint -c "$work/rpmlint-fedora-host.toml" -r "$spec/dgrambatch.rpmlintrc" \
	"${rpms[@]}" "$spec/dgrambatch.spec" >"$work/rpmlint.log" 2>&1 || rc=$?
sed -n '/^=*  *rpmlint session starts/,$p' "$work/rpmlint.log" | grep -vE '^(=+|rpmlint:|rpmlintrc:|configuration:|checks:|    /|    rpmlint-)' | grep -v '^ *$' || true
counts=$(grep -E 'checked; [0-9]+ errors, [0-9]+ warnings' "$work/rpmlint.log" | tail -n 1)
[ -n "$counts" ] || { cat "$work/rpmlint.log"; fail "rpmlint gave no summary"; }
errors=$(sed -E 's/.*checked; ([0-9]+) errors.*/\1/' <<<"$counts")
warnings=$(sed -E 's/.* ([0-9]+) warnings.*/\1/' <<<"$counts")
lint_ok=yes
[ "$errors" -eq 0 ] && [ "$rc" -eq 0 ] || lint_ok=

# --- file lists, flags and dependencies --------------------------------------
modulesdir=$(pkg-config --variable=modulesdir libcrypto 2>/dev/null || true)
modulesdir=${modulesdir:-$(rpm --eval '%{_libdir}')/ossl-modules}
libdir=$(rpm --eval '%{_libdir}')
isa=$(rpm --eval '%{?_isa}')
release=$(rpm -qp --qf '%{RELEASE}' "${rpms[0]}" 2>/dev/null)
evr=$version-$release

# The files each package must have (anchored extended regexes, each
# matching at least one file) and the others it may have; any other file
# fails.  The build-id links are rpm's own (/usr/lib/.build-id/NN/...).
re() { sed 's/[.[\*^$()+?{|]/\\&/g' <<<"$1"; }
buildid='/usr/lib/\.build-id(/[0-9a-f]{2}(/[0-9a-f]{38})?)?'
license() { echo "$(re "/usr/share/licenses/$1")" "$(re "/usr/share/licenses/$1/LICENSE")"; }
expected() {
	case $1 in
	dgrambatch)
		echo "$(re /usr/bin/dgrambatch) $(re /usr/share/man/man1/dgrambatch.1.gz)"
		echo "$(re /usr/share/doc/dgrambatch)"
		for f in README.md ChangeLog dgrambatch-preload.conf; do re "/usr/share/doc/dgrambatch/$f"; done
		license dgrambatch ;;
	dgrambatch-provider)
		echo "$(re "$modulesdir/dgrambatch.so") $(re /usr/share/man/man7/dgrambatch.7.gz)"
		echo "$(re /etc/pki/tls/openssl.d) $(re /etc/pki/tls/openssl.d/dgrambatch.conf)"
		echo "$(re /usr/share/doc/dgrambatch) $(re /usr/share/doc/dgrambatch/openssl-dgrambatch.cnf)"
		license dgrambatch-provider ;;
	dgrambatch-preload)
		echo "$(re "$libdir/dgrambatch") $(re "$libdir/dgrambatch/dgrambatch-preload.so")"
		echo "$(re /usr/share/doc/dgrambatch-preload) $(re /usr/share/doc/dgrambatch-preload/README.md)"
		license dgrambatch-preload ;;
	dgrambatch-devel)
		echo "$(re /usr/include/dgrambatch.h) $(re "$libdir/pkgconfig/dgrambatch.pc")"
		echo "$(re /usr/share/man/man3/dgrambatch.3.gz) $(re /usr/share/man/man3/DGB_new_dgram.3.gz)"
		license dgrambatch-devel ;;
	esac
}
allowed() {
	case $1 in
	dgrambatch | dgrambatch-provider | dgrambatch-preload) echo "$buildid" ;;
	dgrambatch-devel) echo '/usr/share/man/man3/DGB_[A-Za-z0-9_]+\.3\.gz' ;;
	esac
}

problems=0
problem() {
	echo "rpm: $pkg: $*"
	problems=$((problems + 1))
}
mkdir -p "$work/payload"
for r in "${rpms[@]}"; do
	pkg=$(rpm -qp --qf '%{NAME}' "$r" 2>/dev/null)
	[ "$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$r" 2>/dev/null)" = "$evr" ] || problem "not $evr"
	rpm -qp --qf '[%{FILEFLAGS:fflags}|%{FILENAMES}\n]' "$r" 2>/dev/null >"$work/$pkg.files"
	cut -d'|' -f2- "$work/$pkg.files" >"$work/$pkg.list"
	for want in $(expected "$pkg"); do
		grep -qxE "$want" "$work/$pkg.list" || problem "missing ${want//\\/}"
	done
	pattern=$( (expected "$pkg"; allowed "$pkg") | tr ' ' '\n' | grep . | paste -sd '|')
	while IFS= read -r f; do
		problem "unexpected file $f"
	done < <(grep -vxE "$pattern" "$work/$pkg.list" || true)
	while IFS='|' read -r flags f; do
		case $f in
		/etc/pki/tls/openssl.d/dgrambatch.conf) [ "$flags" = cn ] || problem "$f: flags '$flags', not %config(noreplace)" ;;
		/usr/share/licenses/*/*) [ "$flags" = l ] || problem "$f: flags '$flags', not %license" ;;
		/usr/share/doc/*/* | /usr/share/man/*/*) [ "$flags" = d ] || problem "$f: flags '$flags', not %doc" ;;
		*) case $flags in *c*) problem "$f: unexpectedly %config" ;; esac ;;
		esac
	done <"$work/$pkg.files"

	rpm -qp --requires "$r" 2>/dev/null >"$work/$pkg.requires"
	case $pkg in
	dgrambatch)
		for sub in provider preload; do
			grep -qxF "dgrambatch-$sub$isa = $evr" "$work/$pkg.requires" ||
				problem "does not require dgrambatch-$sub$isa = $evr"
		done ;;
	*)
		! grep -qE '^dgrambatch(\(|[[:space:]]|$)' "$work/$pkg.requires" || problem "requires the tool package" ;;
	esac
	if [ "$pkg" = dgrambatch-devel ]; then
		rpm -qp --recommends "$r" 2>/dev/null | grep -qxF "dgrambatch-provider$isa = $evr" ||
			problem "does not recommend dgrambatch-provider$isa = $evr"
	fi

	mkdir -p "$work/payload/$pkg"
	(cd "$work/payload/$pkg" && rpm2cpio "$r" | cpio -idm --quiet) || problem "cannot unpack"
done

# What is inside: no build path anywhere, the drop-in inert as shipped, the
# packaged objects exporting exactly their intended names, and a man page
# for each public name of the packaged header.
p=$work/payload
pkg=payload
if hits=$(grep -rlF -e "$work" -e BUILDROOT "$p"); then
	problem "build paths in: ${hits//$p\//}"
fi
pkg=dgrambatch-provider
if grep -vE '^[[:space:]]*(#|$)' "$p/$pkg/etc/pki/tls/openssl.d/dgrambatch.conf"; then
	problem "the drop-in has the lines above outside comments: it must ship inactive"
fi
exports() { nm -D --defined-only "$1" | awk '{ print $NF }' | sed 's/@.*//' | sort -u | paste -sd ' '; }
[ "$(exports "$p/$pkg/$modulesdir/dgrambatch.so")" = OSSL_provider_init ] ||
	problem "dgrambatch.so exports $(exports "$p/$pkg/$modulesdir/dgrambatch.so")"
readelf -d "$p/$pkg/$modulesdir/dgrambatch.so" | grep -q NODELETE || problem "dgrambatch.so is not NODELETE"
pkg=dgrambatch-preload
[ "$(exports "$p/$pkg/$libdir/dgrambatch/dgrambatch-preload.so")" = "BIO_new_dgram BIO_s_datagram" ] ||
	problem "dgrambatch-preload.so exports $(exports "$p/$pkg/$libdir/dgrambatch/dgrambatch-preload.so")"
pkg=dgrambatch-devel
for n in $(grep -oE '\bDGB_[A-Za-z0-9_]+' "$p/$pkg/usr/include/dgrambatch.h" | sort -u); do
	[ -e "$p/$pkg/usr/share/man/man3/$n.3.gz" ] || problem "no man page for $n"
done

for r in "${rpms[@]}"; do
	pkg=$(rpm -qp --qf '%{NAME}' "$r" 2>/dev/null)
	echo "rpm: $(basename "$r"): $(wc -l <"$work/$pkg.list") files"
done
[ -n "$lint_ok" ] || echo "rpm: rpmlint: $errors errors (exit status $rc)"
[ "$problems" -eq 0 ] || echo "rpm: $problems problems in the packages (above)"
[ -n "$lint_ok" ] && [ "$problems" -eq 0 ] || fail "rpmlint: $errors errors; packages: $problems problems"
echo "rpm: ok (${#rpms[@]} packages, rpmlint: $errors errors, $warnings warnings; $((SECONDS - start))s)"
