/*
 * addr.h - socket addresses as OpenSSL's BIO_ADDR holds them.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The datagram controls and BIO_MSG pass BIO_ADDR pointers, and OpenSSL's
 * own BIO treats a BIO_ADDR as the union of socket addresses that it is
 * (sockaddr, sockaddr_in, sockaddr_in6, sockaddr_un): it copies by address
 * family on the way in and copies bytes on the way out, so that
 * BIO_dgram_get_peer() with a length copies part of an address, and the
 * kernel reads and writes a BIO_ADDR in place.  The module keeps its
 * addresses in a union of the same members and copies the same way, which
 * is what makes it indistinguishable to libssl.
 */
#ifndef DGB_ADDR_H
#define DGB_ADDR_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The members of OpenSSL's BIO_ADDR, so that the sizes agree too. */
union dgb_addr {
	struct sockaddr sa;
	struct sockaddr_in6 s_in6;
	struct sockaddr_in s_in;
	struct sockaddr_un s_un;
};

/*
 * BIO_ADDR_make's rules: copy a socket address of a family the BIO knows
 * and return 1; anything else clears *dst and returns 0.
 */
int dgb_addr_set(union dgb_addr *dst, const void *src);

/* No address: AF_UNSPEC, all bytes zero. */
void dgb_addr_clear(union dgb_addr *a);

/* The size of the socket address a holds (the whole union for none). */
socklen_t dgb_addr_size(const union dgb_addr *a);

/*
 * Copy a to a caller's BIO_ADDR: its whole size, or the first num bytes
 * when num is smaller (0: the whole size).  Returns the bytes copied.
 */
long dgb_addr_copy_out(void *dst, const union dgb_addr *a, long num);

#endif /* DGB_ADDR_H */
