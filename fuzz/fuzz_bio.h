/*
 * fuzz_bio.h - what the socket-based harnesses share: the module's BIO on
 * one end of a real loopback UDP pair, the other end a plain socket.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DGB_FUZZ_BIO_H
#define DGB_FUZZ_BIO_H

#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#include "dgrambatch.h"
#include "glue/glue.h"
#include "fuzz.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

struct pair {
	int family;
	int fd;        /* the BIO's socket */
	int other;     /* the plain socket at the other end */
	BIO *b;
	BIO_ADDR *me;   /* the BIO's socket's address */
	BIO_ADDR *peer; /* the other socket's address */
	BIO_ADDR *closed; /* a loopback port nobody listens on (ICMP errors) */
	struct sockaddr_in6 me_sa, peer_sa; /* me and peer as socket addresses */
	socklen_t salen;
};

static int udp_socket(int family, BIO_ADDR *addr, struct sockaddr_in6 *sa)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in s4;
		struct sockaddr_in6 s6;
	} u;
	socklen_t len = family == AF_INET ? sizeof(u.s4) : sizeof(u.s6);
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	memset(&u, 0, sizeof(u));
	if (family == AF_INET) {
		u.s4.sin_family = AF_INET;
		u.s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		u.s6.sin6_family = AF_INET6;
		u.s6.sin6_addr = in6addr_loopback;
	}
	CHECK(bind(fd, &u.sa, len) == 0);
	CHECK(getsockname(fd, &u.sa, &len) == 0);
	memcpy(sa, &u, len);
	if (family == AF_INET)
		CHECK(BIO_ADDR_rawmake(addr, AF_INET, &u.s4.sin_addr, sizeof(u.s4.sin_addr),
				       u.s4.sin_port));
	else
		CHECK(BIO_ADDR_rawmake(addr, AF_INET6, &u.s6.sin6_addr, sizeof(u.s6.sin6_addr),
				       u.s6.sin6_port));
	return fd;
}

/* The pair, of family v6 ? AF_INET6 : AF_INET; the BIO made from the module's method. */
static void pair_open(struct pair *p, int v6)
{
	const BIO_METHOD *m = dgb_bio_method();

	CHECK(m != NULL);
	memset(p, 0, sizeof(*p));
	p->family = v6 ? AF_INET6 : AF_INET;
	p->me = BIO_ADDR_new();
	p->peer = BIO_ADDR_new();
	p->closed = BIO_ADDR_new();
	CHECK(p->me != NULL && p->peer != NULL && p->closed != NULL);
	p->fd = udp_socket(p->family, p->me, &p->me_sa);
	p->other = udp_socket(p->family, p->peer, &p->peer_sa);
	p->salen = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	/* Port 9 (discard): nothing listens on loopback, so sends there draw ICMP. */
	if (v6)
		CHECK(BIO_ADDR_rawmake(p->closed, AF_INET6, &in6addr_loopback,
				       sizeof(in6addr_loopback), htons(9)));
	else {
		struct in_addr lo = { htonl(INADDR_LOOPBACK) };

		CHECK(BIO_ADDR_rawmake(p->closed, AF_INET, &lo, sizeof(lo), htons(9)));
	}
	p->b = BIO_new(m);
	CHECK(p->b != NULL);
	BIO_set_fd(p->b, p->fd, BIO_NOCLOSE);
}

static void pair_close(struct pair *p)
{
	BIO_free(p->b);
	close(p->fd);
	close(p->other);
	BIO_ADDR_free(p->me);
	BIO_ADDR_free(p->peer);
	BIO_ADDR_free(p->closed);
	ERR_clear_error();
}

/*
 * The other end sends k datagrams of len bytes to the BIO, as one
 * segmented send (a GRO train where the BIO has GRO on) when seg is set.
 */
static void other_send(struct pair *p, unsigned int k, unsigned int len, int seg)
{
	static unsigned char buf[65507];
	union {
		char b[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh;
	uint16_t s = (uint16_t)len;

	if (len > sizeof(buf) / (k ? k : 1))
		len = sizeof(buf) / (k ? k : 1);
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &p->me_sa;
	mh.msg_namelen = p->salen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (seg && k > 1 && len > 0) {
		struct cmsghdr *c = &ctl.align;

		s = (uint16_t)len;
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(s));
		memcpy(CMSG_DATA(c), &s, sizeof(s));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		iov.iov_base = buf;
		iov.iov_len = (size_t)len * k;
		(void)sendmsg(p->other, &mh, MSG_DONTWAIT);
		return;
	}
	iov.iov_base = buf;
	iov.iov_len = len;
	for (unsigned int i = 0; i < k; i++)
		(void)sendmsg(p->other, &mh, MSG_DONTWAIT);
}

/* The other end reads what it was sent, so nothing piles up. */
static void other_drain(struct pair *p)
{
	static unsigned char buf[65536];

	while (recv(p->other, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

#endif /* DGB_FUZZ_BIO_H */
