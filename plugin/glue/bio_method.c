/*
 * bio_method.c - the datagram BIO_METHOD, assembled with BIO_meth_new.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * A BIO of this method owns a UDP socket and behaves as OpenSSL 3.5's
 * BIO_s_datagram does: one datagram per BIO_read/BIO_write, the same
 * controls with the same return values, the same retry flags, the same
 * errors on the stack.  Where OpenSSL would dereference a NULL argument the
 * module raises ERR_R_PASSED_NULL_PARAMETER and returns 0 instead; that and
 * the other intended differences are listed in dgrambatch(7).
 *
 * Addresses are kept as BIO_ADDR keeps them; see addr.h.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#include "dgrambatch.h"
#include "core/core.h"
#include "glue.h"
#include "addr.h"
#include "dgram.h"
#include "ossl.h"
#include "probe/probe.h"

/* --- addresses ---------------------------------------------------------- */

static int is_v4mapped(const union dgb_addr *a)
{
	return a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->s_in6.sin6_addr);
}

/* UDP over IPv4 costs 20 + 8 bytes, over IPv6 40 + 8. */
static long mtu_overhead(const union dgb_addr *a)
{
	return a->sa.sa_family == AF_INET6 && !is_v4mapped(a) ? 48 : 28;
}

/* The smallest MTU the network layer must carry (576 or 1280), less overhead. */
static long fallback_mtu(const union dgb_addr *a)
{
	long min = a->sa.sa_family == AF_INET6 && !is_v4mapped(a) ? 1280 : 576;

	return min - mtu_overhead(a);
}

/* --- errors ------------------------------------------------------------- */

static long null_arg(void)
{
	ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
	return 0;
}

static void raise_sys(int err, const char *call)
{
	ERR_raise_data(ERR_LIB_SYS, err, "calling %s", call);
}

/* --- life cycle --------------------------------------------------------- */

static int dgb_create(BIO *b)
{
	struct dgb_bio *d = OPENSSL_zalloc(sizeof(*d));

	if (d == NULL)
		return 0;
	d->fd = -1;
	dgb_sock_rx_init(&d->rx);
	dgb_addr_clear(&d->peer);
	dgb_addr_clear(&d->local);
	BIO_set_data(b, d);
	/* Not initialised until a socket is attached, as with BIO_s_datagram. */
	BIO_set_init(b, 0);
	return 1;
}

/*
 * Give up the socket, closing it if the BIO owns it.  A socket that stays
 * open gets back the receive settings GRO changed.
 */
static void release_fd(BIO *b, struct dgb_bio *d)
{
	int closing = BIO_get_shutdown(b) && BIO_get_init(b) && d->fd >= 0;

	dgb_sock_rx_release(&d->rx, d->fd, !closing);
	if (BIO_get_shutdown(b)) {
		if (BIO_get_init(b) && d->fd >= 0)
			close(d->fd);
		BIO_set_init(b, 0);
		BIO_clear_flags(b, ~0);
	}
}

static int dgb_destroy(BIO *b)
{
	struct dgb_bio *d = BIO_get_data(b);

	if (d == NULL)
		return 0;
	release_fd(b, d);
	dgb_sock_rx_destroy(&d->rx);
	OPENSSL_free(d);
	BIO_set_data(b, NULL);
	return 1;
}

/* --- local addresses ---------------------------------------------------- */

/* Ask the kernel for the destination address of each received datagram. */
static int enable_local_addr(struct dgb_bio *d, int enable)
{
	switch (d->local.sa.sa_family) {
	case AF_INET:
		return setsockopt(d->fd, IPPROTO_IP, IP_PKTINFO, &enable, sizeof(enable)) == 0;
	case AF_INET6:
		return setsockopt(d->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &enable,
				  sizeof(enable)) == 0;
	default:
		return 0;
	}
}

/*
 * Whether this BIO's socket can use a UDP offload: UDP, IPv4 or IPv6, a
 * kernel with the offload's option (cap; DGRAMBATCH_CAPS_DISABLE=udp_segment
 * or udp_gro says no), and a configuration that allows it (allowed).
 */
