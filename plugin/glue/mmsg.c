/*
 * mmsg.c - BIO_sendmmsg and BIO_recvmmsg on the dgrambatch datagram BIO.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The batched calls translate an array of BIO_MSG into mmsghdr for the
 * core and the results back, with the contract of BIO_sendmmsg(3): return
 * 1 and the number processed (possibly 0), or 0 with an error raised and
 * nothing processed; *msgs_processed is written on every path.
 *
 * Several threads may send and several receive on one BIO at once.  These
 * paths read the BIO's settings (fd, connected, local-address enable,
 * socket family), which no other call may change meanwhile (BIO_sendmmsg(3)
 * forbids it), use per-thread batch space from the core, and write only
 * the caller's messages, the core's atomic counters, and the BIO's peer
 * under its own flag.
 *
 * Bad input is refused before any datagram moves: a stride below
 * sizeof(BIO_MSG), a NULL array, a NULL payload with a length, a local
 * address while local addresses are not enabled, a local port other than
 * the socket's.  Flags, global and per message, are accepted and ignored,
 * and each processed message's are set to 0, as OpenSSL's datagram BIO
 * does: no flag is defined yet, and programs reuse arrays without clearing
 * them.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#include "dgrambatch.h"
#include "core/core.h"
#include "glue.h"
#include "addr.h"
#include "dgram.h"
#include "probe/probe.h"

#define MSG_N(base, stride, i) ((DGB_MSG *)((char *)(base) + (i) * (stride)))

_Static_assert(DGB_MAX_MSGS == DGB_MAX_BATCH,
	       "dgrambatch.h promises the kernel's UIO_MAXIOV as DGB_MAX_MSGS");

static atomic_uint batch_limit = DGB_MAX_BATCH;
static atomic_int gso_allowed = 1;
static atomic_int gro_allowed = 1;

int dgb_gro_allowed(void)
{
	return atomic_load_explicit(&gro_allowed, memory_order_relaxed);
}

void dgb_set_gro_allowed(int allowed)
{
	atomic_store_explicit(&gro_allowed, allowed != 0, memory_order_relaxed);
}

int dgb_gso_allowed(void)
{
	return atomic_load_explicit(&gso_allowed, memory_order_relaxed);
}

void dgb_set_gso_allowed(int allowed)
{
	atomic_store_explicit(&gso_allowed, allowed != 0, memory_order_relaxed);
}

unsigned int dgb_batch_limit(void)
{
	return atomic_load_explicit(&batch_limit, memory_order_relaxed);
}

void dgb_set_batch_limit(unsigned int limit)
{
	atomic_store_explicit(&batch_limit, limit, memory_order_relaxed);
}

/* How many of num_msg messages this call takes. */
static unsigned int batch_size(size_t num_msg)
{
	unsigned int limit = dgb_batch_limit();

	return num_msg > limit ? limit : (unsigned int)num_msg;
}

/*
 * Raise the error for a failed batch.  Socket errors are ERR_LIB_SYS with
 * errno, which BIO_err_is_non_fatal() judges.  Two kinds of error it would
 * call fatal are not, and are raised as BIO_R_NON_FATAL instead:
 * ENOBUFS (the interface queue was full for a moment) and the errors the
 * kernel queues on a socket after an ICMP message.  ICMP is unauthenticated
 * and anyone on the path can forge it; OpenSSL's QUIC stack treats any
 * fatal BIO error as the end of the port, so an off-path attacker could
 * otherwise kill every connection on it with one forged packet.
 *
 * OpenSSL's QUIC stack meets EAGAIN on every tick, so system errors carry
 * no formatted text: ERR_raise() records the code and the call site, and
 * costs no more than OpenSSL's own BIO_recvmmsg raising the same error.
 */
static void raise_batch_error(int err)
{
	if (dgb_err_raise_non_fatal(err))
		/* Rare, and worth naming: ENOBUFS or the ICMP error. */
		ERR_raise_data(ERR_LIB_BIO, BIO_R_NON_FATAL, "%s", strerror(err));
	else
		ERR_raise(ERR_LIB_SYS, err);
}

