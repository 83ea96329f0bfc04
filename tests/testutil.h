/*
 * testutil.h - helpers shared by the Check suites.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_TESTUTIL_H
#define DGB_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>

union tu_addr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_storage ss;
};

/*
 * A UDP socket bound to an ephemeral port on the loopback address of
 * `family` (127.0.0.1 or ::1); its address is written to *addr.  Fails the
 * test on error.
 */
int tu_udp_loopback(int family, union tu_addr *addr);
socklen_t tu_addr_len(const union tu_addr *addr);

/* Whether ::1 can be bound here; when not, *why says why. */
int tu_ipv6_available(const char **why);

/* Set DGRAMBATCH_CAPS_DISABLE (NULL unsets it) and drop the probe cache. */
void tu_caps_disable(const char *list);

/*
 * Add the IPv6 variant of a test only where IPv6 works, and say on stderr
 * why it is left out otherwise.
 */
#define TU_ADD_IPV6_TEST(tc, tf)                                                 \
	do {                                                                     \
		const char *why_;                                                \
		if (tu_ipv6_available(&why_))                                    \
			tcase_add_test((tc), (tf));                              \
		else                                                             \
			fprintf(stderr, "SKIP %s: %s\n", #tf, why_);            \
	} while (0)

Suite *suite_probe(void);
Suite *suite_core(void);
Suite *suite_provider(void);
Suite *suite_dgram(void);
Suite *suite_mmsg(void);
Suite *suite_threads(void);

#endif /* DGB_TESTUTIL_H */
