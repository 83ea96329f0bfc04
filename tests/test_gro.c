/*
 * test_gro.c - UDP GRO on the receive path (issue 10): trains of datagrams
 * sent with UDP_SEGMENT from plain loopback sockets, received through the
 * module's BIO with DGB_recvmmsg (BIO_recvmmsg on OpenSSL 3.2+, the private
 * control on 3.0), BIO_read and peek.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The senders are plain sockets, not the module, so only the receive side
 * is under test.  On loopback the kernel hands a socket with UDP_GRO each
 * segmented send as one train, as it was sent, and never joins the sends
 * of two senders; without UDP_GRO it splits the train as it queues it.
 * Every test writes down what it sends (each datagram's sender, number and
 * length, and the train it went in) and accounts for every datagram at the
 * receiver: each arrives exactly once, in its sender's order, byte for
 * byte (cut to the caller's buffer where that is smaller, as a lone
 * datagram is), from its sender and, where asked, on the address it was
 * sent to.  After every call the bytes the BIO says it keeps
 * (BIO_ctrl_pending) must be those of the trains it delivered in part, and
 * while it keeps any the socket must poll readable.  The module's counters
 * must then show that the trains really came coalesced: a BIO that left
 * the kernel to split them would pass the accounting and fail there.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/net_tstamp.h>
#include <netinet/udp.h>

#include <openssl/err.h>

#include "dgrambatch.h"
#include "dgram_diff.h"

/* Kernel ABI numbers, for C libraries older than the kernel. */
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif
#ifndef SO_PEEK_OFF
#define SO_PEEK_OFF 42
#endif

#define FAMILY(i) ((i) ? AF_INET6 : AF_INET)

/* A caller's buffer: room for any one datagram sent here, never for a train. */
#define SLOT 1500
/* The most segments every kernel takes in one send; SEG of them fit one IPv4 datagram. */
#define MAX_SEGS 64
#define SEG 1000
#define MAX_SENDERS 4
#define PLAN_TRAINS 512
#define PLAN_DGRAMS 4096
#define SENDER_TAG 0xa0
#define JUNK_FLAGS 0xdeadbeefULL
/* Empty calls in a row, on a socket that polls readable, before calling it a stall. */
#define STALL_CALLS 100

/* Whether this kernel has UDP_GRO (and UDP_SEGMENT, to make trains): set by suite_gro(). */
static int kernel_gro;

/* --- what was sent ------------------------------------------------------------ */

struct train {
	int sender;
	unsigned int nseg; /* its datagrams are d[first] to d[first + nseg - 1] */
	unsigned char dest; /* IPv4 on a wildcard receiver: sent to 127.0.0.<dest> */
	/* Whether the receiver had UDP_GRO when it came, so that it queued as one. */
	int coalesced;
	/* Dropped whole by the kernel (lossy tests only). */
	int lost;
	size_t first; /* its first datagram in d[] */
	unsigned int delivered;
};

struct dgram {
	int sender;
	unsigned int seq; /* the sender's own count, over the whole test */
	unsigned int len;
	size_t train;
};

struct tally {
	uint64_t rx, rx_bytes, receives, segs, carried, truncated, drops;
};

/* Options of a rig. */
enum {
	/* Receiver bound to the wildcard address, with local addresses enabled. */
	RIG_WILDCARD = 1,
	/* The BIO does not own the receiver's socket. */
	RIG_NOCLOSE = 2,
	/* The receiver's socket is blocking (after the first receive, which decides GRO). */
	RIG_BLOCKING = 4,
	/* The program sets UDP_GRO on the socket before the BIO gets it. */
	RIG_PRESET_GRO = 8,
	/* No batched receive before the test's own: GRO stays undecided. */
	RIG_UNDECIDED = 16,
};

/*
 * One receiver with the module's BIO, and senders 0..nsend-1 on loopback
 * sockets of their own.  gro: whether the BIO's socket has UDP_GRO now;
 * gro_first: whether the first batched receive turns it on.  The plan (t,
 * d) is what was sent since plan_reset(), and how much of it came.
 */
struct rig {
	int family;
	unsigned int opts;
	int gro, gro_first, decided;
	int fr;
	union tu_addr ra;
	BIO *b;
	int nsend;
	int fs[MAX_SENDERS];
	union tu_addr sa[MAX_SENDERS];
	unsigned int seq[MAX_SENDERS];
	size_t next[MAX_SENDERS];
	size_t ntrains, n, delivered, peeks;
	/*
	 * Lossy: the kernel may drop sends (the receive buffer is small on
	 * purpose); a send is dropped whole, so a gap must span whole sends.
	 * lost_sends and lost count what was skipped (lost is also counted
	 * in delivered, as accounted for).
	 */
	int lossy;
	size_t lost_sends, lost;
	uint64_t bytes;
	/* DGB_recvmmsg calls since plan_reset(), and those that delivered something. */
	unsigned int calls, data_calls;
	struct tally t0;
	struct train t[PLAN_TRAINS];
	struct dgram d[PLAN_DGRAMS];
};

static const char *err_text(void)
{
	static char s[256];

	ERR_error_string_n(ERR_peek_last_error(), s, sizeof(s));
	return s;
}

static int sock_int(int fd, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);

	ck_assert_msg(getsockopt(fd, level, name, &v, &len) == 0, "getsockopt(%d, %d): %s", level,
		      name, strerror(errno));
	return v;
}

/* The loopback address of a family, or 127.0.0.<host>; port 0. */
static void loopback_addr(union tu_addr *a, int family, unsigned int host)
{
	memset(a, 0, sizeof(*a));
	a->sa.sa_family = (sa_family_t)family;
	if (family == AF_INET)
		a->sin.sin_addr.s_addr = htonl(0x7f000000u | host);
	else
		a->sin6.sin6_addr = in6addr_loopback;
}

static void set_port(union tu_addr *a, const union tu_addr *from)
{
	if (a->sa.sa_family == AF_INET)
		a->sin.sin_port = from->sin.sin_port;
	else
		a->sin6.sin6_port = from->sin6.sin6_port;
}

/*
 * Room for everything a test sends before it reads: trains of 64 KB take
 * more than the default receive buffer.  Without the privilege to force
 * it, as much as the system allows; the drop counter then tells.
 */
static void big_rcvbuf(int fd)
{
	int big = 32 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
}

static void tally_read(struct tally *t)
{
	OSSL_PROVIDER *prov = module_provider();

	t->rx = tu_provider_counter(prov, DGB_PARAM_RX_DATAGRAMS);
	t->rx_bytes = tu_provider_counter(prov, DGB_PARAM_RX_BYTES);
	t->receives = tu_provider_counter(prov, DGB_PARAM_GRO_RECEIVES);
	t->segs = tu_provider_counter(prov, DGB_PARAM_GRO_SEGMENTS);
	t->carried = tu_provider_counter(prov, DGB_PARAM_GRO_CARRIED);
	t->truncated = tu_provider_counter(prov, DGB_PARAM_RX_TRUNCATED);
	t->drops = tu_provider_counter(prov, DGB_PARAM_RX_KERNEL_DROPS);
}

/* A new plan: everything of the last one must have come. */
static void plan_reset(struct rig *r)
{
	ck_assert_uint_eq(r->delivered, r->n);
	r->ntrains = r->n = r->delivered = r->peeks = r->lost_sends = r->lost = 0;
	r->bytes = 0;
	r->calls = r->data_calls = 0;
	memset(r->next, 0, sizeof(r->next));
	tally_read(&r->t0);
}

static size_t recv_call(struct rig *r, DGB_MSG *m, const size_t *cap, size_t n);

/*
 * caps_disable: DGRAMBATCH_CAPS_DISABLE for this test process (NULL: none),
 * in force from the module's first probe, which this makes.  Unless told
 * otherwise, a first batched receive on the empty socket turns GRO on
 * before anything is sent: the kernel decides whether a train stays one
 * when it queues it.
 */
static struct rig *rig_open(int family, int nsend, unsigned int opts, const char *caps_disable)
{
	struct rig *r = calloc(1, sizeof(*r));
	int one = 1;

	ck_assert_ptr_nonnull(r);
	tu_caps_disable(caps_disable);
	ck_assert_ptr_nonnull(module_method());
	r->family = family;
	r->opts = opts;
	r->nsend = nsend;
	r->fr = opts & RIG_WILDCARD ? tu_udp_wildcard(family, &r->ra)
				    : tu_udp_loopback(family, &r->ra);
	big_rcvbuf(r->fr);
	if (opts & RIG_PRESET_GRO)
		ck_assert_int_eq(setsockopt(r->fr, SOL_UDP, UDP_GRO, &one, sizeof(one)), 0);
	for (int k = 0; k < nsend; k++)
		r->fs[k] = tu_udp_loopback(family, &r->sa[k]);
	r->b = DGB_new_dgram(NULL, r->fr, opts & RIG_NOCLOSE ? BIO_NOCLOSE : BIO_CLOSE);
	ck_assert_ptr_nonnull(r->b);
	ck_assert_int_eq(DGB_is_dgrambatch(r->b), 1);
	ck_assert_int_eq(BIO_set_nbio(r->b, 1), 1);
	if (opts & RIG_WILDCARD)
		ck_assert_int_eq(BIO_dgram_set_local_addr_enable(r->b, 1), 1);
	/* A socket with UDP_GRO already is split from the start, BIO_read included. */
	r->gro = (opts & RIG_PRESET_GRO) != 0;
	r->decided = r->gro;
	ck_assert_int_eq(DGB_get_gro(r->b), r->gro);
	r->gro_first = kernel_gro && (caps_disable == NULL || strstr(caps_disable, "udp_gro") == NULL);
	plan_reset(r);
	if (!(opts & (RIG_UNDECIDED | RIG_PRESET_GRO))) {
		DGB_MSG m[2] = { { 0 } };
		unsigned char c[2];
		size_t cap[2] = { 1, 1 };

		m[0].data = &c[0];
		m[1].data = &c[1];
		ck_assert_uint_eq(recv_call(r, m, cap, 2), 0);
	}
	if (opts & RIG_BLOCKING)
		ck_assert_int_eq(BIO_set_nbio(r->b, 0), 1);
	return r;
}

