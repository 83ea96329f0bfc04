/*
 * testutil.c - helpers shared by the Check suites.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "probe/probe.h"

socklen_t tu_addr_len(const union tu_addr *addr)
{
	return addr->sa.sa_family == AF_INET6 ? sizeof(addr->sin6) : sizeof(addr->sin);
}

static int bind_loopback(int family, union tu_addr *addr)
{
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(addr, 0, sizeof(*addr));
	addr->sa.sa_family = (sa_family_t)family;
	if (family == AF_INET)
		addr->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		addr->sin6.sin6_addr = in6addr_loopback;
	len = tu_addr_len(addr);
	if (bind(fd, &addr->sa, len) != 0 || getsockname(fd, &addr->sa, &len) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int tu_udp_loopback(int family, union tu_addr *addr)
{
	int fd = bind_loopback(family, addr);

	ck_assert_msg(fd >= 0, "loopback UDP socket (family %d): %s", family, strerror(errno));
	return fd;
}

int tu_ipv6_available(const char **why)
{
	static int answer = -1;
	static char reason[128];
	union tu_addr a;

	if (answer < 0) {
		int fd = bind_loopback(AF_INET6, &a);

		answer = fd >= 0;
		if (fd >= 0)
			close(fd);
		else
			snprintf(reason, sizeof(reason), "cannot bind [::1]: %s", strerror(errno));
	}
	if (why != NULL)
		*why = reason;
	return answer;
}

void tu_caps_disable(const char *list)
{
	if (list != NULL)
		setenv("DGRAMBATCH_CAPS_DISABLE", list, 1);
	else
		unsetenv("DGRAMBATCH_CAPS_DISABLE");
	dgb_caps_reset();
}
