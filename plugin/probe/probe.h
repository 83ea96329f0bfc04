/*
 * probe.h - what this build and the running kernel can do for UDP.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The probes know nothing of OpenSSL.  Each capability has two answers:
 * whether this build has the code for it (decided by configure) and whether
 * the running kernel accepts it (decided at run time, then cached in an
 * atomic, so a probe costs a few syscalls once per process).
 *
 * Only an answer the system gave is cached, never a failure to ask.  The
 * system-call probes need no socket: they call with a descriptor of -1,
 * which the kernel refuses with EBADF when it has the call, and with
 * ENOSYS when it does not (a seccomp filter answers ENOSYS or EPERM).  The
 * socket-option probes need a socket: they open throw-away ones.  A family
 * or protocol that is missing or forbidden is an answer; a passing want of
 * resources (at the fd limit, say) is not: the probe reports "not usable"
 * this time and tries again when asked again, or learns from a socket the
 * caller already has (dgb_caps_learn_fd), without changing it.  A question
 * about some capabilities probes only those, so the data path, which asks
 * about the system calls, never opens a socket.
 *
 * DGRAMBATCH_CAPS_DISABLE, a comma-separated list of capability names (or
 * "all"), switches capabilities off as if the kernel lacked them.  The tests
 * use it to force the fallback paths.
 */
#ifndef DGB_PROBE_H
#define DGB_PROBE_H

#include <netinet/in.h>
#include <netinet/udp.h>

/*
 * Older C libraries lack the UDP offload socket options although the
 * kernel has them; the numbers are kernel ABI, so using them is safe: an
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

enum dgb_cap {
	DGB_CAP_SENDMMSG = 1u << 0,
	DGB_CAP_RECVMMSG = 1u << 1,
	DGB_CAP_IP_PKTINFO = 1u << 2,
	DGB_CAP_IPV6_RECVPKTINFO = 1u << 3,
	DGB_CAP_UDP_SEGMENT = 1u << 4,
	DGB_CAP_UDP_GRO = 1u << 5,
};

#define DGB_CAP_COUNT 6

/* Capabilities this build has code for. */
unsigned int dgb_caps_built(void);

/* Capabilities usable now: built, accepted by the kernel, not disabled. */
unsigned int dgb_caps(void);

/* Those of the capabilities in want that are usable now; probes only those. */
unsigned int dgb_caps_for(unsigned int want);

static inline int dgb_cap_usable(unsigned int cap)
{
	return dgb_caps_for(cap) == cap;
}

/*
 * Answer the socket-option probes still open from fd, the caller's own UDP
 * socket, with getsockopt only (the socket is not changed).  A descriptor
 * that is not a UDP socket teaches nothing.
 */
void dgb_caps_learn_fd(int fd);

/*
 * Record that a capability failed at run time (sendmmsg returning ENOSYS
 * under a seccomp filter, for example), so later calls take the fallback.
 */
void dgb_caps_revoke(unsigned int cap);

/* The capability's name as used by DGRAMBATCH_CAPS_DISABLE and the tool. */
const char *dgb_cap_name(unsigned int cap);

/* Drop the cached answer; the next dgb_caps() probes again (tests only). */
void dgb_caps_reset(void);

/* The capabilities whose answer is cached, usable or not (tests only). */
unsigned int dgb_caps_known(void);

#endif /* DGB_PROBE_H */