static int offload_possible(const struct dgb_bio *d, int allowed, unsigned int cap)
{
	int proto = 0;
	socklen_t len = sizeof(proto);

	return allowed && dgb_cap_usable(cap) &&
	       (d->local.sa.sa_family == AF_INET || d->local.sa.sa_family == AF_INET6) &&
	       getsockopt(d->fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
	       proto == IPPROTO_UDP;
}

/* Segmented sends: gso = auto and UDP_SEGMENT. */
static int gso_possible(const struct dgb_bio *d)
{
	return offload_possible(d, dgb_gso_allowed(), DGB_CAP_UDP_SEGMENT);
}

/* Coalesced receives: gro = auto, UDP_GRO, and not refused for this BIO. */
static int gro_possible(const struct dgb_bio *d)
{
	return !d->gro_refused && offload_possible(d, dgb_gro_allowed(), DGB_CAP_UDP_GRO);
}

/*
 * UDP GRO goes on at a BIO's first batched receive, not when the socket is
 * attached: a program that receives in batches through the BIO has handed
 * it the reading, while one that only calls BIO_read(), or reads the socket
 * itself, never sees its socket changed.  Concurrent first receives meet in
 * dgb_sock_rx_enable(), which turns it on once; none of them receives
 * before the decision is made.
 */
void dgb_bio_gro_decide(struct dgb_bio *d)
{
	int undecided = DGB_GRO_UNDECIDED;

	if (gro_possible(d) && dgb_sock_rx_enable(&d->rx, d->fd) == 0)
		return;
	atomic_compare_exchange_strong(&d->rx.gro, &undecided, DGB_GRO_OFF);
}

static long set_fd(BIO *b, struct dgb_bio *d, long close_flag, const int *fdp)
{
	union dgb_addr a;
	socklen_t len = sizeof(a);

	if (fdp == NULL)
		return null_arg();
	release_fd(b, d);
	d->fd = *fdp;
	BIO_set_shutdown(b, (int)close_flag);
	BIO_set_init(b, 1);

	if (getsockname(d->fd, &d->local.sa, &len) != 0)
		dgb_addr_clear(&d->local);
	/* A socket connected beforehand is used as one, as OpenSSL 3.2+ does. */
	len = sizeof(a);
	memset(&a, 0, sizeof(a));
	if (getpeername(d->fd, &a.sa, &len) == 0 && dgb_addr_set(&d->peer, &a))
		d->connected = 1;
	if (d->local_addr_enabled && !enable_local_addr(d, 1))
		d->local_addr_enabled = 0;
	/* Socket-option probes still open are answered from this socket. */
	dgb_caps_learn_fd(d->fd);
	atomic_store(&d->tx.gso, gso_possible(d));
	/* A socket that has UDP_GRO already is split from the first read on. */
	if (dgb_sock_rx_attach(&d->rx, d->fd, 0) < 0) {
		/*
		 * Its reads would get trains whole: the BIO is left without a
		 * socket (a socket it was given to own is closed, not leaked).
		 */
		ERR_raise(ERR_LIB_BIO, ERR_R_MALLOC_FAILURE);
		if (close_flag)
			close(d->fd);
		d->fd = -1;
		BIO_set_init(b, 0);
		return 0;
	}
	return 1;
}

/* --- the DTLS timer ----------------------------------------------------- */

static int timer_active(const struct dgb_bio *d)
{
	return d->next_timeout.tv_sec != 0 || d->next_timeout.tv_usec != 0;
}

/*
 * While DTLS has a retransmission deadline, a blocking read must return by
 * then: lower SO_RCVTIMEO to the time left (at least 1us) if the socket's
 * own timeout is longer or unset, and put it back after the read.
 */
static void timer_before_read(struct dgb_bio *d)
{
	struct timeval now, left, cur;
	socklen_t len = sizeof(cur);

	if (!timer_active(d))
		return;
	if (getsockopt(d->fd, SOL_SOCKET, SO_RCVTIMEO, &cur, &len) != 0)
		raise_sys(errno, "getsockopt()");
	else
		d->socket_timeout = cur;

	gettimeofday(&now, NULL);
	timersub(&d->next_timeout, &now, &left);
	if (left.tv_sec < 0 || (left.tv_sec == 0 && left.tv_usec < 1)) {
		left.tv_sec = 0;
		left.tv_usec = 1;
	}
	if ((d->socket_timeout.tv_sec == 0 && d->socket_timeout.tv_usec == 0) ||
	    !timercmp(&d->socket_timeout, &left, <)) {
		if (setsockopt(d->fd, SOL_SOCKET, SO_RCVTIMEO, &left, sizeof(left)) != 0)
			raise_sys(errno, "setsockopt()");
	}
}

static void timer_after_read(struct dgb_bio *d)
{
	if (!timer_active(d))
		return;
	if (setsockopt(d->fd, SOL_SOCKET, SO_RCVTIMEO, &d->socket_timeout,
		       sizeof(d->socket_timeout)) != 0)
		raise_sys(errno, "setsockopt()");
}

/* --- reads and writes --------------------------------------------------- */

/*
 * ICMP errors on BIO_read/BIO_write.  On a connected UDP socket the kernel
 * queues the error an ICMP message reports (port or host unreachable, and
 * so on) and returns it from the next call on the socket, once; a send
 * that returns it has not sent its datagram.  OpenSSL's own BIO returns it
 * as a fatal error, and DTLS then ends the connection; as ICMP is not
 * authenticated, anyone on the path can forge one.  The module absorbs it:
 * it counts the error (dgrambatch-icmp-errors) and makes the call again,
 * which then reads the next datagram or sends this one, so nothing is lost
 * and nothing sent twice.  A few in a row are absorbed; after that the
 * error is returned as OpenSSL would.  The price: a DTLS client whose
 * server is not there waits for its handshake timer instead of failing at
 * the first port unreachable.  See dgrambatch(7), "ICMP errors".
 */
#define ICMP_ABSORB_MAX 8

/* The outcome of a read or write that failed with err, as OpenSSL sets it. */
static int io_failed(BIO *b, struct dgb_bio *d, int err, int write)
{
	if (dgb_err_bio_retry(err)) {
		if (write)
			BIO_set_retry_write(b);
		else
			BIO_set_retry_read(b);
		d->last_errno = err;
	}
	errno = err;
	return -1;
}

static ssize_t read_one(struct dgb_bio *d, char *out, int outl, union dgb_addr *from)
{
	ssize_t r;
	int tries = 0, flags = d->peek ? MSG_PEEK : 0;

	do {
		struct iovec iov = { .iov_base = out, .iov_len = outl > 0 ? (size_t)outl : 0 };
		struct msghdr mh = {
			.msg_name = from,
			.msg_namelen = sizeof(*from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};

		struct mmsghdr one = { .msg_hdr = mh };

		dgb_addr_clear(from);
		/* One datagram, also where the socket hands over trains (GRO). */
		r = dgb_sock_recv(d->fd, &one, 1, flags, &d->rx);
		if (r > 0)
			r = one.msg_len;
		/*
		 * After an ICMP error, look again without waiting: the error
		 * woke a reader (poll or select said readable) whose peer may be
		 * gone for good, and a blocking socket must not then wait for a
		 * datagram that never comes.  Nothing there is EAGAIN, a retry,
		 * as a receive timeout gives one.
		 */
		flags |= MSG_DONTWAIT;
	} while (r < 0 && dgb_errclass((int)-r) == DGB_ERR_ICMP && ++tries < ICMP_ABSORB_MAX);
	return r;
}

static int dgb_read(BIO *b, char *out, int outl)
{
	struct dgb_bio *d = BIO_get_data(b);
	union dgb_addr from;
	ssize_t r;

	if (out == NULL)
		return 0;
	errno = 0;
	timer_before_read(d);
	r = read_one(d, out, outl, &from);
	/* The documented hazard: on an unconnected socket the sender becomes the peer. */
	if (!d->connected && r >= 0)
		dgb_addr_set(&d->peer, &from);
	BIO_clear_retry_flags(b);
	timer_after_read(d);
	return r < 0 ? io_failed(b, d, (int)-r, 0) : (int)r;
}

static ssize_t write_one(struct dgb_bio *d, const char *in, size_t len)
{
	ssize_t r;
	int tries = 0, prev = 0;

	do {
		if (d->connected) {
			r = dgb_sock_write(d->fd, in, len);
		} else {
			struct iovec iov = { .iov_base = (void *)in, .iov_len = len };
			struct msghdr mh = {
				.msg_name = &d->peer,
				.msg_namelen = dgb_addr_size(&d->peer),
				.msg_iov = &iov,
				.msg_iovlen = 1,
			};

			r = dgb_sock_sendmsg(d->fd, &mh, 0);
		}
	} while (r < 0 && dgb_icmp_retry((int)-r, prev, len) &&
		 (prev = (int)-r, ++tries < ICMP_ABSORB_MAX));
	return r;
}

static int dgb_write(BIO *b, const char *in, int inl)
{
	struct dgb_bio *d = BIO_get_data(b);
	ssize_t r;

	errno = 0;
	r = write_one(d, in, inl > 0 ? (size_t)inl : 0);
	BIO_clear_retry_flags(b);
	return r < 0 ? io_failed(b, d, (int)-r, 1) : (int)r;
}

static int dgb_puts(BIO *b, const char *str)
{
	return dgb_write(b, str, (int)strlen(str));
}

/* --- controls ----------------------------------------------------------- */

/* A setsockopt/getsockopt control: 0 or the length on success, -1 raised. */
static long sockopt_result(int r, const char *call, long ok)
{
	if (r < 0) {
		raise_sys(errno, call);
		return -1;
	}
	return ok;
}

static long mtu_discover(struct dgb_bio *d)
{
	union dgb_addr a;
	socklen_t len = sizeof(a);
	int v;

	if (getsockname(d->fd, &a.sa, &len) < 0)
		return 0;
	switch (a.sa.sa_family) {
	case AF_INET:
		v = IP_PMTUDISC_DO;
		return sockopt_result(setsockopt(d->fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)),
				      "setsockopt()", 0);
	case AF_INET6:
		v = IPV6_PMTUDISC_DO;
		return sockopt_result(setsockopt(d->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v,
						 sizeof(v)),
				      "setsockopt()", 0);
	default:
		return -1;
	}
}

/* The path MTU the kernel knows for a connected socket, less overhead. */
static long query_mtu(struct dgb_bio *d)
{
	union dgb_addr a;
	socklen_t len = sizeof(a);
	int v = 0;
	socklen_t vlen = sizeof(v);
	int r;

	memset(&a, 0, sizeof(a));
	if (getsockname(d->fd, &a.sa, &len) < 0)
		return 0;
	switch (a.sa.sa_family) {
	case AF_INET:
		r = getsockopt(d->fd, IPPROTO_IP, IP_MTU, &v, &vlen);
		break;
	case AF_INET6:
		r = getsockopt(d->fd, IPPROTO_IPV6, IPV6_MTU, &v, &vlen);
		break;
	default:
		return 0;
	}
	if (r < 0 || v < 0)
		return 0;
	d->mtu = (unsigned int)(v - mtu_overhead(&a));
	return (long)d->mtu;
}

/* Don't Fragment on or off, by the peer's address family. */
static long set_dont_frag(struct dgb_bio *d, long on)
{
	int v;

	switch (d->peer.sa.sa_family) {
	case AF_INET:
		v = on ? IP_PMTUDISC_PROBE : IP_PMTUDISC_DONT;
		return sockopt_result(setsockopt(d->fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)),
				      "setsockopt()", 0);
	case AF_INET6:
		v = on ? 1 : 0;
		return sockopt_result(setsockopt(d->fd, IPPROTO_IPV6, IPV6_DONTFRAG, &v, sizeof(v)),
				      "setsockopt()", 0);
	default:
		return -1;
	}
}