static void rig_close(struct rig *r)
{
	BIO_free(r->b);
	if (r->opts & RIG_NOCLOSE)
		close(r->fr);
	for (int k = 0; k < r->nsend; k++)
		close(r->fs[k]);
	free(r);
	ERR_clear_error();
	tu_caps_disable(NULL);
}

/* Datagram seq of a sender: sender, number and length, then a pattern of all three. */
static void payload(unsigned char *p, int sender, unsigned int seq, unsigned int len)
{
	unsigned char head[7] = { (unsigned char)(SENDER_TAG + sender), (unsigned char)(seq >> 24),
				  (unsigned char)(seq >> 16), (unsigned char)(seq >> 8),
				  (unsigned char)seq, (unsigned char)(len >> 8), (unsigned char)len };

	for (size_t j = 0; j < len; j++) {
		if (j < sizeof(head))
			p[j] = head[j];
		else
			p[j] = (unsigned char)(seq * 31 + j * 7 + (unsigned int)sender * 101 + len);
	}
}

/* The datagram number a payload gives, where it is long enough to give one. */
static unsigned int seq_of(const unsigned char *p, size_t len)
{
	if (len < 5)
		return 0;
	return (unsigned int)p[1] << 24 | (unsigned int)p[2] << 16 | (unsigned int)p[3] << 8 | p[4];
}

/*
 * Sender k sends nseg datagrams, all but the last of seg bytes, the last of
 * last, as one segmented send (a lone datagram for nseg 1, of last bytes),
 * to 127.0.0.<dest> where the receiver is bound to the IPv4 wildcard, and
 * to the receiver's address otherwise.
 */
static void send_train(struct rig *r, int k, unsigned int nseg, unsigned int seg, unsigned int last,
		       unsigned char dest)
{
	static unsigned char buf[MAX_SEGS * SLOT];
	union {
		char c[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	union tu_addr to;
	struct train *t = &r->t[r->ntrains];
	size_t len = nseg > 1 ? (size_t)(nseg - 1) * seg + last : last;
	struct iovec iov = { buf, len };
	struct msghdr mh = { 0 };

	ck_assert(k >= 0 && k < r->nsend);
	ck_assert(nseg >= 1 && nseg <= MAX_SEGS && seg <= SLOT && last <= seg &&
		  (nseg == 1 || last > 0));
	ck_assert_uint_lt(r->ntrains, PLAN_TRAINS);
	ck_assert_uint_le(r->n + nseg, PLAN_DGRAMS);
	t->sender = k;
	t->nseg = nseg;
	t->dest = dest;
	t->coalesced = r->gro && nseg > 1;
	t->first = r->n;
	t->delivered = 0;
	for (unsigned int i = 0; i < nseg; i++) {
		struct dgram *d = &r->d[r->n + i];

		d->sender = k;
		d->seq = r->seq[k]++;
		d->len = i + 1 < nseg ? seg : last;
		d->train = r->ntrains;
		payload(buf + (size_t)i * seg, k, d->seq, d->len);
	}
	loopback_addr(&to, r->family, r->family == AF_INET && (r->opts & RIG_WILDCARD) ? dest : 1);
	set_port(&to, &r->ra);
	mh.msg_name = &to;
	mh.msg_namelen = tu_addr_len(&to);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nseg > 1) {
		uint16_t size = (uint16_t)seg;
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.c;
		mh.msg_controllen = sizeof(ctl.c);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(size));
		memcpy(CMSG_DATA(c), &size, sizeof(size));
	}
	ck_assert_msg(sendmsg(r->fs[k], &mh, 0) == (ssize_t)len,
		      "sender %d: a train of %u datagrams of %u bytes (the last %u): %s", k, nseg,
		      seg, last, strerror(errno));
	r->n += nseg;
	r->ntrains++;
}

static void send_lone(struct rig *r, int k, unsigned int len)
{
	send_train(r, k, 1, len, len, 1);
}

/* --- what came ------------------------------------------------------------------ */

static int same_addr(const BIO_ADDR *x, const union tu_addr *a)
{
	unsigned char raw[16];
	size_t len = sizeof(raw);

	if (x == NULL || BIO_ADDR_family(x) != a->sa.sa_family ||
	    !BIO_ADDR_rawaddress(x, raw, &len))
		return 0;
	if (a->sa.sa_family == AF_INET)
		return len == 4 && BIO_ADDR_rawport(x) == a->sin.sin_port &&
		       memcmp(raw, &a->sin.sin_addr, 4) == 0;
	return len == 16 && BIO_ADDR_rawport(x) == a->sin6.sin6_port &&
	       memcmp(raw, &a->sin6.sin6_addr, 16) == 0;
}

static int sender_of(const struct rig *r, const BIO_ADDR *peer)
{
	for (int k = 0; k < r->nsend; k++)
		if (same_addr(peer, &r->sa[k]))
			return k;
	return -1;
}

/* The next datagram of sender k still to come, or r->n. */
static size_t next_of(struct rig *r, int k)
{
	size_t i = r->next[k];

	while (i < r->n && r->d[i].sender != k)
		i++;
	return r->next[k] = i;
}

/* The first datagram that has not come, for messages. */
static void describe_missing(struct rig *r, char *s, size_t len)
{
	size_t first = r->n;

	for (int k = 0; k < r->nsend; k++) {
		size_t i = next_of(r, k);

		if (i < first)
			first = i;
	}
	if (first < r->n)
		snprintf(s, len, "sender %d datagram %u of %u bytes, in a train of %u",
			 r->d[first].sender, r->d[first].seq, r->d[first].len,
			 r->t[r->d[first].train].nseg);
	else
		snprintf(s, len, "none");
}

/*
 * Message m (room for cap bytes) is the next datagram of the sender it
 * names: the datagram's bytes, cut to cap, with flags cleared and, on a
 * wildcard receiver, the address the train was sent to.  Counted as
 * delivered unless peeked.  how and i say which call and message it was.
 */
static void check_msg(struct rig *r, const DGB_MSG *m, size_t cap, int peek, const char *how,
		      size_t i)
{
	unsigned char want[SLOT];
	int k = sender_of(r, m->peer);
	const unsigned char *got = m->data;
	unsigned int gseq = seq_of(got, m->data_len);
	size_t j, wlen;
	const struct dgram *d;
	struct train *t;

	ck_assert_msg(k >= 0,
		      "%s, message %zu: %zu bytes from no sender of the test (family %d, port %u; "
		      "its bytes say sender %d datagram %u)",
		      how, i, m->data_len, m->peer ? BIO_ADDR_family(m->peer) : -1,
		      m->peer ? ntohs(BIO_ADDR_rawport(m->peer)) : 0,
		      m->data_len ? got[0] - SENDER_TAG : -1, gseq);
	j = next_of(r, k);
	while (r->lossy && m->data_len >= 5 && j < r->n && j == r->t[r->d[j].train].first &&
	       r->d[j].seq != gseq) {
		struct train *lost = &r->t[r->d[j].train];

		lost->lost = 1;
		r->lost_sends++;
		r->lost += lost->nseg;
		r->delivered += lost->nseg;
		r->next[k] = lost->first + lost->nseg;
		j = next_of(r, k);
	}
	ck_assert_msg(j < r->n, "%s, message %zu: sender %d: a datagram more than it sent (%zu bytes)",
		      how, i, k, m->data_len);
	d = &r->d[j];
	t = &r->t[d->train];
	wlen = d->len < cap ? d->len : cap;
	ck_assert_msg(m->data_len == wlen,
		      "%s, message %zu: sender %d datagram %u (%u bytes, %u of a train of %u): "
		      "data_len %zu, should be %zu (its bytes say sender %d datagram %u)",
		      how, i, k, d->seq, d->len, (unsigned int)(j - t->first) + 1, t->nseg,
		      m->data_len, wlen, m->data_len ? got[0] - SENDER_TAG : -1, gseq);
	payload(want, k, d->seq, d->len);
	ck_assert_msg(memcmp(got, want, wlen) == 0,
		      "%s, message %zu: sender %d datagram %u (%u bytes, %u of a train of %u) has "
		      "other bytes (they say sender %d datagram %u)",
		      how, i, k, d->seq, d->len, (unsigned int)(j - t->first) + 1, t->nseg,
		      wlen ? got[0] - SENDER_TAG : -1, gseq);
	ck_assert_msg(m->flags == 0, "%s, message %zu: flags %#llx", how, i,
		      (unsigned long long)m->flags);
	if (m->local != NULL) {
		union tu_addr local;

		loopback_addr(&local, r->family, r->family == AF_INET ? t->dest : 1);
		set_port(&local, &r->ra);
		ck_assert_msg(same_addr(m->local, &local),
			      "%s, message %zu: sender %d datagram %u: local address of family %d "
			      "port %u, not the one it was sent to",
			      how, i, k, d->seq, BIO_ADDR_family(m->local),
			      ntohs(BIO_ADDR_rawport(m->local)));
	}
	if (peek) {
		r->peeks++;
		return;
	}
	r->next[k] = j + 1;
	r->delivered++;
	r->bytes += m->data_len;
	t->delivered++;
}

/*
 * What the BIO keeps: the rest of each coalesced train it delivered in
 * part (nothing where GRO is off: the kernel keeps split datagrams).
 */
static size_t kept_bytes(const struct rig *r)
{
	size_t sum = 0;

	for (size_t j = 0; j < r->ntrains; j++) {
		const struct train *t = &r->t[j];

		if (!t->coalesced || t->delivered == 0)
			continue;
		for (unsigned int i = t->delivered; i < t->nseg; i++)
			sum += r->d[t->first + i].len;
	}
	return sum;
}

