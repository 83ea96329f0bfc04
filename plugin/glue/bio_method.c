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
 * Addresses.  The datagram controls pass BIO_ADDR pointers, and OpenSSL's
 * own BIO treats them as the union of socket addresses that BIO_ADDR is
 * (sockaddr, sockaddr_in, sockaddr_in6, sockaddr_un): it copies by the
 * address family on the way in and copies bytes on the way out, so that
 * BIO_dgram_get_peer() with a length copies part of an address.  The module
 * keeps its addresses in a union of the same members and copies the same
 * way, which is what makes it indistinguishable to libssl.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
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
#include "dgram.h"

/* --- addresses ---------------------------------------------------------- */

static socklen_t addr_size(const union dgb_addr *a)
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

/*
 * Copy a socket address of a family the BIO knows; anything else clears
 * *dst and returns 0, as BIO_ADDR_make does.
 */
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

/*
 * Copy an address out to a caller's BIO_ADDR: its whole size, or the first
 * `num` bytes when num is smaller.  Returns the number of bytes copied.
 */
static long addr_copy_out(void *dst, const union dgb_addr *a, long num)
{
	long size = (long)addr_size(a);

	if (num == 0 || num > size)
		num = size;
	if (num < 0)
		num = 0;
	memcpy(dst, a, (size_t)num);
	return num;
}

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

/*
 * The errors after which BIO_s_datagram sets a retry flag.  This is not
 * the core's transient class: ENOBUFS is not retried here, and EPROTO,
 * EINPROGRESS and EALREADY are, because that is what callers of a
 * datagram BIO have always seen.
 */
static int retryable(int err)
{
	switch (err) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case EINTR:
	case EPROTO:
	case EINPROGRESS:
	case EALREADY:
		return 1;
	default:
		return 0;
	}
}

/* --- life cycle --------------------------------------------------------- */

static int dgb_create(BIO *b)
{
	struct dgb_bio *d = OPENSSL_zalloc(sizeof(*d));

	if (d == NULL)
		return 0;
	d->fd = -1;
	dgb_addr_clear(&d->peer);
	dgb_addr_clear(&d->local);
	BIO_set_data(b, d);
	/* Not initialised until a socket is attached, as with BIO_s_datagram. */
	BIO_set_init(b, 0);
	return 1;
}