static long get_timeout(struct dgb_bio *d, int opt, void *ptr)
{
	socklen_t len = sizeof(struct timeval);

	if (getsockopt(d->fd, SOL_SOCKET, opt, ptr, &len) < 0) {
		raise_sys(errno, "getsockopt()");
		return -1;
	}
	if (len != sizeof(struct timeval)) {
		ERR_raise_data(ERR_LIB_BIO, ERR_R_INTERNAL_ERROR, "unexpected timeout size %u",
			       (unsigned int)len);
		return -1;
	}
	return (long)len;
}

static long detect_peer(struct dgb_bio *d, long num, void *ptr)
{
	union dgb_addr a;
	socklen_t len = sizeof(a);

	if (ptr == NULL)
		return null_arg();
	if (d->peer.sa.sa_family != AF_UNSPEC)
		return dgb_addr_copy_out(ptr, &d->peer, num);
	memset(&a, 0, sizeof(a));
	if (getpeername(d->fd, &a.sa, &len) != 0 || a.sa.sa_family == AF_UNSPEC)
		return 0;
	return dgb_addr_copy_out(ptr, &a, num);
}

/*
 * BIO_dup_chain() makes a new BIO of this method, copies the BIO-level
 * fields, then asks the original to copy its state.  OpenSSL's datagram
 * BIO keeps its socket in a BIO-level field and copies nothing else, so the
 * copy shares the socket and starts with no peer or settings; so does this.
 */
