/*
 * bio_method.c - the datagram BIO_METHOD, assembled with BIO_meth_new.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * A BIO of this method owns a UDP socket and moves one datagram per
 * BIO_read/BIO_write through the batched-syscall core.  The socket and the
 * peer address live in struct dgb_bio; OpenSSL's BIO_ADDR is opaque to a
 * module, so addresses cross the boundary through BIO_ADDR_rawaddress and
 * BIO_ADDR_rawmake.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#include "core/core.h"
#include "glue.h"

union dgb_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_storage ss;
};

struct dgb_bio {
	int fd;
	/* Set through BIO_ctrl_set_connected: use send/recv, not sendto/recvfrom. */
	int connected;
	union dgb_sockaddr peer;
};

static socklen_t sockaddr_len(const union dgb_sockaddr *a)
{
	switch (a->sa.sa_family) {
	case AF_INET:
		return sizeof(a->sin);
	case AF_INET6:
		return sizeof(a->sin6);
	default:
		return 0;
	}
}

/* BIO_ADDR -> sockaddr; an unset or unusable BIO_ADDR clears *out. */
static int addr_from_bio(union dgb_sockaddr *out, const BIO_ADDR *ap)
{
	size_t len;

	memset(out, 0, sizeof(*out));
	if (ap == NULL)
		return 0;
	switch (BIO_ADDR_family(ap)) {
	case AF_INET:
		len = sizeof(out->sin.sin_addr);
		if (!BIO_ADDR_rawaddress(ap, &out->sin.sin_addr, &len))
			return 0;
		out->sin.sin_family = AF_INET;
		out->sin.sin_port = BIO_ADDR_rawport(ap);
		return 1;
	case AF_INET6:
		len = sizeof(out->sin6.sin6_addr);
		if (!BIO_ADDR_rawaddress(ap, &out->sin6.sin6_addr, &len))
			return 0;
		out->sin6.sin6_family = AF_INET6;
		out->sin6.sin6_port = BIO_ADDR_rawport(ap);
		return 1;
	default:
		return 0;
	}
}

/* sockaddr -> BIO_ADDR; anything but IPv4/IPv6 gives a cleared BIO_ADDR. */
static int addr_to_bio(BIO_ADDR *ap, const union dgb_sockaddr *in)
{
	switch (in->sa.sa_family) {
	case AF_INET:
		return BIO_ADDR_rawmake(ap, AF_INET, &in->sin.sin_addr,
					sizeof(in->sin.sin_addr), in->sin.sin_port);
	case AF_INET6:
		return BIO_ADDR_rawmake(ap, AF_INET6, &in->sin6.sin6_addr,
					sizeof(in->sin6.sin6_addr), in->sin6.sin6_port);
	default:
		BIO_ADDR_clear(ap);
		return 1;
	}
}

static int dgb_create(BIO *b)
{
	struct dgb_bio *d = OPENSSL_zalloc(sizeof(*d));

	if (d == NULL)
		return 0;
	d->fd = -1;
	BIO_set_data(b, d);
	/* Not initialised until a socket is attached, as with BIO_s_datagram. */
	BIO_set_init(b, 0);
	return 1;
}

static void release_fd(BIO *b, struct dgb_bio *d)
{
	if (d->fd >= 0 && BIO_get_shutdown(b))
		close(d->fd);
	d->fd = -1;
	BIO_set_init(b, 0);
}

static int dgb_destroy(BIO *b)
{
	struct dgb_bio *d = BIO_get_data(b);

	if (d == NULL)
		return 0;
	release_fd(b, d);
	OPENSSL_free(d);
	BIO_set_data(b, NULL);
	return 1;
}

static int set_retry_if_transient(BIO *b, ssize_t r, int write)
{
	if (r >= 0 || dgb_errclass((int)-r) != DGB_ERR_TRANSIENT)
		return 0;
	if (write)
		BIO_set_retry_write(b);
	else
		BIO_set_retry_read(b);
	return 1;
}

static int dgb_read(BIO *b, char *out, int outl)
{
	struct dgb_bio *d = BIO_get_data(b);
	union dgb_sockaddr from;
	struct iovec iov = { .iov_base = out, .iov_len = outl > 0 ? (size_t)outl : 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	BIO_clear_retry_flags(b);
	if (out == NULL || d == NULL || d->fd < 0)
		return 0;
	memset(&from, 0, sizeof(from));
	if (!d->connected) {
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
	}
	r = dgb_recvmsg(d->fd, &mh, 0);
	if (r < 0) {
		set_retry_if_transient(b, r, 0);
		errno = (int)-r;
		return -1;
	}
	/* The documented hazard: on an unconnected socket the sender becomes the peer. */
	if (!d->connected && mh.msg_namelen > 0)
		d->peer = from;
	return (int)r;
}

static int dgb_write(BIO *b, const char *in, int inl)
{
	struct dgb_bio *d = BIO_get_data(b);
	struct iovec iov = { .iov_base = (void *)in, .iov_len = inl > 0 ? (size_t)inl : 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	BIO_clear_retry_flags(b);
	if (in == NULL || d == NULL || d->fd < 0)
		return 0;
	if (!d->connected && d->peer.sa.sa_family != AF_UNSPEC) {
		mh.msg_name = &d->peer;
		mh.msg_namelen = sockaddr_len(&d->peer);
	}
	r = dgb_sendmsg(d->fd, &mh, 0);
	if (r < 0) {
		set_retry_if_transient(b, r, 1);
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

static int dgb_puts(BIO *b, const char *str)
{
	return dgb_write(b, str, (int)strlen(str));
}

static long dgb_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct dgb_bio *d = BIO_get_data(b);

	if (d == NULL)
		return 0;
	switch (cmd) {
	case BIO_C_SET_FD:
		release_fd(b, d);
		if (ptr == NULL)
			return 0;
		d->fd = *(int *)ptr;
		BIO_set_shutdown(b, (int)num);
		BIO_set_init(b, 1);
		return 1;
	case BIO_C_GET_FD:
		if (!BIO_get_init(b))
			return -1;
		if (ptr != NULL)
			*(int *)ptr = d->fd;
		return d->fd;
	case BIO_CTRL_GET_CLOSE:
		return BIO_get_shutdown(b);
	case BIO_CTRL_SET_CLOSE:
		BIO_set_shutdown(b, (int)num);
		return 1;
	case BIO_CTRL_FLUSH:
	case BIO_CTRL_DUP:
		return 1;
	case BIO_CTRL_DGRAM_CONNECT:
	case BIO_CTRL_DGRAM_SET_PEER:
		addr_from_bio(&d->peer, ptr);
		return 1;
	case BIO_CTRL_DGRAM_SET_CONNECTED:
		d->connected = ptr != NULL;
		addr_from_bio(&d->peer, ptr);
		return 1;
	case BIO_CTRL_DGRAM_GET_PEER:
		if (ptr == NULL)
			return 0;
		return addr_to_bio(ptr, &d->peer) ? (long)sockaddr_len(&d->peer) : 0;
	default:
		return 0;
	}
}

BIO_METHOD *dgb_bio_method_new(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_TYPE_DGRAM, "dgrambatch datagram socket");

	if (m == NULL)
		return NULL;
	if (!BIO_meth_set_write(m, dgb_write) ||
	    !BIO_meth_set_read(m, dgb_read) ||
	    !BIO_meth_set_puts(m, dgb_puts) ||
	    !BIO_meth_set_ctrl(m, dgb_ctrl) ||
	    !BIO_meth_set_create(m, dgb_create) ||
	    !BIO_meth_set_destroy(m, dgb_destroy)) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}
