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
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* Bit 31 marks the cache as filled; no capability uses it. */
#define PROBED (1u << 31)

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
	return off & ~PROBED;
}

static int sockopt_accepted(int fd, int level, int name, int value)
{
	return fd >= 0 && setsockopt(fd, level, name, &value, sizeof(value)) == 0;
}

/*
 * A zero-length vector exercises the syscall entry without moving data:
 * the kernel answers 0 where the call exists and ENOSYS where it does not
 * (or where a seccomp filter forbids it).
 */
static unsigned int probe_kernel(void)
{
	unsigned int caps = 0;
	int fd4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int fd = fd4 >= 0 ? fd4 : fd6;

	if (fd < 0)
		return 0;
#ifdef HAVE_SENDMMSG
	if (sendmmsg(fd, NULL, 0, 0) == 0)
		caps |= DGB_CAP_SENDMMSG;
#endif
#ifdef HAVE_RECVMMSG
	if (recvmmsg(fd, NULL, 0, MSG_DONTWAIT, NULL) == 0)
		caps |= DGB_CAP_RECVMMSG;
#endif
#if HAVE_DECL_IP_PKTINFO
	if (sockopt_accepted(fd4, IPPROTO_IP, IP_PKTINFO, 1))
		caps |= DGB_CAP_IP_PKTINFO;
#endif
#if HAVE_DECL_IPV6_RECVPKTINFO && HAVE_DECL_IPV6_PKTINFO
	if (sockopt_accepted(fd6, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1))
		caps |= DGB_CAP_IPV6_RECVPKTINFO;
#endif
	if (sockopt_accepted(fd, SOL_UDP, UDP_SEGMENT, 1200))
		caps |= DGB_CAP_UDP_SEGMENT;
	if (sockopt_accepted(fd, SOL_UDP, UDP_GRO, 1))
		caps |= DGB_CAP_UDP_GRO;
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		close(fd6);
	return caps;
}

unsigned int dgb_caps(void)
{
	unsigned int caps = atomic_load_explicit(&caps_cache, memory_order_relaxed);

	if (caps & PROBED)
		return caps & ~PROBED;
	/*
	 * Two threads may probe at once; both reach the same answer, so the
	 * race costs a few syscalls and nothing else.  A revocation that lands
	 * in between is kept by the compare-and-swap.
	 */
	caps = (probe_kernel() & dgb_caps_built() & ~caps_disabled()) | PROBED;
	unsigned int expected = 0;
	if (!atomic_compare_exchange_strong(&caps_cache, &expected, caps))
		caps = expected;
	return caps & ~PROBED;
}

void dgb_caps_revoke(unsigned int cap)
{
	(void)dgb_caps();
	atomic_fetch_and(&caps_cache, ~cap);
}

void dgb_caps_reset(void)
{
	atomic_store(&caps_cache, 0);
}
