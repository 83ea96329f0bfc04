# dgb_sys.m4 - what the C library and kernel headers declare for UDP.
#
# DGB_SYS_FEATURES
#   Build-time view only: the run-time probes in plugin/probe decide what the
#   running kernel accepts.  Defines HAVE_<FUNC> for the functions found,
#   HAVE_<HEADER>_H for the headers and HAVE_DECL_<NAME> (1 or 0) for the
#   socket options, which the probes and the core test; configure's summary
#   reads the same results from the ac_cv_ cache variables.  UDP_SEGMENT,
#   UDP_GRO and SO_RXQ_OVFL are for the segmentation offloads.
AC_DEFUN([DGB_SYS_FEATURES], [
AC_CHECK_HEADERS([netinet/udp.h linux/udp.h])
AC_CHECK_FUNCS([sendmmsg recvmmsg])
AC_CHECK_DECLS([IP_PKTINFO, IPV6_RECVPKTINFO, IPV6_PKTINFO, SO_RXQ_OVFL], [], [], [[
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