static long dup_state(const struct dgb_bio *d, BIO *to)
{
	if (to != NULL && BIO_ctrl(to, DGB_CTRL_IDENTIFY, 0, to) == DGB_IDENTITY) {
		struct dgb_bio *c = BIO_get_data(to);

		c->fd = d->fd;
		/* Where the shared socket has GRO on, the copy must split too. */
		if (dgb_sock_rx_attach(&c->rx, c->fd, 1) < 0)
			return 0;
	}
	return 1;
}

/* The timer flags read once: a second query answers 0. */
static long take_errno(struct dgb_bio *d, int err)
{
	if (d->last_errno != err)
		return 0;
	d->last_errno = 0;
	return 1;
}

/*
 * The controls, by concern.  Each handler answers the controls it knows
 * with their final value, and NOT_MINE for the others; dgb_ctrl asks them
 * in turn, and answers 0 to a control none of them knows, as OpenSSL does.
 */
#define NOT_MINE LONG_MIN

typedef long ctrl_fn(BIO *b, struct dgb_bio *d, int cmd, long num, void *ptr);

/* What every BIO answers: the socket, the close flag, reads and polling. */
static long ctrl_bio(BIO *b, struct dgb_bio *d, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_RESET:
	case BIO_CTRL_INFO:
	case BIO_CTRL_WPENDING:
		return 0;
	/* Datagrams of a train that earlier reads kept (GRO); else none. */
	case BIO_CTRL_PENDING:
		return (long)dgb_sock_rx_pending(&d->rx);
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DUP:
		return dup_state(d, ptr);
	case BIO_C_SET_FD:
		return set_fd(b, d, num, ptr);
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
	case BIO_C_SET_NBIO:
		return BIO_socket_nbio(d->fd, num != 0) ? 1 : 0;
	/* 50 is the number SET_PEEK_MODE had before 1.1.1; OpenSSL still answers it. */
	case BIO_CTRL_DGRAM_SCTP_SET_IN_HANDSHAKE:
	case BIO_CTRL_DGRAM_SET_PEEK_MODE:
		d->peek = (int)num;
		return 1;
	case BIO_CTRL_GET_RPOLL_DESCRIPTOR:
	case BIO_CTRL_GET_WPOLL_DESCRIPTOR: {
		DGB_POLL_DESCRIPTOR *pd = ptr;

		if (pd == NULL)
			return null_arg();
		pd->type = BIO_POLL_DESCRIPTOR_TYPE_SOCK_FD;
		pd->value.fd = d->fd;
		return 1;
	}
	default:
		return NOT_MINE;
	}
}

