# dgb_sys.m4 - what the C library and kernel headers declare for UDP.
#
# DGB_SYS_FEATURES
#   Build-time view only: the run-time probes in plugin/probe decide what the
#   running kernel accepts.  Each result is kept in dgb_have_<name> for the
#   configure summary and defines HAVE_<NAME> (or HAVE_DECL_<NAME>).
AC_DEFUN([DGB_SYS_FEATURES], [
AC_CHECK_HEADERS([sys/socket.h netinet/in.h netinet/udp.h linux/udp.h linux/errqueue.h])
AC_CHECK_FUNCS([sendmmsg recvmmsg])
AC_CHECK_DECLS([IP_PKTINFO, IPV6_RECVPKTINFO, IPV6_PKTINFO, IP_MTU_DISCOVER, IPV6_MTU_DISCOVER, IP_MTU, IPV6_MTU, SO_RXQ_OVFL], [], [], [[
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
]])
AC_CHECK_DECLS([UDP_SEGMENT, UDP_GRO], [], [], [[
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#ifdef HAVE_NETINET_UDP_H
# include <netinet/udp.h>
#endif
#if defined(HAVE_LINUX_UDP_H) && !defined(UDP_SEGMENT)
# include <linux/udp.h>
#endif
]])
])

# DGB_YESNO(SHELL-VAR)  -> "yes" or "no" for the summary
AC_DEFUN([DGB_YESNO], [`test "x$1" = xyes && echo yes || echo no`])