/*
 * BIO_ctrl_pending is want, and while it is not 0 the socket polls
 * readable: the datagrams kept are still queued in the kernel, so a
 * program asleep in poll() on the socket is woken for them.
 */
static void check_kept(struct rig *r, size_t want, const char *after)
{
	size_t pending = BIO_ctrl_pending(r->b);
	struct pollfd pf = { .fd = r->fr, .events = POLLIN };

	ck_assert_msg(pending == want, "after %s: BIO_ctrl_pending says %zu bytes kept, should be %zu",
		      after, pending, want);
	if (want > 0)
		ck_assert_msg(poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN),
			      "after %s: the BIO keeps %zu bytes, but the socket does not poll "
			      "readable: a program asleep in poll() would never get them",
			      after, want);
}

/* GRO is as the test expects, in the BIO and on the socket. */
static void check_gro(struct rig *r, const char *when)
{
	ck_assert_msg(DGB_get_gro(r->b) == r->gro, "%s: DGB_get_gro %d, should be %d", when,
		      DGB_get_gro(r->b), r->gro);
	ck_assert_msg(sock_int(r->fr, SOL_UDP, UDP_GRO) == r->gro,
		      "%s: the socket's UDP_GRO is %d, should be %d", when,
		      sock_int(r->fr, SOL_UDP, UDP_GRO), r->gro);
}

/*
 * One DGB_recvmmsg into the first n messages of m, each with room for
 * cap[i] bytes; every message it fills is checked.  Returns how many (0:
 * nothing was queued, EAGAIN).
 */
static size_t recv_call(struct rig *r, DGB_MSG *m, const size_t *cap, size_t n)
{
	size_t done = 4242;
	char how[64];
	int ok;

	for (size_t i = 0; i < n; i++) {
		m[i].data_len = cap[i];
		m[i].flags = JUNK_FLAGS;
	}
	ERR_clear_error();
	ok = DGB_recvmmsg(r->b, m, sizeof(*m), n, 0, &done);
	/* A call for one message leaves the decision to a later one. */
	if (!r->decided && n > 1) {
		r->decided = 1;
		r->gro = r->gro_first;
	}
	r->calls++;
	snprintf(how, sizeof(how), "call %u (%zu messages)", r->calls, n);
	if (!ok) {
		unsigned long e = ERR_peek_last_error();

		ck_assert_msg(done == 0 && ERR_GET_LIB(e) == ERR_LIB_SYS &&
				      ERR_GET_REASON(e) == EAGAIN,
			      "%s failed (%zu processed): %s", how, done, err_text());
		ERR_clear_error();
	} else {
		ck_assert_msg(done >= 1 && done <= n, "%s: %zu messages processed", how, done);
		r->data_calls++;
		for (size_t i = 0; i < done; i++)
			check_msg(r, &m[i], cap[i], 0, how, i);
	}
	check_kept(r, kept_bytes(r), how);
	check_gro(r, how);
	return ok ? done : 0;
}

/* Messages of the caller: n, each with cap[i % ncap] bytes of room, a peer, maybe a local. */
struct msgs {
	size_t n;
	DGB_MSG *m;
	size_t *cap;
	unsigned char *buf;
	BIO_ADDR **addr;
};

static void msgs_new(struct msgs *x, size_t n, const size_t *cap, size_t ncap, int with_local)
{
	x->n = n;
	x->m = calloc(n, sizeof(*x->m));
	x->cap = calloc(n, sizeof(*x->cap));
	x->buf = calloc(n, SLOT);
	x->addr = calloc(2 * n, sizeof(*x->addr));
	ck_assert(x->m != NULL && x->cap != NULL && x->buf != NULL && x->addr != NULL);
	for (size_t i = 0; i < n; i++) {
		x->cap[i] = cap != NULL ? cap[i % ncap] : SLOT;
		ck_assert_uint_le(x->cap[i], SLOT);
		x->m[i].data = x->buf + i * SLOT;
		x->m[i].peer = x->addr[2 * i] = BIO_ADDR_new();
		ck_assert_ptr_nonnull(x->m[i].peer);
		if (with_local) {
			x->m[i].local = x->addr[2 * i + 1] = BIO_ADDR_new();
			ck_assert_ptr_nonnull(x->m[i].local);
		}
	}
}

static void msgs_free(struct msgs *x)
{
	for (size_t i = 0; i < 2 * x->n; i++)
		BIO_ADDR_free(x->addr[i]);
	free(x->addr);
	free(x->buf);
	free(x->cap);
	free(x->m);
}

/* The socket has something to read within a second; else the missing datagram is named. */
static void wait_readable(struct rig *r)
{
	struct pollfd pf = { .fd = r->fr, .events = POLLIN };
	char missing[128];

	if (poll(&pf, 1, 1000) == 1)
		return;
	describe_missing(r, missing, sizeof(missing));
	ck_assert_msg(0, "%zu of %zu datagrams never came (the first: %s)", r->n - r->delivered,
		      r->n, missing);
}

/* Every datagram came, and nothing else is there or kept. */
static void recv_none(struct rig *r, struct msgs *x)
{
	struct pollfd pf = { .fd = r->fr, .events = POLLIN };

	ck_assert_uint_eq(r->delivered, r->n);
	check_kept(r, 0, "the last datagram");
	ck_assert_msg(poll(&pf, 1, 0) == 0,
		      "every datagram came, but the socket still polls readable: something is "
		      "queued that was never delivered");
	if (!(r->opts & RIG_BLOCKING))
		ck_assert_uint_eq(recv_call(r, x->m, x->cap, x->n < 4 ? x->n : 4), 0);
}

/* Receive until the whole plan came, with calls of sizes[0], sizes[1], ... in turn. */
static void recv_all_sizes(struct rig *r, struct msgs *x, const size_t *sizes, size_t nsizes)
{
	int empty = 0;

	for (size_t c = 0; r->delivered < r->n; c++) {
		size_t n = sizes[c % nsizes];

		ck_assert_uint_le(n, x->n);
		if (recv_call(r, x->m, x->cap, n) > 0) {
			empty = 0;
			continue;
		}
		wait_readable(r);
		ck_assert_msg(++empty < STALL_CALLS,
			      "%zu datagrams to come, the socket polls readable, yet %d calls in a "
			      "row got nothing: the BIO stalls",
			      r->n - r->delivered, empty);
	}
	recv_none(r, x);
}

/* Receive with calls of n messages until the whole plan came. */
static void recv_all(struct rig *r, struct msgs *x, size_t n)
{
	recv_all_sizes(r, x, &n, 1);
}

/*
 * The counters since plan_reset(): the coalesced trains of the plan came
 * as such, each once, with all their datagrams; carried, where the test
 * knows it (else -1), is the datagrams delivered by a later call than the
 * one that received their train.  No receive was cut short, and the kernel
 * dropped nothing (else the test's receive buffer was too small).
 */
static void check_counters(struct rig *r, const char *name, long long carried)
{
	struct tally t;
	uint64_t trains = 0, segs = 0;

	tally_read(&t);
	for (size_t j = 0; j < r->ntrains; j++) {
		if (r->t[j].coalesced && !r->t[j].lost) {
			trains++;
			segs += r->t[j].nseg;
		}
	}
	fprintf(stderr,
		"gro %s (%s, GRO %s): %zu datagrams in %zu sends; %llu coalesced receives of %llu, "
		"%llu carried, %llu kernel drops, %u calls\n",
		name, r->family == AF_INET ? "IPv4" : "IPv6", r->gro ? "on" : "off", r->n,
		r->ntrains, (unsigned long long)(t.receives - r->t0.receives),
		(unsigned long long)(t.segs - r->t0.segs),
		(unsigned long long)(t.carried - r->t0.carried),
		(unsigned long long)(t.drops - r->t0.drops), r->calls);
	/*
	 * The kernel counts drops by what it queues: a train dropped whole
	 * may count once, or once for each of its datagrams.
	 */
	if (r->lossy)
		ck_assert_msg(t.drops - r->t0.drops >= r->lost_sends &&
				      t.drops - r->t0.drops <= r->lost,
			      "%s: rx-kernel-drops grew by %llu; the kernel dropped %zu sends of %zu "
			      "datagrams",
			      name, (unsigned long long)(t.drops - r->t0.drops), r->lost_sends,
			      r->lost);
	else
		ck_assert_msg(t.drops == r->t0.drops,
			      "%s: the kernel dropped %llu datagrams: the receive buffer is too "
			      "small",
			      name, (unsigned long long)(t.drops - r->t0.drops));
	ck_assert_msg(t.receives - r->t0.receives == trains && t.segs - r->t0.segs == segs,
		      "%s: %llu coalesced receives of %llu datagrams; %llu trains of %llu were sent "
		      "to a socket with UDP_GRO",
		      name, (unsigned long long)(t.receives - r->t0.receives),
		      (unsigned long long)(t.segs - r->t0.segs), (unsigned long long)trains,
		      (unsigned long long)segs);
	ck_assert_msg(t.truncated == r->t0.truncated, "%s: %llu receives cut short", name,
		      (unsigned long long)(t.truncated - r->t0.truncated));
	if (carried >= 0)
		ck_assert_msg(t.carried - r->t0.carried == (uint64_t)carried,
			      "%s: %llu datagrams carried to a later call, should be %lld", name,
			      (unsigned long long)(t.carried - r->t0.carried), carried);
	if (r->peeks == 0)
		ck_assert_msg(t.rx - r->t0.rx == r->n - r->lost &&
				      t.rx_bytes - r->t0.rx_bytes == r->bytes,
			      "%s: rx-datagrams grew by %llu (%llu bytes) for %zu datagrams (%llu "
			      "bytes)",
			      name, (unsigned long long)(t.rx - r->t0.rx),
			      (unsigned long long)(t.rx_bytes - r->t0.rx_bytes), r->n - r->lost,
			      (unsigned long long)r->bytes);
}