static long ctrl_peer(BIO *b, struct dgb_bio *d, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_DGRAM_CONNECT:
	case BIO_CTRL_DGRAM_SET_PEER:
		if (ptr == NULL)
			return null_arg();
		dgb_addr_set(&d->peer, ptr);
		return 1;
	case BIO_CTRL_DGRAM_SET_CONNECTED:
		if (ptr != NULL) {
			d->connected = 1;
			dgb_addr_set(&d->peer, ptr);
		} else {
			d->connected = 0;
			dgb_addr_clear(&d->peer);
		}
		return 1;
	case BIO_CTRL_DGRAM_GET_PEER:
		if (ptr == NULL)
			return null_arg();
		return dgb_addr_copy_out(ptr, &d->peer, num);
	case BIO_CTRL_DGRAM_DETECT_PEER_ADDR:
		return detect_peer(d, num, ptr);
	default:
		return NOT_MINE;
	}
}

static long ctrl_mtu(BIO *b, struct dgb_bio *d, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_DGRAM_MTU_DISCOVER:
		return mtu_discover(d);
	case BIO_CTRL_DGRAM_QUERY_MTU:
		return query_mtu(d);
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return fallback_mtu(&d->peer);
	case BIO_CTRL_DGRAM_GET_MTU:
		return (long)d->mtu;
	case BIO_CTRL_DGRAM_SET_MTU:
		d->mtu = (unsigned int)num;
		return num < 0 ? -1 : num;
	case BIO_CTRL_DGRAM_MTU_EXCEEDED:
		return take_errno(d, EMSGSIZE);
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return mtu_overhead(&d->peer);
	case BIO_CTRL_DGRAM_SET_DONT_FRAG:
		return set_dont_frag(d, num);
	default:
		return NOT_MINE;
	}
}