/* Checks common to both directions; on failure an error is raised. */
static int check_args(const void *msg, size_t stride)
{
	if (msg == NULL) {
		ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
		return 0;
	}
	if (stride < sizeof(DGB_MSG)) {
		ERR_raise_data(ERR_LIB_BIO, ERR_R_PASSED_INVALID_ARGUMENT,
			       "stride %zu is smaller than BIO_MSG (%zu)", stride, sizeof(DGB_MSG));
		return 0;
	}
	return 1;
}

/* Checks of one message; on failure an error is raised. */
static int check_msg(const struct dgb_bio *d, const DGB_MSG *m, size_t i)
{
	if (m->data == NULL && m->data_len != 0) {
		ERR_raise_data(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER,
			       "message %zu: no buffer for %zu bytes", i, m->data_len);
		return 0;
	}
	if (m->local != NULL && !d->local_addr_enabled) {
		ERR_raise(ERR_LIB_BIO, BIO_R_LOCAL_ADDR_NOT_AVAILABLE);
		return 0;
	}
	return 1;
}

static socklen_t name_len(const struct dgb_bio *d)
{
	switch (d->local.sa.sa_family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	default:
		return 0;
	}
}

/*
 * Append a control message to the message's control buffer ctl, whose
 * msg_controllen says how much of it is in use (0 at first).
 */
static void put_cmsg(struct msghdr *mh, void *ctl, int level, int type, const void *data,
		     size_t len)
{
	struct cmsghdr *c = (struct cmsghdr *)((char *)ctl + mh->msg_controllen);

	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	mh->msg_control = ctl;
	mh->msg_controllen += CMSG_SPACE(len);
}

/*
 * The source address of a datagram to send, as an IP_PKTINFO or
 * IPV6_PKTINFO control message.  The source port cannot be chosen this
 * way: a local port other than 0 or the socket's own is refused.
 */
static int pack_local(const struct dgb_bio *d, struct msghdr *mh, const BIO_ADDR *local,
		      void *ctl)
{
	union dgb_addr l;

	dgb_addr_set(&l, local);
	if (d->local.sa.sa_family == AF_INET && l.sa.sa_family == AF_INET) {
		struct in_pktinfo pi;

		if (l.s_in.sin_port != 0 && l.s_in.sin_port != d->local.s_in.sin_port)
			goto port;
		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst = l.s_in.sin_addr;
		put_cmsg(mh, ctl, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
		return 1;
	}
	if (d->local.sa.sa_family == AF_INET6 && l.sa.sa_family == AF_INET6) {
		struct in6_pktinfo pi;

		if (l.s_in6.sin6_port != 0 && l.s_in6.sin6_port != d->local.s_in6.sin6_port)
			goto port;
		memset(&pi, 0, sizeof(pi));
		pi.ipi6_addr = l.s_in6.sin6_addr;
		pi.ipi6_ifindex = l.s_in6.sin6_scope_id;
		put_cmsg(mh, ctl, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
		return 1;
	}
	ERR_raise_data(ERR_LIB_BIO, BIO_R_LOCAL_ADDR_NOT_AVAILABLE,
		       "local address family %d on a socket of family %d", l.sa.sa_family,
		       d->local.sa.sa_family);
	return 0;
port:
	ERR_raise(ERR_LIB_BIO, BIO_R_PORT_MISMATCH);
	ERR_raise(ERR_LIB_BIO, BIO_R_LOCAL_ADDR_NOT_AVAILABLE);
	return 0;
}

/*
 * A control message's payload of len bytes, or NULL when the kernel had to
 * cut it short (it does when the control buffer runs out, and then sets
 * MSG_CTRUNC), or when its length runs past the control buffer: CMSG_NXTHDR
 * checks that of every message but the first, which CMSG_FIRSTHDR hands out
 * whatever its length says.
 */
static const void *cmsg_payload(const struct msghdr *mh, const struct cmsghdr *c, size_t len)
{
	size_t at = (size_t)((const char *)c - (const char *)mh->msg_control);

	if (c->cmsg_len < CMSG_LEN(len) || at > mh->msg_controllen ||
	    c->cmsg_len > mh->msg_controllen - at)
		return NULL;
	return CMSG_DATA(c);
}

/*
 * The address a datagram arrived on, from its IP_PKTINFO or IPV6_PKTINFO,
 * with the socket's port; cleared (AF_UNSPEC) when the kernel gave none,
 * or gave it truncated because other control messages filled the buffer.
 */
static void extract_local(const struct dgb_bio *d, const struct msghdr *mh, BIO_ADDR *local)
{
	union dgb_addr l;
	const void *p;

	memset(&l, 0, sizeof(l));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			if ((p = cmsg_payload(mh, c, sizeof(pi))) == NULL)
				break;
			memcpy(&pi, p, sizeof(pi));
			l.s_in.sin_family = AF_INET;
			l.s_in.sin_addr = pi.ipi_addr;
			l.s_in.sin_port = d->local.sa.sa_family == AF_INET ? d->local.s_in.sin_port
									    : d->local.s_in6.sin6_port;
			break;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			if ((p = cmsg_payload(mh, c, sizeof(pi))) == NULL)
				break;
			memcpy(&pi, p, sizeof(pi));
			l.s_in6.sin6_family = AF_INET6;
			l.s_in6.sin6_addr = pi.ipi6_addr;
			l.s_in6.sin6_port = d->local.s_in6.sin6_port;
			l.s_in6.sin6_scope_id = d->local.s_in6.sin6_scope_id;
			break;
		}
	}
	if (l.sa.sa_family == AF_UNSPEC)
		BIO_ADDR_clear(local);
	else
		memcpy(local, &l, sizeof(l));
}