/*
 * One BIO_read (peek: in peek mode) with room for cap bytes: exactly the
 * next datagram of its sender, which the BIO takes for its peer.
 */
static void read_one(struct rig *r, size_t cap, int peek, const char *how)
{
	unsigned char buf[SLOT];
	BIO_ADDR *peer = BIO_ADDR_new();
	DGB_MSG m = { 0 };
	int got;

	ck_assert_ptr_nonnull(peer);
	ck_assert_uint_le(cap, SLOT);
	memset(buf, 0x5a, sizeof(buf));
	got = BIO_read(r->b, buf, (int)cap);
	ck_assert_msg(got >= 0, "%s: BIO_read: %d (%s)", how, got, strerror(errno));
	ck_assert_int_gt(BIO_dgram_get_peer(r->b, peer), 0);
	m.data = buf;
	m.data_len = (size_t)got;
	m.peer = peer;
	check_msg(r, &m, cap, peek, how, 0);
	BIO_ADDR_free(peer);
}

/* --- plans ------------------------------------------------------------------------ */

/*
 * Four senders take turns, each with a segment size of its own; trains of
 * every length, some ending short, some a lone datagram.  IPv4 trains on a
 * wildcard receiver go to 127.0.0.1 and 127.0.0.3 in turn.
 */
static const unsigned int mix_nseg[] = { 1, 64, 7, 2, 33, 1, 16, 50, 3, 1, 20, 64, 5, 1, 40, 9 };

#define NMIX (sizeof(mix_nseg) / sizeof(mix_nseg[0]))

static void send_mix(struct rig *r, int rounds)
{
	for (int round = 0; round < rounds; round++) {
		for (int k = 0; k < r->nsend; k++) {
			unsigned int nseg = mix_nseg[(size_t)(round * 5 + k * 3) % NMIX];
			unsigned int seg = 200 + 250 * (unsigned int)k + (unsigned int)round;
			unsigned int last = (round + k) % 3 == 0 ? 1 + (seg * 7 + round) % seg : seg;

			send_train(r, k, nseg, seg, last, (unsigned char)(1 + 2 * ((round + k) % 2)));
		}
	}
}

/* Two senders; 179 datagrams, 177 of them in 6 trains. */
static const struct fixed_train {
	int sender;
	unsigned int nseg, seg, last;
} fixed[] = {
	{ 0, 50, 1000, 1000 }, { 1, 1, 300, 300 }, { 0, 7, 200, 13 },  { 1, 64, 900, 1 },
	{ 0, 3, 1200, 1200 },  { 1, 20, 100, 99 }, { 0, 1, 1, 1 },     { 1, 33, 500, 500 },
};

#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))

static void send_fixed(struct rig *r)
{
	for (size_t i = 0; i < NFIXED; i++)
		send_train(r, fixed[i].sender, fixed[i].nseg, fixed[i].seg, fixed[i].last, 1);
}

/* Datagrams of the fixed plan delivered by a later call when calls take one. */
static long long fixed_carried_one_at_a_time(void)
{
	long long c = 0;

	for (size_t i = 0; i < NFIXED; i++)
		c += fixed[i].nseg - 1;
	return c;
}

/* --- trains of every length ----------------------------------------------------- */

/*
 * Trains of n = 1..64 datagrams of 1000 bytes, one whole and one with a
 * short last datagram, into calls of 32 messages of 1500 bytes: a train
 * longer than the call goes over two, and none is cut to a buffer.
 */
static void train_sizes(int family, unsigned int n)
{
	struct rig *r = rig_open(family, 1, 0, NULL);
	struct msgs x;
	char name[32];

	msgs_new(&x, 32, NULL, 0, 0);
	send_train(r, 0, n, SEG, SEG, 1);
	send_train(r, 0, n, SEG, 1 + (n * 37) % (SEG - 1), 1);
	recv_all(r, &x, 32);
	snprintf(name, sizeof(name), "train of %u", n);
	check_counters(r, name, -1);
	msgs_free(&x);
	rig_close(r);
}

START_TEST(test_train_sizes)
{
	train_sizes(AF_INET, (unsigned int)_i + 1);
}
END_TEST

START_TEST(test_train_sizes_ipv6)
{
	train_sizes(AF_INET6, (unsigned int)_i + 1);
}
END_TEST

/* --- several senders ----------------------------------------------------------- */