static long ctrl_timeout(BIO *b, struct dgb_bio *d, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
		if (ptr == NULL)
			return null_arg();
		memcpy(&d->next_timeout, ptr, sizeof(d->next_timeout));
		return 1;
	case BIO_CTRL_DGRAM_SET_RECV_TIMEOUT:
		return sockopt_result(setsockopt(d->fd, SOL_SOCKET, SO_RCVTIMEO, ptr,
						 sizeof(struct timeval)),
				      "setsockopt()", 0);
	case BIO_CTRL_DGRAM_GET_RECV_TIMEOUT:
		return get_timeout(d, SO_RCVTIMEO, ptr);
	case BIO_CTRL_DGRAM_SET_SEND_TIMEOUT:
		return sockopt_result(setsockopt(d->fd, SOL_SOCKET, SO_SNDTIMEO, ptr,
						 sizeof(struct timeval)),
				      "setsockopt()", 0);
	case BIO_CTRL_DGRAM_GET_SEND_TIMEOUT:
		return get_timeout(d, SO_SNDTIMEO, ptr);
	case BIO_CTRL_DGRAM_GET_RECV_TIMER_EXP:
	case BIO_CTRL_DGRAM_GET_SEND_TIMER_EXP:
		return take_errno(d, EAGAIN);
	default:
		return NOT_MINE;
	}
}

static long set_local_addr_enable(struct dgb_bio *d, long num)
{
	num = num > 0;
	/*
	 * The socket may have been bound since it was attached; the batched
	 * paths need its current address and port.
	 */
	if (num) {
		socklen_t len = sizeof(d->local);

		if (getsockname(d->fd, &d->local.sa, &len) != 0)
			dgb_addr_clear(&d->local);
	}
	if (num != d->local_addr_enabled) {
		if (!enable_local_addr(d, (int)num))
			return 0;
		d->local_addr_enabled = (int)num;
	}
	return 1;
}

static long ctrl_local(BIO *b, struct dgb_bio *d, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_DGRAM_GET_LOCAL_ADDR_CAP:
		return 1;
	case BIO_CTRL_DGRAM_SET_LOCAL_ADDR_ENABLE:
		return set_local_addr_enable(d, num);
	case BIO_CTRL_DGRAM_GET_LOCAL_ADDR_ENABLE:
		if (ptr == NULL)
			return null_arg();
		*(int *)ptr = d->local_addr_enabled;
		return 1;
	case BIO_CTRL_DGRAM_GET_EFFECTIVE_CAPS:
		return (long)(BIO_DGRAM_CAP_HANDLES_DST_ADDR | BIO_DGRAM_CAP_HANDLES_SRC_ADDR |
			      BIO_DGRAM_CAP_PROVIDES_DST_ADDR | BIO_DGRAM_CAP_PROVIDES_SRC_ADDR);
	default:
		return NOT_MINE;
	}
}