/* Give up the socket, closing it if the BIO owns it. */
static void release_fd(BIO *b, struct dgb_bio *d)
{
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

static int dgb_read(BIO *b, char *out, int outl)
{
	struct dgb_bio *d = BIO_get_data(b);
	union dgb_addr from;
	struct iovec iov;
	struct msghdr mh;
	ssize_t r;

	if (out == NULL)
		return 0;
	errno = 0;
	dgb_addr_clear(&from);
	timer_before_read(d);

	iov.iov_base = out;
	iov.iov_len = outl > 0 ? (size_t)outl : 0;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &from;
	mh.msg_namelen = sizeof(from);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	r = dgb_recvmsg(d->fd, &mh, d->peek ? MSG_PEEK : 0);

	/* The documented hazard: on an unconnected socket the sender becomes the peer. */
	if (!d->connected && r >= 0)
		dgb_addr_set(&d->peer, &from);

	BIO_clear_retry_flags(b);
	if (r < 0 && retryable((int)-r)) {
		BIO_set_retry_read(b);
		d->last_errno = (int)-r;
	}
	timer_after_read(d);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

static int dgb_write(BIO *b, const char *in, int inl)
{
	struct dgb_bio *d = BIO_get_data(b);
	size_t len = inl > 0 ? (size_t)inl : 0;
	ssize_t r;

	errno = 0;
	if (d->connected) {
		r = dgb_write1(d->fd, in, len);
	} else {
		struct iovec iov = { .iov_base = (void *)in, .iov_len = len };
		struct msghdr mh = {
			.msg_name = &d->peer,
			.msg_namelen = addr_size(&d->peer),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};

		r = dgb_sendmsg(d->fd, &mh, 0);
	}

	BIO_clear_retry_flags(b);
	if (r < 0 && retryable((int)-r)) {
		BIO_set_retry_write(b);
		d->last_errno = (int)-r;
	}
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
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
		return addr_copy_out(ptr, &d->peer, num);
	memset(&a, 0, sizeof(a));
	if (getpeername(d->fd, &a.sa, &len) != 0 || a.sa.sa_family == AF_UNSPEC)
		return 0;
	return addr_copy_out(ptr, &a, num);
}

/*
 * BIO_dup_chain() makes a new BIO of this method, copies the BIO-level
 * fields, then asks the original to copy its state.  OpenSSL's datagram
 * BIO keeps its socket in a BIO-level field and copies nothing else, so the
 * copy shares the socket and starts with no peer or settings; so does this.
 */
static long dup_state(const struct dgb_bio *d, BIO *to)
{
	if (to != NULL && BIO_ctrl(to, DGB_CTRL_IDENTIFY, 0, to) == DGB_IDENTITY)
		((struct dgb_bio *)BIO_get_data(to))->fd = d->fd;
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

static long dgb_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct dgb_bio *d = BIO_get_data(b);
	long ret = 1;

	switch (cmd) {
	case BIO_CTRL_RESET:
	case BIO_CTRL_INFO:
	case BIO_CTRL_PENDING:
	case BIO_CTRL_WPENDING:
		return 0;
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
		return addr_copy_out(ptr, &d->peer, num);
	case BIO_CTRL_DGRAM_DETECT_PEER_ADDR:
		return detect_peer(d, num, ptr);

	case BIO_CTRL_DGRAM_MTU_DISCOVER:
		ret = mtu_discover(d);
		break;
	case BIO_CTRL_DGRAM_QUERY_MTU:
		return query_mtu(d);
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return fallback_mtu(&d->peer);
	case BIO_CTRL_DGRAM_GET_MTU:
		return (long)d->mtu;
	case BIO_CTRL_DGRAM_SET_MTU:
		d->mtu = (unsigned int)num;
		ret = num;
		break;
	case BIO_CTRL_DGRAM_MTU_EXCEEDED:
		return take_errno(d, EMSGSIZE);
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return mtu_overhead(&d->peer);
	case BIO_CTRL_DGRAM_SET_DONT_FRAG:
		ret = set_dont_frag(d, num);
		break;

	case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
		if (ptr == NULL)
			return null_arg();
		memcpy(&d->next_timeout, ptr, sizeof(d->next_timeout));
		return 1;
	case BIO_CTRL_DGRAM_SET_RECV_TIMEOUT:
		ret = sockopt_result(setsockopt(d->fd, SOL_SOCKET, SO_RCVTIMEO, ptr,
						sizeof(struct timeval)),
				     "setsockopt()", 0);
		break;
	case BIO_CTRL_DGRAM_GET_RECV_TIMEOUT:
		ret = get_timeout(d, SO_RCVTIMEO, ptr);
		break;
	case BIO_CTRL_DGRAM_SET_SEND_TIMEOUT:
		ret = sockopt_result(setsockopt(d->fd, SOL_SOCKET, SO_SNDTIMEO, ptr,
						sizeof(struct timeval)),
				     "setsockopt()", 0);
		break;
	case BIO_CTRL_DGRAM_GET_SEND_TIMEOUT:
		ret = get_timeout(d, SO_SNDTIMEO, ptr);
		break;
	case BIO_CTRL_DGRAM_GET_RECV_TIMER_EXP:
	case BIO_CTRL_DGRAM_GET_SEND_TIMER_EXP:
		return take_errno(d, EAGAIN);

	/* 50 is the number SET_PEEK_MODE had before 1.1.1; OpenSSL still answers it. */
	case BIO_CTRL_DGRAM_SCTP_SET_IN_HANDSHAKE:
	case BIO_CTRL_DGRAM_SET_PEEK_MODE:
		d->peek = (int)num;
		return 1;

	case BIO_CTRL_DGRAM_GET_LOCAL_ADDR_CAP:
		return 1;
	case BIO_CTRL_DGRAM_SET_LOCAL_ADDR_ENABLE:
		num = num > 0;
		/*
		 * The socket may have been bound since it was attached; the
		 * batched paths need its current address and port.
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
	case BIO_CTRL_DGRAM_GET_LOCAL_ADDR_ENABLE:
		if (ptr == NULL)
			return null_arg();
		*(int *)ptr = d->local_addr_enabled;
		return 1;
	case BIO_CTRL_DGRAM_GET_EFFECTIVE_CAPS:
		return (long)(BIO_DGRAM_CAP_HANDLES_DST_ADDR | BIO_DGRAM_CAP_HANDLES_SRC_ADDR |
			      BIO_DGRAM_CAP_PROVIDES_DST_ADDR | BIO_DGRAM_CAP_PROVIDES_SRC_ADDR);

	case BIO_CTRL_GET_RPOLL_DESCRIPTOR:
	case BIO_CTRL_GET_WPOLL_DESCRIPTOR: {
		DGB_POLL_DESCRIPTOR *pd = ptr;

		if (pd == NULL)
			return null_arg();
		pd->type = BIO_POLL_DESCRIPTOR_TYPE_SOCK_FD;
		pd->value.fd = d->fd;
		return 1;
	}
	/* Only for this very BIO, never for a filter BIO passing them down. */
	case DGB_CTRL_IDENTIFY:
		return ptr == b ? DGB_IDENTITY : 0;
	case DGB_CTRL_SENDMMSG:
	case DGB_CTRL_RECVMMSG: {
		DGB_MMSG_ARGS *a = ptr;

		if (a == NULL || a->bio != b)
			return 0;
		a->handled = 1;
		a->result = cmd == DGB_CTRL_SENDMMSG
				    ? dgb_bio_sendmmsg(b, a->msg, a->stride, a->num_msg, a->flags,
						       a->msgs_processed)
				    : dgb_bio_recvmmsg(b, a->msg, a->stride, a->num_msg, a->flags,
						       a->msgs_processed);
		return a->result;
	}
	default:
		return 0;
	}
	return ret < 0 ? -1 : ret;
}

#if defined(HAVE_BIO_METH_SET_SENDMMSG) && defined(HAVE_BIO_METH_SET_RECVMMSG)
/* OpenSSL 3.2+: BIO_sendmmsg()/BIO_recvmmsg() reach the batched paths directly. */
static int native_sendmmsg(BIO *b, BIO_MSG *msg, size_t stride, size_t num_msg,
			   uint64_t flags, size_t *msgs_processed)
{
	return dgb_bio_sendmmsg(b, msg, stride, num_msg, flags, msgs_processed);
}

static int native_recvmmsg(BIO *b, BIO_MSG *msg, size_t stride, size_t num_msg,
			   uint64_t flags, size_t *msgs_processed)
{
	return dgb_bio_recvmmsg(b, msg, stride, num_msg, flags, msgs_processed);
}
#endif

static BIO_METHOD *method_new(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_TYPE_DGRAM, "dgrambatch datagram socket");

	if (m == NULL)
		return NULL;
	if (!BIO_meth_set_write(m, dgb_write) ||
	    !BIO_meth_set_read(m, dgb_read) ||
	    !BIO_meth_set_puts(m, dgb_puts) ||
	    !BIO_meth_set_ctrl(m, dgb_ctrl) ||
	    !BIO_meth_set_create(m, dgb_create) ||
	    !BIO_meth_set_destroy(m, dgb_destroy)
#if defined(HAVE_BIO_METH_SET_SENDMMSG) && defined(HAVE_BIO_METH_SET_RECVMMSG)
	    || !BIO_meth_set_sendmmsg(m, native_sendmmsg)
	    || !BIO_meth_set_recvmmsg(m, native_recvmmsg)
#endif
	) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
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
