# dgb_openssl.m4 - locate OpenSSL, its QUIC server API (for the tests) and
# its modules directory.  Nothing here depends on what the headers offer
# beyond 3.0: the module, the shim, the tool and the header look up newer
# functions (BIO_meth_set_sendmmsg, BIO_sendmmsg, ...) in the running
# libcrypto, so one build serves every libcrypto.so.3.
#
# DGB_OPENSSL
#   --with-openssl=PREFIX builds against the OpenSSL installed in PREFIX:
#   its pkg-config files are searched first, and an rpath to its library
#   directory is added so that the tools and tests run against it without
#   LD_LIBRARY_PATH.  Without it, the system OpenSSL is found by pkg-config.
#   Sets CRYPTO_CFLAGS, CRYPTO_LIBS, SSL_CFLAGS, SSL_LIBS, OPENSSL_BIN,
#   OPENSSL_LIBDIR, OPENSSL_RUN_LIBDIR (where the openssl command finds its
#   libraries, empty for the system's), OPENSSL_MODVERSION and
#   dgb_openssl_prefix, and the HAVE_OPENSSL_3_2 conditional (headers of
#   3.2 or later; for the tests only).
AC_DEFUN([DGB_OPENSSL], [
AC_ARG_WITH([openssl],
	[AS_HELP_STRING([--with-openssl=PREFIX],
		[build against the OpenSSL 3 installed in PREFIX (default: the system one)])],
	[], [with_openssl=system])

AS_CASE([$with_openssl],
	[system|yes|""], [dgb_openssl_prefix=],
	[no], [AC_MSG_ERROR([dgrambatch is an OpenSSL module; --without-openssl makes no sense])],
	[dgb_openssl_prefix=$with_openssl])

AS_IF([test -n "$dgb_openssl_prefix"], [
	AS_IF([test -d "$dgb_openssl_prefix"], [],
		[AC_MSG_ERROR([--with-openssl: $dgb_openssl_prefix is not a directory])])
	dgb_openssl_pcdir=
	for d in "$dgb_openssl_prefix/lib/pkgconfig" "$dgb_openssl_prefix/lib64/pkgconfig"; do
		AS_IF([test -f "$d/libcrypto.pc"], [dgb_openssl_pcdir=$d; break])
	done
	AS_IF([test -z "$dgb_openssl_pcdir"],
		[AC_MSG_ERROR([no libcrypto.pc under $dgb_openssl_prefix/lib or lib64])])
	PKG_CONFIG_PATH="$dgb_openssl_pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
	export PKG_CONFIG_PATH
])

PKG_CHECK_MODULES([CRYPTO], [libcrypto >= 3.0], [],
	[AC_MSG_ERROR([OpenSSL 3.0 or later is required (libcrypto.pc not found or too old): $CRYPTO_PKG_ERRORS])])
PKG_CHECK_MODULES([SSL], [libssl >= 3.0], [],
	[AC_MSG_ERROR([libssl 3.0 or later is required: $SSL_PKG_ERRORS])])
OPENSSL_MODVERSION=`$PKG_CONFIG --modversion libcrypto`
PKG_CHECK_VAR([OPENSSL_LIBDIR], [libcrypto], [libdir])

AS_IF([test -n "$dgb_openssl_prefix"], [
	# A private OpenSSL must be the one the tools and tests find at run time.
	CRYPTO_LIBS="-Wl,-rpath,$OPENSSL_LIBDIR $CRYPTO_LIBS"
	SSL_LIBS="-Wl,-rpath,$OPENSSL_LIBDIR $SSL_LIBS"
	AC_PATH_PROG([OPENSSL_BIN], [openssl], [], [$dgb_openssl_prefix/bin])
	# Its openssl command may have no rpath of its own.
	OPENSSL_RUN_LIBDIR=$OPENSSL_LIBDIR
], [
	OPENSSL_RUN_LIBDIR=
	AC_PATH_PROG([OPENSSL_BIN], [openssl])
])
AS_IF([test -z "$OPENSSL_BIN"],
	[AC_MSG_WARN([no openssl command found; the tests that run it will be skipped])])

# The headers must agree with the library pkg-config found.
dgb_save_CPPFLAGS=$CPPFLAGS
CPPFLAGS="$CPPFLAGS $CRYPTO_CFLAGS"
AC_CHECK_HEADER([openssl/core_dispatch.h], [],
	[AC_MSG_ERROR([OpenSSL 3 headers not found (install libssl-dev)])])
AC_CHECK_HEADER([openssl/bio.h], [],
	[AC_MSG_ERROR([OpenSSL 3 headers not found (install libssl-dev)])])
AC_COMPUTE_INT([dgb_openssl_major], [OPENSSL_VERSION_MAJOR], [#include <openssl/opensslv.h>],
	[AC_MSG_ERROR([cannot read OPENSSL_VERSION_MAJOR from the headers])])
AS_IF([test "$dgb_openssl_major" -lt 3],
	[AC_MSG_ERROR([the OpenSSL headers are version $dgb_openssl_major; 3.0 or later is required])])
AC_COMPUTE_INT([dgb_openssl_minor], [OPENSSL_VERSION_MINOR], [#include <openssl/opensslv.h>],
	[AC_MSG_ERROR([cannot read OPENSSL_VERSION_MINOR from the headers])])
CPPFLAGS=$dgb_save_CPPFLAGS
# Only a test needs more: fuzz_provider_conf hands the provider its
# configuration with OSSL_PROVIDER_load_ex (3.2 and later), so make check
# replays it only where the headers have it.
AM_CONDITIONAL([HAVE_OPENSSL_3_2],
	[test "$dgb_openssl_major" -gt 3 || test "$dgb_openssl_minor" -ge 2])

AC_SUBST([OPENSSL_BIN])
AC_SUBST([OPENSSL_LIBDIR])
AC_SUBST([OPENSSL_RUN_LIBDIR])
AC_SUBST([OPENSSL_MODVERSION])
])

# DGB_OPENSSL_QUIC
#   OpenSSL's QUIC server API (3.5 and later), which the QUIC test programs
#   are written against: the HAVE_QUIC_SERVER conditional builds them when
#   libssl has both OSSL_QUIC_server_method and SSL_new_listener, and
#   dgb_quic_server says yes or no for the summary.
AC_DEFUN([DGB_OPENSSL_QUIC], [
dgb_save_CFLAGS=$CFLAGS
dgb_save_LIBS=$LIBS
CFLAGS="$CFLAGS $SSL_CFLAGS $CRYPTO_CFLAGS"
LIBS="$SSL_LIBS $CRYPTO_LIBS $LIBS"
AC_CHECK_FUNC([OSSL_QUIC_server_method])
AC_CHECK_FUNC([SSL_new_listener])
CFLAGS=$dgb_save_CFLAGS
LIBS=$dgb_save_LIBS
AS_IF([test "x$ac_cv_func_OSSL_QUIC_server_method" = xyes && test "x$ac_cv_func_SSL_new_listener" = xyes],
	[dgb_quic_server=yes], [dgb_quic_server=no])
AM_CONDITIONAL([HAVE_QUIC_SERVER], [test "x$dgb_quic_server" = xyes])
])

# DGB_MODULESDIR
#   Where OpenSSL looks for modules: libcrypto's own modulesdir variable,
#   else $libdir/ossl-modules; --with-modulesdir overrides both.
AC_DEFUN([DGB_MODULESDIR], [
AC_ARG_WITH([modulesdir],
	[AS_HELP_STRING([--with-modulesdir=DIR],
		[install the provider module in DIR (default: libcrypto's modulesdir)])],
	[modulesdir=$withval], [
	PKG_CHECK_VAR([modulesdir], [libcrypto], [modulesdir])
	AS_IF([test -z "$modulesdir"], [modulesdir='${libdir}/ossl-modules'])
])
AC_SUBST([modulesdir])
])

# DGB_PRELOADDIR
#   Where the LD_PRELOAD shim goes: a private directory, $libdir/dgrambatch
#   by default (--with-preloaddir overrides it), so that it is not a library
#   ldconfig or the linker ever finds.  Also works out the path that
#   'dgrambatch run' and the systemd example put in LD_PRELOAD: the same
#   path with the part the dynamic linker writes as $LIB replaced by that
#   token (lib/x86_64-linux-gnu on Debian, lib64 on Fedora), so a program of
#   another architecture gets its own shim.  The token's value is read off
#   the dynamic linker itself (LD_DEBUG=libs shows it expanded); when
#   cross-compiling, or where the directory is not under it, the literal
#   path is used.  Both are defined in config.h, fully expanded:
#   DGB_PRELOAD_SHIM (the literal file) and DGB_PRELOAD_SHIM_LD (for
#   LD_PRELOAD); DGB_MODULESDIR_EXPANDED is the module's directory.
AC_DEFUN([DGB_PRELOADDIR], [
AC_REQUIRE([DGB_MODULESDIR])
AC_ARG_WITH([preloaddir],
	[AS_HELP_STRING([--with-preloaddir=DIR],
		[install the LD_PRELOAD shim in DIR (default: LIBDIR/dgrambatch)])],
	[preloaddir=$withval], [preloaddir='${libdir}/dgrambatch'])
AC_SUBST([preloaddir])

# A directory as make will see it, ${prefix} and all expanded (in a
# subshell: prefix stays NONE for AC_OUTPUT).
dgb_expand_dir() (
	test "x$prefix" = xNONE && prefix=$ac_default_prefix
	test "x$exec_prefix" = xNONE && exec_prefix=$prefix
	dgb_v=$[1]
	while :; do
		case $dgb_v in
		*'${'*) eval "dgb_v=\"$dgb_v\"" ;;
		*) break ;;
		esac
	done
	echo "$dgb_v"
)
dgb_shim=`dgb_expand_dir "$preloaddir"`/dgrambatch-preload.so
dgb_modules=`dgb_expand_dir "$modulesdir"`

AC_CACHE_CHECK([what the dynamic linker's \$LIB token stands for], [dgb_cv_lib_token], [
	dgb_cv_lib_token=unknown
	AS_IF([test "x$cross_compiling" != xyes], [
		AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])], [
			# The last directory of the search path is the plain one.
			dgb_cv_lib_token=`LD_LIBRARY_PATH='/dgb-lib-token/$LIB' LD_DEBUG=libs ./conftest$EXEEXT 2>&1 |
				sed -n 's|.*@<:@=:@:>@/dgb-lib-token/\(@<:@^:	 @:>@*\)@<:@	 @:>@*(LD_LIBRARY_PATH).*|\1|p' | sed -n 1p`
			test -n "$dgb_cv_lib_token" || dgb_cv_lib_token=unknown])])])
dgb_shim_ld=$dgb_shim
AS_CASE([$dgb_cv_lib_token], [unknown], [], [
	AS_CASE([$dgb_shim], [*/$dgb_cv_lib_token/*],
		[dgb_shim_ld=`echo "$dgb_shim" | sed "s|/$dgb_cv_lib_token/|/\\$LIB/|"`])])
AC_DEFINE_UNQUOTED([DGB_PRELOAD_SHIM], ["$dgb_shim"], [The installed LD_PRELOAD shim.])
AC_DEFINE_UNQUOTED([DGB_PRELOAD_SHIM_LD], ["$dgb_shim_ld"],
	[The installed shim as LD_PRELOAD names it, with the dynamic linker LIB token where it fits.])
AC_DEFINE_UNQUOTED([DGB_MODULESDIR_EXPANDED], ["$dgb_modules"],
	[The directory the provider module is installed in.])
# For make, which would read $LIB as a variable of its own.
AC_SUBST([DGB_PRELOAD_SHIM_LD_MAKE], [`echo "$dgb_shim_ld" | sed 's/\\$/$$/g'`])
])