/* Four senders' trains interleaved: each sender's order is kept, no two are joined. */
START_TEST(test_senders_interleaved)
{
	struct rig *r = rig_open(FAMILY(_i), 4, 0, NULL);
	struct msgs x;

	msgs_new(&x, 32, NULL, 0, 0);
	send_mix(r, 6);
	recv_all(r, &x, 32);
	check_counters(r, "4 senders", -1);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/*
 * On a receiver bound to the wildcard address, every datagram of a train
 * carries the address the train was sent to (127.0.0.1 and 127.0.0.3 in
 * turn for IPv4, ::1 for IPv6) and the socket's port; its peer is its
 * sender.
 */
START_TEST(test_local_addresses)
{
	struct rig *r = rig_open(FAMILY(_i), 2, RIG_WILDCARD, NULL);
	struct msgs x;
	int on = 0;

	ck_assert_int_eq(BIO_dgram_get_local_addr_enable(r->b, &on), 1);
	ck_assert_int_eq(on, 1);
	msgs_new(&x, 32, NULL, 0, 1);
	send_mix(r, 4);
	recv_all(r, &x, 32);
	check_counters(r, "local addresses", -1);
	/* Through the control itself, with calls of 3. */
	ck_assert_int_eq(BIO_ctrl(r->b, BIO_CTRL_DGRAM_SET_LOCAL_ADDR_ENABLE, 1, NULL), 1);
	plan_reset(r);
	send_mix(r, 2);
	recv_all(r, &x, 3);
	check_counters(r, "local addresses, calls of 3", -1);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/* --- the caller's arrays and buffers ---------------------------------------------- */

static const size_t array_sizes[] = { 1, 3, 32, 1024 };

#define NARRAYS (int)(sizeof(array_sizes) / sizeof(array_sizes[0]))

/*
 * The fixed plan into calls of 1, 3, 32 and 1024 messages.  With one
 * message a call, each train's first datagram comes in the call that
 * receives it and the rest in later calls; with 1024, every train fits
 * whole in the call that takes it, and none is carried.
 */
START_TEST(test_array_sizes)
{
	size_t n = array_sizes[_i % NARRAYS];
	struct rig *r = rig_open(FAMILY(_i / NARRAYS), 2, 0, NULL);
	struct msgs x;
	char name[32];
	long long carried = -1;

	if (n == 1)
		carried = fixed_carried_one_at_a_time();
	else if (n == 1024)
		carried = 0;
	msgs_new(&x, n, NULL, 0, 0);
	send_fixed(r);
	wait_readable(r);
	recv_all(r, &x, n);
	snprintf(name, sizeof(name), "calls of %zu", n);
	check_counters(r, name, carried);
	/* With room for all, each call that takes anything takes whole trains. */
	if (n == 1024)
		ck_assert_uint_le(r->data_calls, NFIXED);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/*
 * Calls of every size in turn, so that each call meets the queue in
 * another state (a train kept, or not; a list that fills the call, or
 * not), with empty datagrams among the trains.
 */
START_TEST(test_call_sizes_vary)
{
	static const size_t sizes[] = { 1, 7, 2, 32, 3, 64, 5, 1, 33, 16, 4, 1024 };
	struct rig *r = rig_open(FAMILY(_i), 4, 0, NULL);
	struct msgs x;

	msgs_new(&x, 1024, NULL, 0, 0);
	for (int round = 0; round < 3; round++) {
		send_mix(r, 3);
		send_lone(r, round % 4, 0);
	}
	recv_all_sizes(r, &x, sizes, sizeof(sizes) / sizeof(sizes[0]));
	check_counters(r, "calls of every size", -1);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/*
 * Buffers smaller than the segments: each message holds the first bytes of
 * one datagram, data_len is its room, and the next message has the next
 * datagram; as a plain receive cuts a lone datagram.  Then BIO_read into
 * 10 bytes: one datagram a call, cut the same way.
 */
START_TEST(test_small_buffers)
{
	static const size_t caps[] = { 100, 1, 0, 999, 1000, 1500, 64 };
	struct rig *r = rig_open(FAMILY(_i), 2, 0, NULL);
	struct msgs x;

	msgs_new(&x, 7, caps, sizeof(caps) / sizeof(caps[0]), 0);
	send_train(r, 0, 20, SEG, 500, 1);
	send_train(r, 1, 9, 1200, 1200, 1);
	send_lone(r, 0, 700);
	send_train(r, 1, 40, 30, 2, 1);
	recv_all(r, &x, 7);
	check_counters(r, "small buffers", -1);

	plan_reset(r);
	send_train(r, 0, 12, 600, 17, 1);
	wait_readable(r);
	for (int i = 0; i < 12; i++) {
		read_one(r, 10, 0, "BIO_read into 10 bytes");
		check_kept(r, kept_bytes(r), "BIO_read into 10 bytes");
	}
	recv_none(r, &x);
	check_counters(r, "BIO_read, small buffer", 11);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/* --- BIO_read and peek after part of a train ------------------------------------- */

/*
 * Three datagrams of a train of ten by DGB_recvmmsg; then BIO_read takes
 * the rest one datagram a call, in order, and peek mode shows the next one
 * without taking it.  Then a fresh train read by peek first: one datagram,
 * not the train.
 */
START_TEST(test_read_after_partial)
{
	struct rig *r = rig_open(FAMILY(_i), 1, 0, NULL);
	struct msgs x;

	msgs_new(&x, 3, NULL, 0, 0);
	send_train(r, 0, 10, 500, 123, 1);
	wait_readable(r);
	ck_assert_int_eq(r->gro, 1);
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 3), 3);
	ck_assert_uint_eq(BIO_ctrl_pending(r->b), 6 * 500 + 123);

	read_one(r, SLOT, 0, "BIO_read after part of a train");
	check_kept(r, kept_bytes(r), "BIO_read after part of a train");
	ck_assert_int_eq(BIO_ctrl(r->b, BIO_CTRL_DGRAM_SET_PEEK_MODE, 1, NULL), 1);
	for (int i = 0; i < 3; i++) {
		read_one(r, SLOT, 1, "peek");
		check_kept(r, kept_bytes(r), "peek");
	}
	ck_assert_int_eq(BIO_ctrl(r->b, BIO_CTRL_DGRAM_SET_PEEK_MODE, 0, NULL), 1);
	while (r->delivered < r->n) {
		read_one(r, SLOT, 0, "BIO_read");
		check_kept(r, kept_bytes(r), "BIO_read");
	}
	ck_assert_int_eq(BIO_read(r->b, x.buf, SLOT), -1);
	ck_assert(BIO_should_retry(r->b) && BIO_should_read(r->b));
	ERR_clear_error();
	recv_none(r, &x);
	/* Seven datagrams came after the call that received the train; a peek takes none. */
	check_counters(r, "BIO_read after part of a train", 7);

	/*
	 * Peeking at a fresh train shows its first datagram alone; the BIO
	 * keeps the train from then on, so it counts as pending.
	 */
	plan_reset(r);
	send_train(r, 0, 4, 300, 300, 1);
	wait_readable(r);
	ck_assert_int_eq(BIO_ctrl(r->b, BIO_CTRL_DGRAM_SET_PEEK_MODE, 1, NULL), 1);
	read_one(r, SLOT, 1, "peek at a fresh train");
	read_one(r, SLOT, 1, "peek at a fresh train, again");
	check_kept(r, 4 * 300, "peek at a fresh train");
	ck_assert_int_eq(BIO_ctrl(r->b, BIO_CTRL_DGRAM_SET_PEEK_MODE, 0, NULL), 1);
	for (int i = 0; i < 4; i++) {
		read_one(r, SLOT, 0, "BIO_read after peek");
		check_kept(r, kept_bytes(r), "BIO_read after peek");
	}
	recv_none(r, &x);
	check_counters(r, "peek at a fresh train", 4);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/* --- no stall --------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * On a blocking socket: after a call that leaves part of a train kept, the
 * socket polls readable, the BIO's read poll descriptor is that socket,
 * and the next calls (a BIO_read, then DGB_recvmmsg) return at once with
 * the rest, before a train that came later.
 */
START_TEST(test_no_stall)
{
	struct rig *r = rig_open(FAMILY(_i), 2, RIG_BLOCKING, NULL);
	struct timeval tv = { 3, 0 };
	DGB_POLL_DESCRIPTOR pd;
	struct pollfd pf;
	struct msgs x;
	size_t got;
	double t0;

	/* A call that blocks where it should not fails by the clock, not by hanging. */
	ck_assert_int_eq(setsockopt(r->fr, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	msgs_new(&x, 32, NULL, 0, 0);
	send_train(r, 0, 64, SEG, SEG, 1);
	wait_readable(r);
	ck_assert_int_eq(r->gro, 1);
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 32), 32);
	ck_assert_uint_eq(BIO_ctrl_pending(r->b), 32 * SEG);

	/* BIO_get_rpoll_descriptor() is this control (3.2+); asked directly, it runs on 3.0 too. */
	memset(&pd, 0, sizeof(pd));
	ck_assert_int_eq(BIO_ctrl(r->b, BIO_CTRL_GET_RPOLL_DESCRIPTOR, 0, &pd), 1);
	ck_assert_int_eq(pd.type, BIO_POLL_DESCRIPTOR_TYPE_SOCK_FD);
	ck_assert_int_eq(pd.value.fd, r->fr);
	pf.fd = pd.value.fd;
	pf.events = POLLIN;
	pf.revents = 0;
	ck_assert_int_eq(poll(&pf, 1, 0), 1);

	send_train(r, 1, 10, 300, 300, 1);
	t0 = now_s();
	read_one(r, SLOT, 0, "blocking BIO_read after part of a train");
	got = recv_call(r, x.m, x.cap, 32);
	ck_assert_msg(now_s() - t0 < 1.0, "a blocking call waited %.1fs with datagrams kept",
		      now_s() - t0);
	/* The rest of the first train before anything of the second. */
	ck_assert_uint_ge(got, 31);
	for (size_t i = 0; i < 31; i++)
		ck_assert_int_eq(sender_of(r, x.m[i].peer), 0);
	while (r->delivered < r->n) {
		wait_readable(r);
		recv_call(r, x.m, x.cap, 32);
	}
	recv_none(r, &x);
	check_counters(r, "no stall", -1);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/* --- counters ------------------------------------------------------------------------ */

/*
 * One train of 50 into calls of 32: one coalesced receive of 50 datagrams,
 * 18 of them carried to the second call.  A lone datagram after it is no
 * coalesced receive.
 */
START_TEST(test_counters)
{
	struct rig *r = rig_open(FAMILY(_i), 1, 0, NULL);
	struct msgs x;

	ck_assert_int_eq(r->gro, 1);
	msgs_new(&x, 32, NULL, 0, 0);
	send_train(r, 0, 50, SEG, SEG, 1);
	wait_readable(r);
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 32), 32);
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 32), 18);
	recv_none(r, &x);
	check_counters(r, "one train of 50", 18);

	plan_reset(r);
	send_lone(r, 0, 1400);
	recv_all(r, &x, 32);
	check_counters(r, "a lone datagram", 0);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/* --- the kernel's drops ---------------------------------------------------------- */

/*
 * A receive buffer too small for more than one train: the kernel drops the
 * rest whole.  What came is exact, the gaps are whole trains, and the drop
 * count the kernel gives with the next datagram (SO_RXQ_OVFL) reaches
 * rx-kernel-drops.
 */
START_TEST(test_kernel_drops)
{
	struct rig *r = rig_open(FAMILY(_i), 1, 0, NULL);
	int small = 4096;
	struct msgs x;

	ck_assert_int_eq(setsockopt(r->fr, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	r->lossy = 1;
	msgs_new(&x, 32, NULL, 0, 0);
	for (int i = 0; i < 10; i++)
		send_train(r, 0, 50, SEG, SEG, 1);
	while (recv_call(r, x.m, x.cap, 32) > 0)
		;
	send_lone(r, 0, 100);
	recv_all(r, &x, 32);
	ck_assert_uint_gt(r->lost_sends, 0);
	check_counters(r, "kernel drops", -1);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/* --- datagrams of no bytes among trains ------------------------------------------ */

static const size_t empty_calls[] = { 1, 3, 32 };

#define NEMPTY (int)(sizeof(empty_calls) / sizeof(empty_calls[0]))

/*
 * Empty datagrams come as such, once, in their place, between and after
 * trains.  (The kernel skips an empty datagram, once peeked, in every
 * later peek at an offset, which is how listing the queue can miss one.)
 */
START_TEST(test_empty_datagrams)
{
	size_t n = empty_calls[_i % NEMPTY];
	struct rig *r = rig_open(FAMILY(_i / NEMPTY), 2, 0, NULL);
	struct msgs x;

	msgs_new(&x, n, NULL, 0, 0);
	for (int round = 0; round < 3; round++) {
		send_train(r, 0, 40, 100, 100, 1);
		send_lone(r, 0, 0);
		send_train(r, 0, 10, 100, 100, 1);
		send_lone(r, 0, 0);
		send_lone(r, 0, 30);
		send_lone(r, 0, 0);
		send_train(r, 0, 40, 100, 100, 1);
		send_lone(r, 1, 0);
		send_lone(r, 0, 0);
		send_train(r, 1, 10, 100, 100, 1);
		send_lone(r, 0, 30);
		send_lone(r, 1, 0);
		send_train(r, 0, 5, 100, 7, 1);
		send_lone(r, 0, 0);
	}
	recv_all(r, &x, n);
	check_counters(r, "empty datagrams", -1);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/* --- switches ------------------------------------------------------------------------ */

/*
 * A fresh BIO leaves the socket alone; its first batched receive turns
 * UDP_GRO on, even with nothing to read.  From then on it cannot be turned
 * off: DGB_set_gro(b, 0) fails with an error raised, and GRO stays on.
 */
START_TEST(test_on_at_first_receive)
{
	struct rig *r = rig_open(FAMILY(_i), 2, RIG_UNDECIDED, NULL);
	struct msgs x;
	unsigned long e;

	msgs_new(&x, 32, NULL, 0, 0);
	check_gro(r, "a fresh BIO");
	/* A batched call for one message does not decide: it would gain nothing. */
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 1), 0);
	check_gro(r, "a batched receive of one message");
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 32), 0);
	ck_assert_int_eq(r->gro, 1);
	check_gro(r, "the first batched receive");

	ERR_clear_error();
	ck_assert_int_eq(DGB_set_gro(r->b, 0), 0);
	e = ERR_peek_last_error();
	ck_assert_msg(e != 0 && ERR_GET_LIB(e) == ERR_LIB_BIO,
		      "DGB_set_gro(b, 0) with GRO on failed without an error of the BIO library");
	ERR_clear_error();
	check_gro(r, "DGB_set_gro(b, 0) refused");
	ck_assert_int_eq(DGB_set_gro(r->b, 1), 1);
	check_gro(r, "DGB_set_gro(b, 1)");
	send_mix(r, 3);
	recv_all(r, &x, 32);
	check_counters(r, "GRO on at the first receive", -1);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/*
 * DGB_set_gro(b, 0) before the first batched receive keeps GRO off: the
 * kernel splits the trains, the BIO receives into the caller's buffers.
 * DGB_set_gro(b, 1) turns it on at once.
 */
START_TEST(test_set_gro_off_first)
{
	struct rig *r = rig_open(FAMILY(_i), 3, RIG_UNDECIDED, NULL);
	struct msgs x;

	msgs_new(&x, 32, NULL, 0, 0);
	ck_assert_int_eq(DGB_set_gro(r->b, 0), 1);
	r->gro_first = 0;
	check_gro(r, "DGB_set_gro(b, 0)");
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 32), 0);
	send_mix(r, 3);
	recv_all(r, &x, 32);
	check_counters(r, "GRO refused", 0);

	ck_assert_int_eq(DGB_set_gro(r->b, 1), 1);
	r->gro = 1;
	check_gro(r, "DGB_set_gro(b, 1)");
	plan_reset(r);
	send_mix(r, 3);
	recv_all(r, &x, 32);
	check_counters(r, "GRO turned on", -1);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/* DGRAMBATCH_CAPS_DISABLE=udp_gro: GRO stays off, and cannot be turned on. */
START_TEST(test_caps_disable_gro)
{
	struct rig *r = rig_open(FAMILY(_i), 2, 0, "udp_gro");
	struct msgs x;

	ck_assert_int_eq(r->gro, 0);
	check_gro(r, "udp_gro disabled");
	ck_assert_int_eq(DGB_set_gro(r->b, 1), 0);
	ERR_clear_error();
	check_gro(r, "DGB_set_gro(b, 1) with udp_gro disabled");
	msgs_new(&x, 32, NULL, 0, 0);
	send_mix(r, 3);
	recv_all(r, &x, 32);
	check_counters(r, "udp_gro disabled", 0);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/*
 * DGRAMBATCH_CAPS_DISABLE=recvmmsg with GRO on: trains are taken one
 * receive at a time, still exact, into calls of 32 and of 3.
 */
START_TEST(test_recvmmsg_disabled)
{
	struct rig *r = rig_open(FAMILY(_i), 3, 0, "recvmmsg");
	struct msgs x;

	ck_assert_int_eq(r->gro, 1);
	msgs_new(&x, 32, NULL, 0, 0);
	send_mix(r, 4);
	recv_all(r, &x, 32);
	check_counters(r, "recvmmsg disabled, calls of 32", -1);
	plan_reset(r);
	send_fixed(r);
	recv_all(r, &x, 3);
	check_counters(r, "recvmmsg disabled, calls of 3", -1);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/*
 * A socket the program gave UDP_GRO before the BIO got it: BIO_read splits
 * its trains from the first call, one datagram each, with no batched call
 * ever made.  Freed with BIO_NOCLOSE, the socket keeps the program's
 * UDP_GRO.
 */
START_TEST(test_preset_gro_socket)
{
	struct rig *r = rig_open(FAMILY(_i), 2, RIG_PRESET_GRO | RIG_NOCLOSE, NULL);
	struct msgs x;

	msgs_new(&x, 1, NULL, 0, 0);
	check_gro(r, "a socket with UDP_GRO");
	send_train(r, 0, 10, SEG, 321, 1);
	send_lone(r, 1, 77);
	send_train(r, 1, 5, 200, 200, 1);
	wait_readable(r);
	while (r->delivered < r->n) {
		read_one(r, SLOT, 0, "BIO_read");
		check_kept(r, kept_bytes(r), "BIO_read");
	}
	ck_assert_int_eq(r->calls, 0);
	recv_none(r, &x);
	check_counters(r, "UDP_GRO set by the program", 9 + 4);
	BIO_free(r->b);
	ck_assert_int_eq(sock_int(r->fr, SOL_UDP, UDP_GRO), 1);
	r->b = NULL;
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/*
 * Freed with BIO_NOCLOSE, the BIO gives the socket back as it got it:
 * UDP_GRO off (the kernel splits trains for the program again), and the
 * drop count and peek offset GRO needed as they were.
 */
START_TEST(test_noclose_restores)
{
	struct rig *r = rig_open(FAMILY(_i), 1, RIG_NOCLOSE | RIG_UNDECIDED, NULL);
	int ovfl = sock_int(r->fr, SOL_SOCKET, SO_RXQ_OVFL);
	int peek_off = sock_int(r->fr, SOL_SOCKET, SO_PEEK_OFF);
	unsigned char buf[SLOT], want[SLOT];
	struct msgs x;

	msgs_new(&x, 32, NULL, 0, 0);
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 32), 0);
	check_gro(r, "the first batched receive");
	send_train(r, 0, 40, SEG, 10, 1);
	recv_all(r, &x, 32);
	check_counters(r, "before BIO_free", -1);

	BIO_free(r->b);
	r->b = NULL;
	ck_assert_int_eq(sock_int(r->fr, SOL_UDP, UDP_GRO), 0);
	ck_assert_int_eq(sock_int(r->fr, SOL_SOCKET, SO_RXQ_OVFL), ovfl);
	ck_assert_int_eq(sock_int(r->fr, SOL_SOCKET, SO_PEEK_OFF), peek_off);
	r->gro = 0;
	plan_reset(r);
	send_train(r, 0, 5, SEG, SEG, 1);
	for (size_t i = 0; i < r->n; i++) {
		ck_assert_int_eq(raw_recv(r->fr, buf, sizeof(buf)), SEG);
		payload(want, 0, r->d[i].seq, SEG);
		ck_assert_mem_eq(buf, want, SEG);
	}
	ck_assert_int_eq(recv(r->fr, buf, sizeof(buf), MSG_DONTWAIT), -1);
	r->delivered = r->n;
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/*
 * Freed with BIO_NOCLOSE in the middle of a train: whatever the program
 * then reads from the socket itself, it never gets a datagram the BIO
 * delivered already, nor datagrams joined into one.  The BIO read the
 * train with MSG_PEEK, so the kernel still holds all of it; with UDP_GRO
 * off it would hand it to a plain reader as one datagram.  What the BIO
 * kept is dropped when it is freed (core.h), so the rest of the train may
 * be gone, or come one datagram at a time, but not again whole.
 */
START_TEST(test_noclose_mid_train)
{
	struct rig *r = rig_open(FAMILY(_i), 1, RIG_NOCLOSE, NULL);
	unsigned char buf[65536], want[SLOT];
	struct msgs x;
	long got;

	msgs_new(&x, 4, NULL, 0, 0);
	send_train(r, 0, 10, SEG, SEG, 1);
	wait_readable(r);
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 4), 4);
	BIO_free(r->b);
	r->b = NULL;
	ck_assert_int_eq(sock_int(r->fr, SOL_UDP, UDP_GRO), 0);
	while ((got = recv(r->fr, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		size_t i = next_of(r, 0);
		unsigned int seq = seq_of(buf, (size_t)got);

		ck_assert_msg(got == SEG && i < r->n && seq >= r->d[i].seq,
			      "after BIO_free mid-train the socket gave %ld bytes starting with "
			      "datagram %u; the BIO had delivered datagrams 0..%u already",
			      got, seq, r->d[i].seq - 1);
		while (r->d[i].seq < seq)
			i++;
		payload(want, 0, seq, SEG);
		ck_assert_mem_eq(buf, want, SEG);
		r->next[0] = i + 1;
	}
	r->delivered = r->n;
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/* --- a receiver of one message while GRO goes on ---------------------------------- */

/* Datagrams of the race tests: trains of RACE_SEGS of RACE_SEG bytes, one sender. */
#define RACE_SEG 100
#define RACE_SEGS 10
#define RACE_TRAINS 200
#define RACE_ROUNDS 300
#define RACE_BLOCKING_ROUNDS 3

/*
 * What the threads of a race test received, by datagram number (one
 * sender: its number is its place in the plan).  The threads only count;
 * the test checks in its own thread.
 */
struct race {
	struct rig *r;
	atomic_int stop;
	/* Datagrams longer than a segment (trains whole), and wrong bytes. */
	atomic_uint merged, bad, total;
	/* The plan's length so far, as the sender thread publishes it. */
	atomic_size_t sent;
	atomic_uint count[PLAN_DGRAMS];
};

/* One datagram that came: a segment of the plan, byte for byte, counted by its number. */
static void race_note(struct race *rc, const unsigned char *p, size_t len)
{
	unsigned char want[SLOT];
	unsigned int seq = seq_of(p, len);

	if (len > RACE_SEG) {
		atomic_fetch_add(&rc->merged, 1);
		return;
	}
	payload(want, 0, seq, RACE_SEG);
	if (len != RACE_SEG || seq >= PLAN_DGRAMS || memcmp(p, want, len) != 0) {
		atomic_fetch_add(&rc->bad, 1);
		return;
	}
	atomic_fetch_add(&rc->count[seq], 1);
	atomic_fetch_add(&rc->total, 1);
}

/* One DGB_recvmmsg of n messages, each counted; how many came (0: none, or failed). */
static size_t race_recv(struct race *rc, struct msgs *x, size_t n)
{
	size_t done = 0;

	for (size_t i = 0; i < n; i++)
		x->m[i].data_len = SLOT;
	if (!DGB_recvmmsg(rc->r->b, x->m, sizeof(*x->m), n, 0, &done)) {
		ERR_clear_error();
		return 0;
	}
	for (size_t i = 0; i < done; i++)
		race_note(rc, x->m[i].data, x->m[i].data_len);
	return done;
}

/* A thread that receives one message a call, DGB_recvmmsg of one, until told to stop. */
static void *race_reader_one(void *arg)
{
	struct race *rc = arg;
	unsigned char buf[SLOT];
	DGB_MSG m;
	size_t done;

	while (!atomic_load(&rc->stop)) {
		memset(&m, 0, sizeof(m));
		m.data = buf;
		m.data_len = sizeof(buf);
		if (DGB_recvmmsg(rc->r->b, &m, sizeof(m), 1, 0, &done) && done == 1)
			race_note(rc, buf, m.data_len);
		else
			ERR_clear_error();
	}
	return NULL;
}

/* A thread that receives with BIO_read, waiting a moment after a call that got nothing. */
static void *race_reader_read(void *arg)
{
	struct race *rc = arg;
	unsigned char buf[SLOT];
	int got;

	while (!atomic_load(&rc->stop)) {
		got = BIO_read(rc->r->b, buf, sizeof(buf));
		if (got > 0) {
			race_note(rc, buf, (size_t)got);
		} else {
			ERR_clear_error();
			usleep(1000);
		}
	}
	return NULL;
}

/* A thread that sends trains, the only one that writes the plan while it runs. */
static void *race_sender(void *arg)
{
	struct race *rc = arg;

	while (!atomic_load(&rc->stop) && rc->r->ntrains < RACE_TRAINS) {
		send_train(rc->r, 0, RACE_SEGS, RACE_SEG, RACE_SEG, 1);
		atomic_store(&rc->sent, rc->r->n);
		usleep(50);
	}
	return NULL;
}

/*
 * Whatever is left comes to calls of 32 in this thread; then nothing came
 * whole as a train, and every datagram sent came exactly once.
 */
static void race_check(struct race *rc, struct msgs *x, const char *name, int round)
{
	struct rig *r = rc->r;
	struct pollfd pf = { .fd = r->fr, .events = POLLIN };
	double t0 = now_s();

	while (atomic_load(&rc->total) < r->n && atomic_load(&rc->merged) == 0 &&
	       atomic_load(&rc->bad) == 0 && now_s() - t0 < 1.0) {
		if (race_recv(rc, x, 32) == 0)
			(void)poll(&pf, 1, 10);
	}
	ck_assert_msg(atomic_load(&rc->merged) == 0,
		      "%s, round %d: %u receives got a train of %u datagrams whole, as one "
		      "(a receive that overlapped the one that turned GRO on)",
		      name, round, atomic_load(&rc->merged), RACE_SEGS);
	ck_assert_msg(atomic_load(&rc->bad) == 0, "%s, round %d: %u datagrams with wrong bytes",
		      name, round, atomic_load(&rc->bad));
	for (size_t i = 0; i < r->n; i++)
		ck_assert_msg(atomic_load(&rc->count[i]) == 1,
			      "%s, round %d: datagram %zu of %zu came %u times", name, round, i,
			      r->n, atomic_load(&rc->count[i]));
	ck_assert_uint_eq(atomic_load(&rc->total), r->n);
	ck_assert_int_eq(DGB_get_gro(r->b), 1);
	r->delivered = r->n;
}

/*
 * A thread receives one message a call (DGB_recvmmsg of one, on a
 * non-blocking socket), while trains keep coming and this thread's first
 * call of 32 turns GRO on.  A call of one that was under way when GRO went
 * on must not get a train whole, and every datagram comes exactly once,
 * to one thread or the other.
 */
START_TEST(test_race_one_message)
{
	struct msgs x;

	msgs_new(&x, 32, NULL, 0, 0);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		struct race *rc = calloc(1, sizeof(*rc));
		pthread_t reader, sender;

		ck_assert_ptr_nonnull(rc);
		rc->r = rig_open(FAMILY(_i), 1, RIG_UNDECIDED, NULL);
		ck_assert_int_eq(pthread_create(&reader, NULL, race_reader_one, rc), 0);
		ck_assert_int_eq(pthread_create(&sender, NULL, race_sender, rc), 0);
		usleep(1000);
		race_recv(rc, &x, 32);
		usleep(1000);
		atomic_store(&rc->stop, 1);
		ck_assert_int_eq(pthread_join(sender, NULL), 0);
		ck_assert_int_eq(pthread_join(reader, NULL), 0);
		race_check(rc, &x, "one-message reader", round);
		rig_close(rc->r);
		free(rc);
	}
	msgs_free(&x);
}
END_TEST

/*
 * A thread waits in a blocking BIO_read on a socket whose GRO is not
 * decided yet; this thread makes the socket non-blocking and its first
 * call of 32 turns GRO on (waiting, where it must, for the reader); then a
 * train comes.  The waiting reader gets one datagram of it, not the train.
 */
START_TEST(test_race_blocking_read)
{
	struct msgs x;

	msgs_new(&x, 32, NULL, 0, 0);
	for (int round = 0; round < RACE_BLOCKING_ROUNDS; round++) {
		struct race *rc = calloc(1, sizeof(*rc));
		struct timeval tv = { 0, 200000 };
		pthread_t reader;
		double t0;

		ck_assert_ptr_nonnull(rc);
		rc->r = rig_open(FAMILY(_i), 1, RIG_UNDECIDED | RIG_BLOCKING, NULL);
		/* A reader that waits too long gives up and comes back, instead of hanging. */
		ck_assert_int_eq(setsockopt(rc->r->fr, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
		ck_assert_int_eq(pthread_create(&reader, NULL, race_reader_read, rc), 0);
		usleep(50000);
		ck_assert_int_eq(BIO_set_nbio(rc->r->b, 1), 1);
		ck_assert_uint_eq(race_recv(rc, &x, 32), 0);
		ck_assert_int_eq(DGB_get_gro(rc->r->b), 1);
		send_train(rc->r, 0, RACE_SEGS, RACE_SEG, RACE_SEG, 1);
		/* The reader takes it all: this thread does not receive meanwhile. */
		t0 = now_s();
		while (atomic_load(&rc->total) < rc->r->n && atomic_load(&rc->merged) == 0 &&
		       now_s() - t0 < 1.0)
			usleep(1000);
		atomic_store(&rc->stop, 1);
		ck_assert_int_eq(pthread_join(reader, NULL), 0);
		race_check(rc, &x, "blocking BIO_read", round);
		rig_close(rc->r);
		free(rc);
	}
	msgs_free(&x);
}
END_TEST

/* --- the program's own control messages ------------------------------------------- */

/*
 * The program asks for receive timestamps on the socket (SO_TIMESTAMPNS
 * and software SO_TIMESTAMPING), which the kernel puts with every receive
 * before the module's own control messages: trains are still split, and
 * no receive is cut short.
 */
START_TEST(test_program_cmsgs)
{
	/* On a wildcard socket with local addresses: timestamps come first. */
	struct rig *r = rig_open(FAMILY(_i), 2, RIG_WILDCARD, NULL);
	int one = 1, ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	struct msgs x;

	ck_assert_int_eq(r->gro, 1);
	ck_assert_int_eq(setsockopt(r->fr, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)), 0);
	ck_assert_int_eq(setsockopt(r->fr, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)), 0);
	msgs_new(&x, 32, NULL, 0, 0);
	send_mix(r, 3);
	recv_all(r, &x, 32);
	check_counters(r, "timestamps asked for", -1);
	plan_reset(r);
	send_fixed(r);
	recv_all(r, &x, 3);
	check_counters(r, "timestamps asked for, calls of 3", -1);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/* --- other readers of the socket ----------------------------------------------------- */

/*
 * A BIO_dup_chain() copy of a BIO with GRO on, made while the BIO is in the
 * middle of the queue and freed without being read (BIO_NOCLOSE): the BIO
 * goes on as before.  Every datagram comes once, and whenever the BIO says
 * it keeps bytes the socket polls readable.
 */
START_TEST(test_dup_chain_unread)
{
	struct rig *r = rig_open(FAMILY(_i), 2, RIG_NOCLOSE, NULL);
	struct msgs x;
	BIO *c;

	ck_assert_int_eq(r->gro, 1);
	msgs_new(&x, 32, NULL, 0, 0);
	send_train(r, 0, 64, 100, 100, 1);
	wait_readable(r);
	for (int i = 0; i < 3; i++)
		recv_call(r, x.m, x.cap, 32);
	c = BIO_dup_chain(r->b);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(DGB_get_gro(c), 1);
	send_lone(r, 0, 100);
	send_train(r, 1, 2, 100, 100, 1);
	wait_readable(r);
	recv_call(r, x.m, x.cap, 32);
	ck_assert_int_eq(BIO_set_close(c, BIO_NOCLOSE), 1);
	BIO_free(c);
	check_gro(r, "the copy freed");
	send_lone(r, 0, 100);
	send_train(r, 0, 20, 100, 100, 1);
	send_train(r, 1, 20, 100, 100, 1);
	recv_all(r, &x, 32);
	check_counters(r, "a copy freed unread", -1);
	plan_reset(r);
	send_mix(r, 3);
	recv_all_sizes(r, &x, array_sizes, 3);
	check_counters(r, "a copy freed unread, then a mix", -1);
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/*
 * The program reads the socket itself after the BIO let go of it in the
 * middle of a train: it never gets a datagram the BIO delivered already,
 * nor datagrams joined into one.  What the BIO kept may be gone, or come
 * one datagram at a time, but not again whole.
 */
static void program_reads_rest(struct rig *r, int fd, const char *after)
{
	static unsigned char buf[65536];
	unsigned char want[SLOT];
	long got;

	while ((got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		size_t i = next_of(r, 0);
		unsigned int seq = seq_of(buf, (size_t)got);

		ck_assert_msg(i < r->n && got == r->d[i].len && seq >= r->d[i].seq,
			      "after %s the socket gave %ld bytes starting with datagram %u; the "
			      "BIO had delivered datagrams 0..%u already",
			      after, got, seq, i < r->n ? r->d[i].seq - 1 : 0);
		while (r->d[i].seq < seq)
			i++;
		payload(want, 0, seq, r->d[i].len);
		ck_assert_mem_eq(buf, want, r->d[i].len);
		r->next[0] = i + 1;
	}
	r->delivered = r->n;
}

/*
 * The BIO owns a dup(2) of the program's descriptor (BIO_CLOSE) and is
 * freed in the middle of a train: the socket stays open through the
 * program's descriptor, and the program's own receives there do not get
 * the datagrams the BIO delivered again.
 */
START_TEST(test_close_dup_fd_mid_train)
{
	struct rig *r = rig_open(FAMILY(_i), 1, RIG_NOCLOSE | RIG_UNDECIDED, NULL);
	struct msgs x;
	int fd2;

	BIO_free(r->b);
	fd2 = dup(r->fr);
	ck_assert_int_ge(fd2, 0);
	r->b = DGB_new_dgram(NULL, fd2, BIO_CLOSE);
	ck_assert_ptr_nonnull(r->b);
	ck_assert_int_eq(BIO_set_nbio(r->b, 1), 1);
	msgs_new(&x, 32, NULL, 0, 0);
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 32), 0);
	ck_assert_int_eq(r->gro, 1);
	send_train(r, 0, 40, SEG, SEG, 1);
	wait_readable(r);
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 32), 32);
	BIO_free(r->b);
	r->b = NULL;
	program_reads_rest(r, r->fr, "BIO_free of a BIO on a dup(2) of the socket");
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/*
 * The program closes a BIO_NOCLOSE BIO's socket, and its number goes to
 * another socket before BIO_free: freeing the BIO changes nothing on the
 * other socket, neither what it has queued nor its options.
 */
START_TEST(test_noclose_fd_reused)
{
	struct rig *r = rig_open(FAMILY(_i), 1, RIG_NOCLOSE, NULL);
	int one = 1, peek = 5, other;
	union tu_addr oa;
	unsigned char buf[SLOT];
	struct msgs x;

	msgs_new(&x, 32, NULL, 0, 0);
	send_train(r, 0, 40, SEG, SEG, 1);
	wait_readable(r);
	ck_assert_uint_eq(recv_call(r, x.m, x.cap, 32), 32);
	/* The rest of the train goes with the socket. */
	ck_assert_int_eq(close(r->fr), 0);
	other = tu_udp_loopback(r->family, &oa);
	if (other != r->fr) {
		ck_assert_int_eq(dup2(other, r->fr), r->fr);
		close(other);
	}
	ck_assert_int_eq(sendto(r->fs[0], "hello", 5, 0, &oa.sa, tu_addr_len(&oa)), 5);
	ck_assert_int_eq(setsockopt(r->fr, SOL_UDP, UDP_GRO, &one, sizeof(one)), 0);
	ck_assert_int_eq(setsockopt(r->fr, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)), 0);
	ck_assert_int_eq(setsockopt(r->fr, SOL_SOCKET, SO_PEEK_OFF, &peek, sizeof(peek)), 0);
	r->ra = oa;
	wait_readable(r);
	BIO_free(r->b);
	r->b = NULL;
	ck_assert_int_eq(sock_int(r->fr, SOL_UDP, UDP_GRO), 1);
	ck_assert_int_eq(sock_int(r->fr, SOL_SOCKET, SO_RXQ_OVFL), 1);
	ck_assert_int_eq(sock_int(r->fr, SOL_SOCKET, SO_PEEK_OFF), 5);
	ck_assert_msg(recv(r->fr, buf, sizeof(buf), MSG_DONTWAIT) == 5 && memcmp(buf, "hello", 5) == 0,
		      "BIO_free of a BIO whose socket was closed took the datagram queued on the "
		      "socket that has its number now");
	r->delivered = r->n;
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/*
 * The kernel dropped datagrams on the socket before the BIO turned GRO on
 * (the program had not read it): rx-kernel-drops counts only drops after.
 * Nor does a second BIO on the socket, after the first is freed
 * (BIO_NOCLOSE), count the drops of before it.
 */
START_TEST(test_drops_before_gro)
{
	struct rig *r = rig_open(FAMILY(_i), 1, RIG_NOCLOSE | RIG_UNDECIDED, NULL);
	int small = 4096, flood;
	union tu_addr fa;
	unsigned char buf[SLOT];
	struct msgs x;
	struct tally t;
	size_t came = 0;

	msgs_new(&x, 32, NULL, 0, 0);
	ck_assert_int_eq(setsockopt(r->fr, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	flood = tu_udp_loopback(r->family, &fa);
	memset(buf, 0, sizeof(buf));
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(sendto(flood, buf, SEG, 0, &r->ra.sa, tu_addr_len(&r->ra)), SEG);
	close(flood);
	while (recv(r->fr, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		came++;
	ck_assert_uint_lt(came, 100);
	big_rcvbuf(r->fr);

	for (int bio = 0; bio < 2; bio++) {
		if (bio == 1) {
			BIO_free(r->b);
			r->b = DGB_new_dgram(NULL, r->fr, BIO_NOCLOSE);
			ck_assert_ptr_nonnull(r->b);
			ck_assert_int_eq(BIO_set_nbio(r->b, 1), 1);
			r->gro = 0;
			r->decided = 0;
		}
		plan_reset(r);
		ck_assert_uint_eq(recv_call(r, x.m, x.cap, 32), 0);
		ck_assert_int_eq(r->gro, 1);
		send_lone(r, 0, 100);
		send_train(r, 0, 5, 100, 100, 1);
		recv_all(r, &x, 32);
		tally_read(&t);
		ck_assert_msg(t.drops == r->t0.drops,
			      "%s: rx-kernel-drops grew by %llu for drops of before GRO went on",
			      bio ? "a second BIO" : "the first BIO",
			      (unsigned long long)(t.drops - r->t0.drops));
		check_counters(r, bio ? "a second BIO, old drops" : "drops before GRO", -1);
	}
	msgs_free(&x);
	rig_close(r);
}
END_TEST

/* --- without UDP_GRO in the kernel ----------------------------------------------------- */

/* Where the kernel has no UDP_GRO, GRO stays off and DGB_set_gro(b, 1) says so. */
START_TEST(test_no_kernel_gro)
{
	struct rig *r = rig_open(AF_INET, 1, RIG_UNDECIDED, NULL);

	ck_assert_int_eq(DGB_set_gro(r->b, 1), 0);
	ck_assert_int_eq(DGB_get_gro(r->b), 0);
	ERR_clear_error();
	rig_close(r);
}
END_TEST

/* Whether the kernel has UDP_GRO and UDP_SEGMENT, asked on a throw-away socket. */
static int probe_kernel_gro(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1, zero = 0, ok;

	if (fd < 0)
		return 0;
	ok = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0 &&
	     setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) == 0;
	close(fd);
	return ok;
}

Suite *suite_gro(void)
{
	Suite *s = suite_create("gro");
	TCase *tc = tcase_create("receive");
	const char *why;
	int nfam = tu_ipv6_available(&why) ? 2 : 1;

	kernel_gro = probe_kernel_gro();
	tcase_set_timeout(tc, 60);
	if (!kernel_gro) {
		fprintf(stderr, "SKIP gro: this kernel has no UDP_GRO (or UDP_SEGMENT); only the "
				"checks that GRO stays off run\n");
		tcase_add_test(tc, test_no_kernel_gro);
		suite_add_tcase(s, tc);
		return s;
	}
	if (nfam == 1)
		fprintf(stderr, "SKIP IPv6 GRO tests: %s\n", why);
	tcase_add_loop_test(tc, test_train_sizes, 0, MAX_SEGS);
	if (nfam == 2)
		tcase_add_loop_test(tc, test_train_sizes_ipv6, 0, MAX_SEGS);
	tcase_add_loop_test(tc, test_senders_interleaved, 0, nfam);
	tcase_add_loop_test(tc, test_local_addresses, 0, nfam);
	tcase_add_loop_test(tc, test_array_sizes, 0, NARRAYS * nfam);
	tcase_add_loop_test(tc, test_call_sizes_vary, 0, nfam);
	tcase_add_loop_test(tc, test_small_buffers, 0, nfam);
	tcase_add_loop_test(tc, test_read_after_partial, 0, nfam);
	tcase_add_loop_test(tc, test_no_stall, 0, nfam);
	tcase_add_loop_test(tc, test_counters, 0, nfam);
	tcase_add_loop_test(tc, test_kernel_drops, 0, nfam);
	tcase_add_loop_test(tc, test_empty_datagrams, 0, NEMPTY * nfam);
	tcase_add_loop_test(tc, test_on_at_first_receive, 0, nfam);
	tcase_add_loop_test(tc, test_set_gro_off_first, 0, nfam);
	/* DGRAMBATCH_CAPS_DISABLE is read at the module's first probe, in a fresh process. */
	if (getenv("CK_FORK") != NULL && strcmp(getenv("CK_FORK"), "no") == 0) {
		fprintf(stderr, "SKIP test_caps_disable_gro, test_recvmmsg_disabled: CK_FORK=no, "
				"the module may have probed in an earlier test\n");
	} else {
		tcase_add_loop_test(tc, test_caps_disable_gro, 0, nfam);
		tcase_add_loop_test(tc, test_recvmmsg_disabled, 0, nfam);
	}
	tcase_add_loop_test(tc, test_preset_gro_socket, 0, nfam);
	tcase_add_loop_test(tc, test_noclose_restores, 0, nfam);
	tcase_add_loop_test(tc, test_noclose_mid_train, 0, nfam);
	tcase_add_loop_test(tc, test_race_one_message, 0, nfam);
	tcase_add_loop_test(tc, test_race_blocking_read, 0, nfam);
	tcase_add_loop_test(tc, test_program_cmsgs, 0, nfam);
	tcase_add_loop_test(tc, test_dup_chain_unread, 0, nfam);
	tcase_add_loop_test(tc, test_close_dup_fd_mid_train, 0, nfam);
	tcase_add_loop_test(tc, test_noclose_fd_reused, 0, nfam);
	tcase_add_loop_test(tc, test_drops_before_gro, 0, nfam);
	suite_add_tcase(s, tc);
	return s;
}
