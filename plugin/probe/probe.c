/*
 * probe.c - build-time and run-time UDP capability probes.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#ifdef HAVE_NETINET_UDP_H
#include <netinet/udp.h>
#endif

#include "probe.h"

/*
 * Older C libraries lack the GSO/GRO socket options although the kernel
 * has them; the numbers are kernel ABI, so probing with them is safe: an
 * older kernel answers ENOPROTOOPT.
 */

/*
 * The cache: the low 16 bits are the kernel's answers, the high 16 bits say
 * which of them are known.  A capability's answer is final once known,
 * except that dgb_caps_revoke() may clear it.
 */
#define KNOWN_SHIFT 16
#define ALL_CAPS ((1u << DGB_CAP_COUNT) - 1)
#define SYSCALL_CAPS (DGB_CAP_SENDMMSG | DGB_CAP_RECVMMSG)
#define OPTION_CAPS (ALL_CAPS & ~SYSCALL_CAPS)

static atomic_uint caps_cache;

static const struct {
	unsigned int cap;
	const char *name;
} cap_names[DGB_CAP_COUNT] = {
	{ DGB_CAP_SENDMMSG, "sendmmsg" },
	{ DGB_CAP_RECVMMSG, "recvmmsg" },
	{ DGB_CAP_IP_PKTINFO, "ip_pktinfo" },
	{ DGB_CAP_IPV6_RECVPKTINFO, "ipv6_recvpktinfo" },
	{ DGB_CAP_UDP_SEGMENT, "udp_segment" },
	{ DGB_CAP_UDP_GRO, "udp_gro" },
};

const char *dgb_cap_name(unsigned int cap)
{
	for (size_t i = 0; i < DGB_CAP_COUNT; i++)
		if (cap_names[i].cap == cap)
			return cap_names[i].name;
	return NULL;
}

unsigned int dgb_caps_built(void)
{
	unsigned int caps = DGB_CAP_UDP_SEGMENT | DGB_CAP_UDP_GRO;

#ifdef HAVE_SENDMMSG
	caps |= DGB_CAP_SENDMMSG;
#endif
#ifdef HAVE_RECVMMSG
	caps |= DGB_CAP_RECVMMSG;
#endif
#if HAVE_DECL_IP_PKTINFO
	caps |= DGB_CAP_IP_PKTINFO;
#endif
#if HAVE_DECL_IPV6_RECVPKTINFO && HAVE_DECL_IPV6_PKTINFO
	caps |= DGB_CAP_IPV6_RECVPKTINFO;
#endif
	return caps;
}

/* Names in DGRAMBATCH_CAPS_DISABLE; unknown names are ignored. */
static unsigned int caps_disabled(void)
{
	const char *env = getenv("DGRAMBATCH_CAPS_DISABLE");
	unsigned int off = 0;

	if (env == NULL)
		return 0;
	while (*env != '\0') {
		size_t len = strcspn(env, ", ");

		if (len == 3 && strncmp(env, "all", 3) == 0)
			off = ~0u;
		for (size_t i = 0; i < DGB_CAP_COUNT; i++)
			if (strlen(cap_names[i].name) == len &&
			    strncmp(env, cap_names[i].name, len) == 0)
				off |= cap_names[i].cap;
		env += len;
		env += strspn(env, ", ");
	}
	return off & ALL_CAPS;
}

static int sockopt_accepted(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) == 0;
}

/*
 * The system calls, asked with fd -1: the kernel looks the descriptor up
 * first and answers EBADF when it has the call.  Anything else (ENOSYS
 * from an old kernel, EPERM or ENOSYS from a seccomp filter) means the
 * call is not to be used.
 */
static unsigned int probe_syscalls(void)
{
	unsigned int caps = 0;

#ifdef HAVE_SENDMMSG
	if (sendmmsg(-1, NULL, 0, 0) < 0 && errno == EBADF)
		caps |= DGB_CAP_SENDMMSG;
#endif
#ifdef HAVE_RECVMMSG
	if (recvmmsg(-1, NULL, 0, MSG_DONTWAIT, NULL) < 0 && errno == EBADF)
		caps |= DGB_CAP_RECVMMSG;
#endif
	return caps;
}

/*
 * A throw-away UDP socket of a family, or -1.  *final says whether a
 * failure is the system's answer (the family or UDP is not there, or not
 * allowed) rather than a passing want of resources (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM), after which the probe is tried again later.
 */
static int probe_socket(int family, int *final)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	*final = fd >= 0 || (errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
			     errno != ENOMEM);
	return fd;
}

/*
 * The socket options, on throw-away sockets of each family; *known gets the
 * capabilities that were answered, by the kernel or by a final refusal of
 * the socket.  Setting an option on a socket about to be closed is
 * harmless.
 */
