# dgb_compiler.m4 - compiler flags the project asks for where they exist.

# DGB_TRY_CFLAG(FLAG, VAR)
#   Append FLAG to VAR when the compiler accepts it without a warning.
AC_DEFUN([DGB_TRY_CFLAG], [
AS_VAR_PUSHDEF([dgb_cv], [dgb_cv_cflag_$1])
AC_CACHE_CHECK([whether $CC accepts $1], [dgb_cv], [
	dgb_save_CFLAGS=$CFLAGS
	CFLAGS="$CFLAGS -Werror $1"
	AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
		[AS_VAR_SET([dgb_cv], [yes])], [AS_VAR_SET([dgb_cv], [no])])
	CFLAGS=$dgb_save_CFLAGS])
AS_VAR_IF([dgb_cv], [yes], [$2="$$2 $1"])
AS_VAR_POPDEF([dgb_cv])
])

# DGB_COMPILER_FLAGS
#   WARN_CFLAGS for everything; VISIBILITY_CFLAGS for the shared objects,
#   whose only exports are marked DGB_EXPORT in the source.
AC_DEFUN([DGB_COMPILER_FLAGS], [
WARN_CFLAGS=
for f in -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	 -Wpointer-arith -Wformat=2 -Wvla -Wcast-align -Wno-unused-parameter; do
	DGB_TRY_CFLAG([$f], [WARN_CFLAGS])
done
AC_ARG_ENABLE([werror],
	[AS_HELP_STRING([--enable-werror], [treat compiler warnings as errors])],
	[AS_IF([test "x$enableval" = xyes], [WARN_CFLAGS="$WARN_CFLAGS -Werror"])])
VISIBILITY_CFLAGS=
DGB_TRY_CFLAG([-fvisibility=hidden], [VISIBILITY_CFLAGS])
AS_IF([test -z "$VISIBILITY_CFLAGS"],
	[AC_MSG_ERROR([the compiler does not support -fvisibility=hidden])])
AC_SUBST([WARN_CFLAGS])
AC_SUBST([VISIBILITY_CFLAGS])
])

# DGB_SANITIZERS
#   --enable-sanitizers (or =yes) builds everything with ASan and UBSan, any
#   report being fatal; --enable-sanitizers=thread builds with ThreadSanitizer
#   instead.  Programs the project does not build (the openssl command) need
#   the sanitizer's runtime preloaded to load the instrumented module; its
#   path is passed to the tests as SANITIZER_PRELOAD.
AC_DEFUN([DGB_SANITIZERS], [
AC_ARG_ENABLE([sanitizers],
	[AS_HELP_STRING([--enable-sanitizers@<:@=thread@:>@],
		[build with -fsanitize=address,undefined, or with -fsanitize=thread])],
	[], [enable_sanitizers=no])
SANITIZER_PRELOAD=
AS_CASE([$enable_sanitizers],
	[yes], [dgb_san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
		dgb_san_rt=libasan.so; dgb_san_name=ASan],
	[thread], [dgb_san="-fsanitize=thread -fno-omit-frame-pointer"
		dgb_san_rt=libtsan.so; dgb_san_name=TSan],
	[no], [dgb_san=],
	[AC_MSG_ERROR([--enable-sanitizers takes yes, no or thread, not $enable_sanitizers])])
AS_IF([test -n "$dgb_san"], [
	dgb_save_CFLAGS=$CFLAGS
	dgb_save_LDFLAGS=$LDFLAGS
	CFLAGS="$CFLAGS $dgb_san"
	LDFLAGS="$LDFLAGS $dgb_san"
	AC_MSG_CHECKING([whether $CC links with $dgb_san])
	AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])], [AC_MSG_RESULT([yes])], [
		AC_MSG_RESULT([no])
		AC_MSG_ERROR([the compiler cannot build with sanitizers])])
	SANITIZER_PRELOAD=`$CC -print-file-name=$dgb_san_rt`
	AS_IF([test -f "$SANITIZER_PRELOAD"], [],
		[AC_MSG_ERROR([cannot find the $dgb_san_name runtime ($SANITIZER_PRELOAD)])])
])
AC_SUBST([SANITIZER_PRELOAD])
AM_CONDITIONAL([SANITIZERS], [test "x$enable_sanitizers" != xno])
])
