/*
 * probe.h - what this build and the running kernel can do for UDP.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The probes know nothing of OpenSSL.  Each capability has two answers:
 * whether this build has the code for it (decided by configure) and whether
 * the running kernel accepts it (decided once, on first use, by trying it on
 * a throw-away socket).  The run-time answer is cached in an atomic, so the
 * probe costs a few syscalls once per process.
 *
 * DGRAMBATCH_CAPS_DISABLE, a comma-separated list of capability names (or
 * "all"), switches capabilities off as if the kernel lacked them.  The tests
 * use it to force the fallback paths.
 */
#ifndef DGB_PROBE_H
#define DGB_PROBE_H

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

static inline int dgb_cap_usable(unsigned int cap)
{
	return (dgb_caps() & cap) == cap;
}

/*
 * Record that a capability failed at run time (sendmmsg returning ENOSYS
 * under a seccomp filter, for example), so later calls take the fallback.
 */
void dgb_caps_revoke(unsigned int cap);

/* The capability's name as used by DGRAMBATCH_CAPS_DISABLE and the tool. */
const char *dgb_cap_name(unsigned int cap);

/* Drop the cached answer; the next dgb_caps() probes again (tests only). */
void dgb_caps_reset(void);

#endif /* DGB_PROBE_H */