/*
 * dgrambatch.h 0.1.0's DGB_MMSG_ARGS, with no version, and its control
 * numbers.  Programs built with that header send it; it is served as long
 * as they may be around.
 */
#define CTRL_SENDMMSG_V0 0x44474202
#define CTRL_RECVMMSG_V0 0x44474203

struct mmsg_args_v0 {
	BIO *bio;
	DGB_MSG *msg;
	size_t stride;
	size_t num_msg;
	uint64_t flags;
	size_t *msgs_processed;
	int handled;
	int result;
};

static int bio_mmsg(BIO *b, int send, DGB_MSG *msg, size_t stride, size_t num_msg,
		    uint64_t flags, size_t *msgs_processed)
{
	return send ? dgb_bio_sendmmsg(b, msg, stride, num_msg, flags, msgs_processed)
		    : dgb_bio_recvmmsg(b, msg, stride, num_msg, flags, msgs_processed);
}

/*
 * The versioned DGB_MMSG_ARGS.  Its first four members keep their places in
 * every version, so a structure of a version this module does not speak is
 * still answered: refused, with an error that says why, and never read.
 */
static long mmsg_v1(BIO *b, int send, DGB_MMSG_ARGS *a)
{
	if (a == NULL || a->size < offsetof(DGB_MMSG_ARGS, bio))
		return 0;
	if (a->abi != DGB_MMSG_ABI || a->size < sizeof(*a)) {
		ERR_raise_data(ERR_LIB_BIO, ERR_R_UNSUPPORTED,
			       "dgrambatch.h private interface version %u (%u bytes) is not one "
			       "this module serves (version %d, %zu bytes); rebuild the program "
			       "with this module's dgrambatch.h",
			       (unsigned int)a->abi, (unsigned int)a->size, DGB_MMSG_ABI,
			       sizeof(*a));
		a->handled = 1;
		a->result = 0;
		return 0;
	}
	if (a->bio != b)
		return 0;
	a->handled = 1;
	a->result = bio_mmsg(b, send, a->msg, a->stride, a->num_msg, a->flags,
			     a->msgs_processed);
	return a->result;
}

/*
 * DGB_set_gro(): off only while GRO is not on yet, since trains may already
 * be queued on the socket and would reach a reader outside the BIO whole
 * (the kernel stops reporting their segment size when GRO goes off); on
 * at once where possible.
 */
static long set_gro(BIO *b, struct dgb_bio *d, long on)
{
	int undecided = DGB_GRO_UNDECIDED;

	if (!on) {
		if (dgb_sock_rx_on(&d->rx)) {
			ERR_raise_data(ERR_LIB_BIO, ERR_R_OPERATION_FAIL,
				       "UDP GRO is on for this BIO's socket and cannot be turned "
				       "off; turn it off before the first batched receive, on a "
				       "socket without UDP_GRO");
			return 0;
		}
		d->gro_refused = 1;
		atomic_compare_exchange_strong(&d->rx.gro, &undecided, DGB_GRO_OFF);
		return 1;
	}
	if (dgb_sock_rx_on(&d->rx))
		return 1;
	d->gro_refused = 0;
	if (!BIO_get_init(b) || !gro_possible(d) || dgb_sock_rx_enable(&d->rx, d->fd) < 0)
		return 0;
	return 1;
}