/*
 * The start of a call in either direction: *msgs_processed set to 0, the
 * arguments checked, this thread's batch space taken.  Returns how many
 * messages to take, 0 when there are none (the call succeeds having done
 * nothing), or -1 with an error raised.
 */
static long batch_start(const void *msg, size_t stride, size_t num_msg,
			size_t *msgs_processed, struct dgb_batch **bt)
{
	if (msgs_processed == NULL) {
		ERR_raise(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
		return -1;
	}
	*msgs_processed = 0;
	if (num_msg == 0)
		return 0;
	if (!check_args(msg, stride))
		return -1;
	*bt = dgb_batch_get();
	if (*bt == NULL) {
		ERR_raise(ERR_LIB_BIO, ERR_R_MALLOC_FAILURE);
		return -1;
	}
	return batch_size(num_msg);
}

/* Message i's payload, and the parts of its msghdr both directions share. */
static struct msghdr *msg_payload(struct dgb_batch *bt, unsigned int i, const DGB_MSG *m)
{
	struct msghdr *mh = &bt->mh[i].msg_hdr;

	bt->iov[i].iov_base = m->data;
	bt->iov[i].iov_len = m->data_len;
	mh->msg_iov = &bt->iov[i];
	mh->msg_iovlen = 1;
	mh->msg_flags = 0;
	return mh;
}

/* Whether two messages' addresses (peer or local, either may be NULL) are one. */
static int same_addr(const BIO_ADDR *x, const BIO_ADDR *y)
{
	const union dgb_addr *a = (const void *)x, *b = (const void *)y;

	if (a == NULL || b == NULL)
		return a == b;
	if (a->sa.sa_family != b->sa.sa_family)
		return 0;
	switch (a->sa.sa_family) {
	case AF_INET:
		return a->s_in.sin_port == b->s_in.sin_port &&
		       a->s_in.sin_addr.s_addr == b->s_in.sin_addr.s_addr;
	case AF_INET6:
		return a->s_in6.sin6_port == b->s_in6.sin6_port &&
		       a->s_in6.sin6_scope_id == b->s_in6.sin6_scope_id &&
		       memcmp(&a->s_in6.sin6_addr, &b->s_in6.sin6_addr,
			      sizeof(a->s_in6.sin6_addr)) == 0;
	default:
		return 0;
	}
}

/*
 * How many messages from first on go out as one segmented send: those
 * with the first's destination (any, on a connected socket) and local
 * address, and its length, but for a last one that may be shorter; never a
 * message of no bytes; within the kernel's limits.  1 when GSO is off.
 */
static unsigned int group_size(const struct dgb_bio *d, const void *msg, size_t stride,
			       unsigned int first, unsigned int n, int gso)
{
	const DGB_MSG *m = MSG_N(msg, stride, first);
	size_t seg = m->data_len, total = seg;
	unsigned int k = 1;

	unsigned int max;

	if (!gso || seg == 0 || seg > DGB_GSO_MAX_BYTES / 2)
		return 1;
	max = dgb_gso_max_segments(&d->tx);
	while (first + k < n && k < max) {
		const DGB_MSG *next = MSG_N(msg, stride, first + k);

		if (next->data_len == 0 || next->data_len > seg ||
		    total + next->data_len > DGB_GSO_MAX_BYTES ||
		    (!d->connected && !same_addr(m->peer, next->peer)) ||
		    !same_addr(m->local, next->local))
			break;
		total += next->data_len;
		k++;
		if (next->data_len < seg)
			break;
	}
	return k;
}

/*
 * Entry j of the batch: messages [first, first + k) in one sendmmsg entry,
 * their payloads in the callers' buffers, a UDP_SEGMENT control message
 * (after the local address's, as the core expects) when k > 1.  Returns 0
 * with an error raised when the local address is refused.
 */
static int build_entry(const struct dgb_bio *d, struct dgb_batch *bt, unsigned int j,
		       const void *msg, size_t stride, unsigned int first, unsigned int k,
		       socklen_t namelen)
{
	const DGB_MSG *m = MSG_N(msg, stride, first);
	struct msghdr *mh = &bt->mh[j].msg_hdr;

	for (unsigned int t = 0; t < k; t++) {
		const DGB_MSG *mt = MSG_N(msg, stride, first + t);

		bt->iov[first + t].iov_base = mt->data;
		bt->iov[first + t].iov_len = mt->data_len;
	}
	mh->msg_iov = &bt->iov[first];
	mh->msg_iovlen = k;
	mh->msg_flags = 0;
	/* A BIO_ADDR is a socket address; the kernel reads it in place. */
	if (m->peer != NULL && namelen != 0) {
		mh->msg_name = (void *)m->peer;
		mh->msg_namelen = namelen;
	} else {
		mh->msg_name = NULL;
		mh->msg_namelen = 0;
	}
	mh->msg_control = NULL;
	mh->msg_controllen = 0;
	if (m->local != NULL && !pack_local(d, mh, m->local, bt->ctl[j].buf))
		return 0;
	if (k > 1) {
		uint16_t size = (uint16_t)m->data_len;

		put_cmsg(mh, bt->ctl[j].buf, SOL_UDP, UDP_SEGMENT, &size, sizeof(size));
	}
	bt->segs[j] = (uint16_t)k;
	return 1;
}

int dgb_bio_sendmmsg(BIO *b, void *msg, size_t stride, size_t num_msg, uint64_t flags,
		     size_t *msgs_processed)
{
	struct dgb_bio *d = BIO_get_data(b);
	struct dgb_batch *bt = NULL;
	long n = batch_start(msg, stride, num_msg, msgs_processed, &bt);
	int gso = atomic_load_explicit(&d->tx.gso, memory_order_relaxed);
	unsigned int nent = 0;
	socklen_t namelen;
	int r;

	if (n <= 0)
		return n == 0;
	for (unsigned int i = 0; i < n; i++)
		if (!check_msg(d, MSG_N(msg, stride, i), i))
			return 0;
	/* Some systems refuse a destination on a connected socket: give none. */
	namelen = d->connected ? 0 : name_len(d);
	for (unsigned int i = 0; i < n; nent++) {
		unsigned int k = group_size(d, msg, stride, i, (unsigned int)n, gso);

		if (!build_entry(d, bt, nent, msg, stride, i, k, namelen))
			return 0;
		i += k;
	}

	/* A TCP fd, or a closed stream, is an error to report, not a SIGPIPE. */
	r = dgb_sock_send(d->fd, bt->mh, nent, bt->segs, MSG_NOSIGNAL, &d->tx);
	if (r == -DGB_ETOOBIG) {
		ERR_raise(ERR_LIB_SYS, EMSGSIZE);
		return 0;
	}
	if (r < 0) {
		raise_batch_error(-r);
		return 0;
	}
	/*
	 * A single datagram's data_len is what the kernel took, as OpenSSL
	 * writes it (it may be less on a stream socket); a segmented send's
	 * are all whole, as UDP sends a datagram whole or not at all.
	 */
	for (unsigned int j = 0, i = 0; i < (unsigned int)r; j++) {
		if (bt->segs[j] == 1)
			MSG_N(msg, stride, i)->data_len = bt->mh[j].msg_len;
		for (unsigned int t = 0; t < bt->segs[j] && i < (unsigned int)r; t++, i++)
			MSG_N(msg, stride, i)->flags = 0;
	}
	*msgs_processed = (size_t)r;
	return 1;
}

/* The rule of BIO_read: on an unconnected socket the sender becomes the peer. */
static void learn_peer(struct dgb_bio *d, const void *from)
{
	while (atomic_flag_test_and_set_explicit(&d->peer_lock, memory_order_acquire))
		;
	dgb_addr_set(&d->peer, from);
	atomic_flag_clear_explicit(&d->peer_lock, memory_order_release);
}

int dgb_bio_recvmmsg(BIO *b, void *msg, size_t stride, size_t num_msg, uint64_t flags,
		     size_t *msgs_processed)
{
	struct dgb_bio *d = BIO_get_data(b);
	struct dgb_batch *bt = NULL;
	long n = batch_start(msg, stride, num_msg, msgs_processed, &bt);
	int r;

	if (n <= 0)
		return n == 0;
	/* Peeking more than one would return the same datagram each time. */
	if (d->peek)
		n = 1;
	for (unsigned int i = 0; i < n; i++) {
		DGB_MSG *m = MSG_N(msg, stride, i);
		struct msghdr *mh;

		if (!check_msg(d, m, i))
			return 0;
		mh = msg_payload(bt, i, m);
		/*
		 * A BIO_ADDR is a socket address: the kernel writes the sender
		 * straight into the caller's, and into batch space only when
		 * the caller asked for none (the BIO's peer still needs it).
		 */
		if (m->peer != NULL) {
			mh->msg_name = m->peer;
			mh->msg_namelen = sizeof(union dgb_addr);
		} else {
			mh->msg_name = &bt->name[i];
			mh->msg_namelen = sizeof(bt->name[i]);
		}
		if (m->local != NULL) {
			mh->msg_control = bt->ctl[i].buf;
			mh->msg_controllen = sizeof(bt->ctl[i].buf);
		} else {
			mh->msg_control = NULL;
			mh->msg_controllen = 0;
		}
	}

	/*
	 * A valid call for two messages or more decides GRO; one for a single
	 * message gains nothing from trains and leaves it to a later one.
	 */
	if (n > 1 && atomic_load_explicit(&d->rx.gro, memory_order_acquire) == DGB_GRO_UNDECIDED)
		dgb_bio_gro_decide(d);
	r = dgb_sock_recv(d->fd, bt->mh, (unsigned int)n, d->peek ? MSG_PEEK : 0, &d->rx);
	if (r < 0) {
		raise_batch_error(-r);
		return 0;
	}
	for (int i = 0; i < r; i++) {
		DGB_MSG *m = MSG_N(msg, stride, i);
		const struct msghdr *mh = &bt->mh[i].msg_hdr;
		struct sockaddr *from = mh->msg_name;

		m->data_len = bt->mh[i].msg_len;
		m->flags = 0;
		/* No sender, or not an IP one (it would not fit batch space): none. */
		if (mh->msg_namelen == 0 ||
		    (from->sa_family != AF_INET && from->sa_family != AF_INET6)) {
			if (m->peer != NULL)
				BIO_ADDR_clear(m->peer);
			else
				memset(from, 0, sizeof(bt->name[i]));
		}
		if (m->local != NULL)
			extract_local(d, mh, m->local);
	}
	if (r > 0 && !d->connected)
		learn_peer(d, bt->mh[r - 1].msg_hdr.msg_name);
	*msgs_processed = (size_t)r;
	return 1;
}

#ifdef DGB_FUZZ
/*
 * For the fuzz harnesses (fuzz/; scripts/fuzz.sh defines DGB_FUZZ), never
 * called by the module.
 */
void dgb_mmsg_extract_local(const struct dgb_bio *d, const struct msghdr *mh, BIO_ADDR *local)
{
	extract_local(d, mh, local);
}

unsigned int dgb_mmsg_group_size(const struct dgb_bio *d, const void *msg, size_t stride,
				 unsigned int first, unsigned int n, int gso)
{
	return group_size(d, msg, stride, first, n, gso);
}
#endif /* DGB_FUZZ */
