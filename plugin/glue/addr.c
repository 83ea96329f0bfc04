/*
 * addr.c - socket addresses as OpenSSL's BIO_ADDR holds them.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "addr.h"

socklen_t dgb_addr_size(const union dgb_addr *a)
{
	switch (a->sa.sa_family) {
	case AF_INET:
		return sizeof(a->s_in);
	case AF_INET6:
		return sizeof(a->s_in6);
	case AF_UNIX:
		return sizeof(a->s_un);
	default:
		return sizeof(*a);
	}
}

int dgb_addr_set(union dgb_addr *dst, const void *src)
{
	sa_family_t family;

	memset(dst, 0, sizeof(*dst));
	memcpy(&family, (const char *)src + offsetof(struct sockaddr, sa_family),
	       sizeof(family));
	switch (family) {
	case AF_INET:
		memcpy(&dst->s_in, src, sizeof(dst->s_in));
		return 1;
	case AF_INET6:
		memcpy(&dst->s_in6, src, sizeof(dst->s_in6));
		return 1;
	case AF_UNIX:
		memcpy(&dst->s_un, src, sizeof(dst->s_un));
		return 1;
	default:
		return 0;
	}
}

void dgb_addr_clear(union dgb_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->sa.sa_family = AF_UNSPEC;
}

long dgb_addr_copy_out(void *dst, const union dgb_addr *a, long num)
{
	long size = (long)dgb_addr_size(a);

	if (num == 0 || num > size)
		num = size;
	if (num < 0)
		num = 0;
	memcpy(dst, a, (size_t)num);
	return num;
}