static unsigned int probe_options(unsigned int *known)
{
	unsigned int caps = 0;
	int final4, final6;
	int fd4 = probe_socket(AF_INET, &final4);
	int fd6 = probe_socket(AF_INET6, &final6);
	int fd = fd4 >= 0 ? fd4 : fd6;

	*known = 0;
	if (final4)
		*known |= DGB_CAP_IP_PKTINFO;
	if (final6)
		*known |= DGB_CAP_IPV6_RECVPKTINFO;
#if HAVE_DECL_IP_PKTINFO
	if (fd4 >= 0 && sockopt_accepted(fd4, IPPROTO_IP, IP_PKTINFO, 1))
		caps |= DGB_CAP_IP_PKTINFO;
#endif
#if HAVE_DECL_IPV6_RECVPKTINFO && HAVE_DECL_IPV6_PKTINFO
	if (fd6 >= 0 && sockopt_accepted(fd6, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1))
		caps |= DGB_CAP_IPV6_RECVPKTINFO;
#endif
	/* UDP's own options: any family answers, and no family is an answer too. */
	if (fd >= 0 || (final4 && final6))
		*known |= DGB_CAP_UDP_SEGMENT | DGB_CAP_UDP_GRO;
	if (fd >= 0 && sockopt_accepted(fd, SOL_UDP, UDP_SEGMENT, 1200))
		caps |= DGB_CAP_UDP_SEGMENT;
	if (fd >= 0 && sockopt_accepted(fd, SOL_UDP, UDP_GRO, 1))
		caps |= DGB_CAP_UDP_GRO;
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		close(fd6);
	return caps;
}

/*
 * Add answers to the cache for capabilities it does not know yet; answers
 * already there, revocations included, are kept.
 */
static unsigned int caps_learn(unsigned int known, unsigned int caps)
{
	unsigned int old = atomic_load(&caps_cache), new;

	do {
		unsigned int add = known & ~(old >> KNOWN_SHIFT);

		new = old | (add << KNOWN_SHIFT) | (caps & add);
	} while (new != old && !atomic_compare_exchange_weak(&caps_cache, &old, new));
	return new;
}

static int sockopt_readable(int fd, int level, int name)
{
	int v;
	socklen_t len = sizeof(v);

	return getsockopt(fd, level, name, &v, &len) == 0;
}

void dgb_caps_learn_fd(int fd)
{
	unsigned int known = 0, caps = 0;
	int type, proto;
	socklen_t len = sizeof(type);
	union {
		struct sockaddr sa;
		struct sockaddr_in6 s_in6;
	} a;
	socklen_t alen = sizeof(a);

	if (((atomic_load_explicit(&caps_cache, memory_order_relaxed) >> KNOWN_SHIFT) &
	     OPTION_CAPS) == OPTION_CAPS)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM)
		return;
	len = sizeof(proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) != 0 || proto != IPPROTO_UDP ||
	    getsockname(fd, &a.sa, &alen) != 0)
		return;
	if (a.sa.sa_family == AF_INET) {
		known |= DGB_CAP_IP_PKTINFO;
#if HAVE_DECL_IP_PKTINFO
		if (sockopt_readable(fd, IPPROTO_IP, IP_PKTINFO))
			caps |= DGB_CAP_IP_PKTINFO;
#endif
	} else if (a.sa.sa_family == AF_INET6) {
		known |= DGB_CAP_IPV6_RECVPKTINFO;
#if HAVE_DECL_IPV6_RECVPKTINFO && HAVE_DECL_IPV6_PKTINFO
		if (sockopt_readable(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO))
			caps |= DGB_CAP_IPV6_RECVPKTINFO;
#endif
	} else {
		return;
	}
	known |= DGB_CAP_UDP_SEGMENT | DGB_CAP_UDP_GRO;
	if (sockopt_readable(fd, SOL_UDP, UDP_SEGMENT))
		caps |= DGB_CAP_UDP_SEGMENT;
	if (sockopt_readable(fd, SOL_UDP, UDP_GRO))
		caps |= DGB_CAP_UDP_GRO;
	/* What the build lacks or the environment disables stays off. */
	caps_learn(known, caps & dgb_caps_built() & ~caps_disabled());
}

unsigned int dgb_caps_for(unsigned int want)
{
	unsigned int v = atomic_load_explicit(&caps_cache, memory_order_relaxed);
	unsigned int had = v >> KNOWN_SHIFT;

	want &= ALL_CAPS;
	if ((had & want) != want) {
		/*
		 * Only what is asked for and not known is probed: the system
		 * calls need no socket, so the data path never opens one.  Two
		 * threads may probe at once; both reach the same answers, so
		 * the race costs a few syscalls and nothing else.  What a build
		 * lacks or the environment disables is known at once.
		 */
		unsigned int off = ~dgb_caps_built() | caps_disabled();
		unsigned int known = off & ALL_CAPS, caps = 0, opt_known;
		unsigned int missing = want & ~(had | known);

		if (missing & SYSCALL_CAPS) {
			known |= SYSCALL_CAPS;
			caps |= probe_syscalls();
		}
		if (missing & OPTION_CAPS) {
			caps |= probe_options(&opt_known);
			known |= opt_known;
		}
		v = caps_learn(known, caps & ~off);
	}
	return v & want;
}

unsigned int dgb_caps(void)
{
	return dgb_caps_for(ALL_CAPS);
}

void dgb_caps_revoke(unsigned int cap)
{
	(void)dgb_caps_for(cap);
	caps_learn(cap & ALL_CAPS, 0);
	atomic_fetch_and(&caps_cache, ~(cap & ALL_CAPS));
}

unsigned int dgb_caps_known(void)
{
	return atomic_load(&caps_cache) >> KNOWN_SHIFT;
}

void dgb_caps_reset(void)
{
	atomic_store(&caps_cache, 0);
}