/* The private controls, only for this very BIO, never for a filter passing them down. */
static long ctrl_private(BIO *b, struct dgb_bio *d, int cmd, long num, void *ptr)
{
	struct mmsg_args_v0 *v0 = ptr;

	switch (cmd) {
	case DGB_CTRL_IDENTIFY:
		return ptr == b ? DGB_IDENTITY : 0;
	case DGB_CTRL_GET_GSO:
		return ptr == b && atomic_load(&d->tx.gso);
	case DGB_CTRL_SET_GSO:
		if (ptr != b || (num && !gso_possible(d)))
			return 0;
		atomic_store(&d->tx.gso, num != 0);
		return 1;
	case DGB_CTRL_GET_GRO:
		return ptr == b && dgb_sock_rx_on(&d->rx);
	case DGB_CTRL_SET_GRO:
		return ptr == b ? set_gro(b, d, num) : 0;
	case DGB_CTRL_SENDMMSG:
	case DGB_CTRL_RECVMMSG:
		return mmsg_v1(b, cmd == DGB_CTRL_SENDMMSG, ptr);
	case CTRL_SENDMMSG_V0:
	case CTRL_RECVMMSG_V0:
		if (v0 == NULL || v0->bio != b)
			return 0;
		v0->handled = 1;
		v0->result = bio_mmsg(b, cmd == CTRL_SENDMMSG_V0, v0->msg, v0->stride,
				      v0->num_msg, v0->flags, v0->msgs_processed);
		return v0->result;
	default:
		return NOT_MINE;
	}
}

static long dgb_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	/* The private controls first: before 3.2 they carry every batched call. */
	static ctrl_fn *const handlers[] = {
		ctrl_private, ctrl_bio, ctrl_peer, ctrl_mtu, ctrl_timeout, ctrl_local,
	};
	struct dgb_bio *d = BIO_get_data(b);

	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		long r = handlers[i](b, d, cmd, num, ptr);

		if (r != NOT_MINE)
			return r;
	}
	return 0;
}

/* BIO_sendmmsg()/BIO_recvmmsg() of OpenSSL 3.2+ reach the batched paths directly. */
static int meth_sendmmsg(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg, uint64_t flags,
			 size_t *msgs_processed)
{
	return dgb_bio_sendmmsg(b, msg, stride, num_msg, flags, msgs_processed);
}

static int meth_recvmmsg(BIO *b, DGB_MSG *msg, size_t stride, size_t num_msg, uint64_t flags,
			 size_t *msgs_processed)
{
	return dgb_bio_recvmmsg(b, msg, stride, num_msg, flags, msgs_processed);
}

/* Whether the method has the batched calls registered with libcrypto. */
static atomic_int native_mmsg;

int dgb_bio_native_mmsg(void)
{
	(void)dgb_bio_method();
	return atomic_load(&native_mmsg);
}

static BIO_METHOD *method_new(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_TYPE_DGRAM, "dgrambatch datagram socket");
	int native;

	if (m == NULL)
		return NULL;
	if (!BIO_meth_set_write(m, dgb_write) ||
	    !BIO_meth_set_read(m, dgb_read) ||
	    !BIO_meth_set_puts(m, dgb_puts) ||
	    !BIO_meth_set_ctrl(m, dgb_ctrl) ||
	    !BIO_meth_set_create(m, dgb_create) ||
	    !BIO_meth_set_destroy(m, dgb_destroy))
		goto err;
	/*
	 * Decided by the libcrypto the module runs with, not the headers it
	 * was built with: a build on 3.0 run under 3.5 registers them, and a
	 * build on 3.5 run under 3.0 does not need them.
	 */
	native = dgb_ossl_set_mmsg(m, meth_sendmmsg, meth_recvmmsg);
	if (native < 0)
		goto err;
	atomic_store(&native_mmsg, native);
	return m;
err:
	BIO_meth_free(m);
	return NULL;
}

/*
 * One method for the whole process, built on first use and never freed.
 * BIOs hold a pointer to their method until they are freed, which may be
 * after OpenSSL has unloaded the provider (or at exit, after
 * OPENSSL_cleanup has torn the providers down); the module is linked with
 * -z nodelete, so the functions the method points to stay mapped as well.
 */
const BIO_METHOD *dgb_bio_method(void)
{
	static _Atomic(BIO_METHOD *) method;
	BIO_METHOD *m = atomic_load_explicit(&method, memory_order_acquire);
	BIO_METHOD *expected = NULL;

	if (m != NULL)
		return m;
	m = method_new();
	if (m == NULL)
		return NULL;
	/* Two first users may race; one method is kept, the other freed. */
	if (!atomic_compare_exchange_strong_explicit(&method, &expected, m,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		BIO_meth_free(m);
		m = expected;
	}
	return m;
}
