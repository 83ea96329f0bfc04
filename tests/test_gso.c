/*
 * test_gso.c - UDP GSO on the send path (issue 9): batches sent through
 * DGB_sendmmsg on the module's BIO (BIO_sendmmsg on OpenSSL 3.2+, the
 * private control on 3.0), received on raw loopback sockets.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every test describes its batch as a plan (each datagram's length,
 * destination and local address), sends it as a caller would, and then
 * accounts for every datagram at the receivers: each arrives exactly once,
 * in order, byte for byte, with its own length (so segment boundaries are
 * kept) and from the source address it was sent from.  The module's
 * counters must then show what the contract says: tx-datagrams grew by the
 * number of datagrams, and the GSO sends and segments are exactly those of
 * the contract's grouping where the kernel has UDP_SEGMENT, none where it
 * is off.  The kernel really segments on loopback, so the receivers see
 * what a wire would carry.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>

#include "dgrambatch.h"
#include "dgram_diff.h"
#include "probe/probe.h"

/*
 * The contract's limits of one GSO send: the segments this kernel takes
 * (128 from Linux 6.9 on, 64 before; tu_kernel_gso_max_segs() asks it), and
 * what one IPv4 datagram can carry (IPv6 could take 65527 bytes).
 */
#define GSO_MAX_BYTES 65507

#define PLAN_MAX DGB_MAX_MSGS
#define SLOT 1536 /* a datagram's room: larger than any planned, so merging shows */
#define PAYLOAD 1200
#define MAX_RECV 3
#define SENDER_ID 0xd6
#define RX_BATCH 64
#define JUNK_FLAGS 0xdeadbeefULL

#define FAMILY(i) ((i) ? AF_INET6 : AF_INET)

/*
 * A batch: datagram i is len[i] bytes to receiver dest[i] ('A' + k, '-'
 * for no peer), from local address local[i] ('5', '6', '-' for none).
 */
struct plan {
	const char *name;
	size_t n;
	size_t len[PLAN_MAX];
	char dest[PLAN_MAX];
	char local[PLAN_MAX];
};

/* Patterns repeat over the batch; NULL locals: none. */
static void plan_make(struct plan *p, const char *name, size_t n, size_t len, const char *dests,
		      const char *locals)
{
	ck_assert_uint_le(n, PLAN_MAX);
	p->name = name;
	p->n = n;
	for (size_t i = 0; i < n; i++) {
		p->len[i] = len;
		p->dest[i] = dests[i % strlen(dests)];
		p->local[i] = locals != NULL ? locals[i % strlen(locals)] : '-';
	}
}

/*
 * One sender on its own socket (bound to the loopback address, or to the
 * wildcard with local addresses enabled), receivers A, B, C on loopback.
 * kernel_gso is the test program's own probe of UDP_SEGMENT (with the same
 * DGRAMBATCH_CAPS_DISABLE as the module); gso is whether the module must
 * group now.
 */
enum { RIG_WILDCARD = 1, RIG_CONNECTED = 2 };

struct rig {
	int family;
	unsigned int opts;
	int kernel_gso, gso;
	int fs;
	union tu_addr sa;
	BIO *bs;
	int nrecv;
	int fr[MAX_RECV];
	union tu_addr ra[MAX_RECV];
	union tu_addr loc[2]; /* '5', '6' */
};

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

/*
 * caps_disable: DGRAMBATCH_CAPS_DISABLE for this test process (NULL: none),
 * in force from the module's first probe, which this makes.
 */
static void rig_open(struct rig *r, int family, int nrecv, unsigned int opts,
		     const char *caps_disable)
{
	int big = 32 << 20;

	memset(r, 0, sizeof(*r));
	tu_caps_disable(caps_disable);
	ck_assert_ptr_nonnull(module_method());
	r->kernel_gso = dgb_cap_usable(DGB_CAP_UDP_SEGMENT);
	r->family = family;
	r->opts = opts;
	r->nrecv = nrecv;
	for (int k = 0; k < nrecv; k++) {
		r->fr[k] = tu_udp_loopback(family, &r->ra[k]);
		ck_assert_msg(setsockopt(r->fr[k], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) == 0,
			      "SO_RCVBUFFORCE: %s (the test runs as root in CI)", strerror(errno));
	}
	r->fs = opts & RIG_WILDCARD ? tu_udp_wildcard(family, &r->sa)
				    : tu_udp_loopback(family, &r->sa);
	if (opts & RIG_CONNECTED)
		ck_assert_int_eq(connect(r->fs, &r->ra[0].sa, tu_addr_len(&r->ra[0])), 0);
	r->bs = DGB_new_dgram(NULL, r->fs, BIO_CLOSE);
	ck_assert_ptr_nonnull(r->bs);
	ck_assert_int_eq(DGB_is_dgrambatch(r->bs), 1);
	if (opts & RIG_WILDCARD)
		ck_assert_int_eq(BIO_dgram_set_local_addr_enable(r->bs, 1), 1);
	loopback_addr(&r->loc[0], family, 5);
	loopback_addr(&r->loc[1], family, 6);
	/* A fresh BIO uses GSO exactly where the kernel has it. */
	ck_assert_int_eq(DGB_get_gso(r->bs), r->kernel_gso);
	r->gso = r->kernel_gso;
}

static void rig_close(struct rig *r)
{
	BIO_free(r->bs);
	for (int k = 0; k < r->nrecv; k++)
		close(r->fr[k]);
	tu_caps_disable(NULL);
}

/* Datagram seq's bytes: sender id, sequence number, a pattern from its length. */
static void payload(unsigned char *p, size_t seq, size_t len)
{
	unsigned char head[5] = { SENDER_ID, (unsigned char)(seq >> 24), (unsigned char)(seq >> 16),
				  (unsigned char)(seq >> 8), (unsigned char)seq };

	for (size_t j = 0; j < len; j++)
		p[j] = j < sizeof(head) ? head[j] : (unsigned char)(len * 7 + j * 13 + seq);
}

/* The receiver datagram i of the plan goes to. */
static int arrives_at(const struct rig *r, const struct plan *p, size_t i)
{
	return r->opts & RIG_CONNECTED ? 0 : p->dest[i] - 'A';
}

/* The source address datagram i must come from. */
static void source_of(const struct rig *r, const struct plan *p, size_t i, union tu_addr *a)
{
	if (p->local[i] == '-')
		loopback_addr(a, r->family, 1);
	else
		*a = r->loc[p->local[i] - '5'];
	if (r->family == AF_INET)
		a->sin.sin_port = r->sa.sin.sin_port;
	else
		a->sin6.sin6_port = r->sa.sin6.sin6_port;
}

static int same_source(const union tu_addr *x, const union tu_addr *y)
{
	if (x->sa.sa_family != y->sa.sa_family)
		return 0;
	if (x->sa.sa_family == AF_INET)
		return x->sin.sin_port == y->sin.sin_port &&
		       x->sin.sin_addr.s_addr == y->sin.sin_addr.s_addr;
	return x->sin6.sin6_port == y->sin6.sin6_port &&
	       memcmp(&x->sin6.sin6_addr, &y->sin6.sin6_addr, 16) == 0;
}

/* --- what the contract says the module sends ---------------------------- */

struct expect {
	uint64_t calls; /* syscalls: one a DGB_sendmmsg call, or a BIO_write */
	uint64_t sends, segs;
};

static int same_route(const struct rig *r, const struct plan *p, size_t i, size_t j)
{
	return (r->opts & RIG_CONNECTED || p->dest[i] == p->dest[j]) && p->local[i] == p->local[j];
}

/*
 * The contract's grouping of messages [from, to), which one call
 * processed: consecutive, same route, same length but for a shorter last,
 * never a zero-length one, at most tu_kernel_gso_max_segs() and GSO_MAX_BYTES; groups
 * of two or more are GSO sends.
 */
static void model_call(const struct rig *r, const struct plan *p, size_t from, size_t to,
		       struct expect *e)
{
	for (size_t i = from, j; i < to; i = j) {
		size_t total = p->len[i];

		for (j = i + 1; p->len[i] > 0 && j < to && j - i < tu_kernel_gso_max_segs(); j++) {
			if (!same_route(r, p, i, j) || p->len[j] == 0 || p->len[j] > p->len[i] ||
			    total + p->len[j] > GSO_MAX_BYTES)
				break;
			total += p->len[j];
			if (p->len[j] < p->len[i]) {
				j++;
				break;
			}
		}
		if (j - i > 1) {
			e->sends++;
			e->segs += j - i;
		}
	}
}

/* --- the sender ------------------------------------------------------------ */

enum { SEND_MMSG, SEND_WRITE };

static const char *last_error(void)
{
	static char s[256];

	ERR_error_string_n(ERR_peek_last_error(), s, sizeof(s));
	return s;
}

/*
 * Send the plan through the module's BIO: DGB_sendmmsg until every message
 * is processed (each message with its own BIO_ADDRs, as QUIC passes them),
 * or one BIO_write per datagram.  Adds to e the calls made and, where the
 * module must group, the contract's GSO sends.
 */
static void send_plan(struct rig *r, const struct plan *p, int how, struct expect *e)
{
	DGB_MSG *m = calloc(p->n, sizeof(*m));
	unsigned char *buf = calloc(p->n, SLOT);
	BIO_ADDR **addrs = calloc(2 * p->n, sizeof(*addrs));
	size_t sent = 0, done;

	ck_assert(m != NULL && buf != NULL && addrs != NULL);
	for (size_t i = 0; i < p->n; i++) {
		m[i].data = buf + i * SLOT;
		m[i].data_len = p->len[i];
		m[i].flags = JUNK_FLAGS;
		payload(m[i].data, i, p->len[i]);
		if (p->dest[i] != '-')
			m[i].peer = addrs[2 * i] = env_bio_addr(&r->ra[p->dest[i] - 'A']);
		if (p->local[i] != '-')
			m[i].local = addrs[2 * i + 1] = env_bio_addr(&r->loc[p->local[i] - '5']);
	}
	for (; how == SEND_WRITE && sent < p->n; sent++, e->calls++) {
		if (m[sent].peer != NULL)
			ck_assert_int_eq(BIO_dgram_set_peer(r->bs, m[sent].peer), 1);
		ck_assert_int_eq(BIO_write(r->bs, m[sent].data, (int)p->len[sent]),
				 (int)p->len[sent]);
	}
	for (; sent < p->n; sent += done, e->calls++) {
		done = 4242;
		ck_assert_msg(DGB_sendmmsg(r->bs, m + sent, sizeof(*m), p->n - sent, 0, &done) == 1,
			      "%s: DGB_sendmmsg of messages %zu.. of %zu failed: %s", p->name, sent,
			      p->n, last_error());
		ck_assert_msg(done > 0 && done <= p->n - sent,
			      "%s: %zu of %zu messages processed from %zu", p->name, done,
			      p->n - sent, sent);
		for (size_t i = sent; i < sent + done; i++) {
			ck_assert_msg(m[i].data_len == p->len[i] && m[i].flags == 0,
				      "%s: message %zu: data_len %zu flags %#llx, sent %zu bytes",
				      p->name, i, m[i].data_len, (unsigned long long)m[i].flags,
				      p->len[i]);
		}
		if (r->gso)
			model_call(r, p, sent, sent + done, e);
	}
	for (size_t i = 0; i < 2 * p->n; i++)
		BIO_ADDR_free(addrs[i]);
	free(addrs);
	free(buf);
	free(m);
}

/* --- the receivers ----------------------------------------------------------- */

/* The next datagram of the plan, from i on, that receiver k must get. */
static size_t next_for(const struct rig *r, const struct plan *p, int k, size_t i)
{
	while (i < p->n && arrives_at(r, p, i) != k)
		i++;
	return i;
}

/* Received datagram `got` (len bytes, from src) is datagram i of the plan. */
static void check_datagram(const struct rig *r, const struct plan *p, int k, size_t i,
			   const struct mmsghdr *got, const unsigned char *data,
			   const union tu_addr *src)
{
	unsigned char want[SLOT];
	union tu_addr from;
	unsigned int seq = 0;

	if (got->msg_len >= 5)
		seq = (unsigned int)data[1] << 24 | (unsigned int)data[2] << 16 |
		      (unsigned int)data[3] << 8 | data[4];
	ck_assert_msg(!(got->msg_hdr.msg_flags & MSG_TRUNC) && got->msg_len == p->len[i],
		      "%s: receiver %c: datagram %zu should be %zu bytes, came %u%s (seq %u)",
		      p->name, 'A' + k, i, p->len[i], got->msg_len,
		      got->msg_hdr.msg_flags & MSG_TRUNC ? "+, truncated" : "", seq);
	payload(want, i, p->len[i]);
	ck_assert_msg(memcmp(data, want, p->len[i]) == 0,
		      "%s: receiver %c: datagram %zu of %zu bytes has other bytes (sender %#x seq %u)",
		      p->name, 'A' + k, i, p->len[i], got->msg_len ? data[0] : 0, seq);
	source_of(r, p, i, &from);
	ck_assert_msg(same_source(src, &from), "%s: receiver %c: datagram %zu from the wrong source",
		      p->name, 'A' + k, i);
}

/*
 * Every datagram of the plan arrived, once, in order, whole, from its
 * source, at its receiver, and nothing else did.
 */
static void account(const struct rig *r, const struct plan *p)
{
	static unsigned char data[RX_BATCH][SLOT];
	struct mmsghdr h[RX_BATCH];
	struct iovec iov[RX_BATCH];
	union tu_addr src[RX_BATCH];

	for (int k = 0; k < r->nrecv; k++) {
		size_t i = next_for(r, p, k, 0), left = 0;
		struct pollfd pf = { .fd = r->fr[k], .events = POLLIN };
		char extra;

		for (size_t j = i; j < p->n; j = next_for(r, p, k, j + 1))
			left++;
		while (left > 0) {
			int want = left < RX_BATCH ? (int)left : RX_BATCH, got;

			memset(h, 0, sizeof(h));
			for (int q = 0; q < want; q++) {
				iov[q].iov_base = data[q];
				iov[q].iov_len = SLOT;
				h[q].msg_hdr.msg_iov = &iov[q];
				h[q].msg_hdr.msg_iovlen = 1;
				h[q].msg_hdr.msg_name = &src[q];
				h[q].msg_hdr.msg_namelen = sizeof(src[q]);
			}
			ck_assert_msg(poll(&pf, 1, 1000) == 1,
				      "%s: receiver %c: datagram %zu (and %zu more) never came",
				      p->name, 'A' + k, i, left - 1);
			got = recvmmsg(r->fr[k], h, (unsigned int)want, MSG_DONTWAIT, NULL);
			ck_assert_msg(got > 0, "recvmmsg: %s", strerror(errno));
			for (int q = 0; q < got; q++, left--, i = next_for(r, p, k, i + 1))
				check_datagram(r, p, k, i, &h[q], data[q], &src[q]);
		}
		ck_assert_msg(recv(r->fr[k], &extra, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
			      "%s: receiver %c got a datagram more than it was sent", p->name,
			      'A' + k);
	}
}

/* --- a plan, end to end ---------------------------------------------------- */

struct tally {
	uint64_t tx, syscalls, sends, segs, fallbacks;
};

static void tally_read(struct tally *t)
{
	OSSL_PROVIDER *prov = module_provider();

	t->tx = tu_provider_counter(prov, DGB_PARAM_TX_DATAGRAMS);
	t->syscalls = tu_provider_counter(prov, DGB_PARAM_TX_SYSCALLS);
	t->sends = tu_provider_counter(prov, DGB_PARAM_GSO_SENDS);
	t->segs = tu_provider_counter(prov, DGB_PARAM_GSO_SEGMENTS);
	t->fallbacks = tu_provider_counter(prov, DGB_PARAM_GSO_FALLBACKS);
}

static void run_plan(struct rig *r, const struct plan *p, int how)
{
	struct tally t0, t1;
	struct expect e = { 0, 0, 0 };

	tally_read(&t0);
	send_plan(r, p, how, &e);
	account(r, p);
	tally_read(&t1);
	fprintf(stderr, "gso %s (%s, GSO %s): %zu datagrams, %llu GSO sends of %llu segments, "
			"%llu syscalls\n",
		p->name, r->family == AF_INET ? "IPv4" : "IPv6", r->gso ? "on" : "off", p->n,
		(unsigned long long)(t1.sends - t0.sends), (unsigned long long)(t1.segs - t0.segs),
		(unsigned long long)(t1.syscalls - t0.syscalls));
	ck_assert_msg(t1.tx - t0.tx == p->n, "%s: tx-datagrams grew by %llu for %zu datagrams",
		      p->name, (unsigned long long)(t1.tx - t0.tx), p->n);
	ck_assert_msg(t1.sends - t0.sends == e.sends && t1.segs - t0.segs == e.segs,
		      "%s: %llu GSO sends of %llu segments; the contract groups into %llu of %llu",
		      p->name, (unsigned long long)(t1.sends - t0.sends),
		      (unsigned long long)(t1.segs - t0.segs), (unsigned long long)e.sends,
		      (unsigned long long)e.segs);
	ck_assert_msg(t1.syscalls - t0.syscalls == e.calls,
		      "%s: %llu syscalls for %llu calls (groups and lone datagrams share one)",
		      p->name, (unsigned long long)(t1.syscalls - t0.syscalls),
		      (unsigned long long)e.calls);
	ck_assert_uint_eq(t1.fallbacks, t0.fallbacks);
}

/* --- batches of every shape, each on its own sockets ------------------------ */

static void tweak_short_last(struct plan *p)
{
	p->len[p->n - 1] = 700;
}

/* 1200 x5, 800 x5, 1200 x5. */
static void tweak_sizes_change(struct plan *p)
{
	for (size_t i = 5; i < 10; i++)
		p->len[i] = 800;
}

/* Each longer than the one before: none may follow another in a group. */
static void tweak_growing(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		p->len[i] = 100 * (i + 1);
}

/* Every 4th datagram acknowledgement-sized. */
static void tweak_every_fourth_small(struct plan *p)
{
	for (size_t i = 3; i < p->n; i += 4)
		p->len[i] = 60;
}

/* Zero-length datagrams first, last, alone and side by side. */
static void tweak_zeros(struct plan *p)
{
	static const size_t at[] = { 0, 7, 8, 20, 21, 22, 39 };

	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++)
		p->len[at[k]] = 0;
}

/*
 * A batch: n datagrams of len bytes, changed by tweak; destinations and
 * local addresses as in struct plan, locals6 for IPv6 ('5' is 127.0.0.5
 * or ::1, '6' 127.0.0.6; IPv6 has no second one, so '-' stands in).
 */
struct shape {
	const char *name;
	size_t n, len;
	const char *dests, *locals4, *locals6;
	int nrecv;
	unsigned int opts;
	void (*tweak)(struct plan *p);
};

static const struct shape shapes[] = {
	{ "batch of 1", 1, PAYLOAD, "A", NULL, NULL, 1, 0, NULL },
	{ "batch of 2", 2, PAYLOAD, "A", NULL, NULL, 1, 0, NULL },
	{ "batch of 32", 32, PAYLOAD, "A", NULL, NULL, 1, 0, NULL },
	{ "batch of 64", 64, PAYLOAD, "A", NULL, NULL, 1, 0, NULL },
	{ "batch of 65", 65, PAYLOAD, "A", NULL, NULL, 1, 0, NULL },
	{ "batch of 128", 128, PAYLOAD, "A", NULL, NULL, 1, 0, NULL },
	{ "batch of 129", 129, PAYLOAD, "A", NULL, NULL, 1, 0, NULL },
	{ "batch of 1024", 1024, PAYLOAD, "A", NULL, NULL, 1, 0, NULL },
	{ "short last", 32, PAYLOAD, "A", NULL, NULL, 1, 0, tweak_short_last },
	{ "sizes change", 15, PAYLOAD, "A", NULL, NULL, 1, 0, tweak_sizes_change },
	{ "growing", 14, 0, "A", NULL, NULL, 1, 0, tweak_growing },
	{ "every 4th small", 64, PAYLOAD, "A", NULL, NULL, 1, 0, tweak_every_fourth_small },
	{ "zero-length inside", 40, PAYLOAD, "A", NULL, NULL, 1, 0, tweak_zeros },
	{ "zero-length only", 16, 0, "A", NULL, NULL, 1, 0, NULL },
	/* Groups split at the segment limit and at 64 KB, nothing lost. */
	{ "200 small", 200, 100, "A", NULL, NULL, 1, 0, NULL },
	{ "129 small", 129, 100, "A", NULL, NULL, 1, 0, NULL },
	{ "60 x 1400", 60, 1400, "A", NULL, NULL, 1, 0, NULL },
	/* Interleaved, and with no two neighbours alike: nothing to group. */
	{ "AABBAAAC", 64, PAYLOAD, "AABBAAAC", NULL, NULL, 3, 0, NULL },
	{ "ABAB", 64, PAYLOAD, "AB", NULL, NULL, 2, 0, NULL },
	{ "ABCABC", 63, PAYLOAD, "ABC", NULL, NULL, 3, 0, NULL },
	/* Connected: all to the connected peer, whatever the messages say. */
	{ "connected", 64, PAYLOAD, "AB-C", NULL, NULL, 3, RIG_CONNECTED, NULL },
	/* Groups keep their local address; different ones never share one. */
	{ "one local", 40, PAYLOAD, "A", "5", "5", 1, RIG_WILDCARD, NULL },
	{ "locals in runs", 48, PAYLOAD, "A", "55556666", "5555----", 1, RIG_WILDCARD, NULL },
	{ "locals alternate", 48, PAYLOAD, "A", "56", "5-", 1, RIG_WILDCARD, NULL },
	{ "locals and destinations", 48, PAYLOAD, "AABB", "555666", "555---", 2, RIG_WILDCARD,
	  NULL },
};

#define NSHAPES (int)(sizeof(shapes) / sizeof(shapes[0]))

static void send_shape(int family, const struct shape *sh)
{
	struct plan p;
	struct rig r;

	plan_make(&p, sh->name, sh->n, sh->len, sh->dests,
		  family == AF_INET ? sh->locals4 : sh->locals6);
	if (sh->tweak != NULL)
		sh->tweak(&p);
	rig_open(&r, family, sh->nrecv, sh->opts, NULL);
	run_plan(&r, &p, SEND_MMSG);
	rig_close(&r);
}

START_TEST(test_shape)
{
	send_shape(AF_INET, &shapes[_i]);
}
END_TEST

START_TEST(test_shape_ipv6)
{
	send_shape(AF_INET6, &shapes[_i]);
}
END_TEST

/* --- switches ----------------------------------------------------------------- */

/* GSO off for one BIO, then on again; another BIO keeps its own. */
START_TEST(test_switch_off_on)
{
	struct rig r;
	struct plan p;
	union tu_addr a;
	BIO *other;

	rig_open(&r, FAMILY(_i), 1, 0, NULL);
	plan_make(&p, "switched", 64, PAYLOAD, "A", NULL);
	ck_assert_int_eq(DGB_set_gso(r.bs, 0), 1);
	ck_assert_int_eq(DGB_get_gso(r.bs), 0);
	ck_assert_int_eq(DGB_set_gso(r.bs, 0), 1);
	other = DGB_new_dgram(NULL, tu_udp_loopback(r.family, &a), BIO_CLOSE);
	ck_assert_ptr_nonnull(other);
	ck_assert_int_eq(DGB_get_gso(other), r.kernel_gso);
	BIO_free(other);
	r.gso = 0;
	run_plan(&r, &p, SEND_MMSG);

	ck_assert_int_eq(DGB_set_gso(r.bs, 1), r.kernel_gso);
	ck_assert_int_eq(DGB_get_gso(r.bs), r.kernel_gso);
	r.gso = r.kernel_gso;
	run_plan(&r, &p, SEND_MMSG);
	rig_close(&r);
}
END_TEST

/* The kernel's UDP_SEGMENT switched off: GSO off and cannot be turned on. */
START_TEST(test_caps_disable)
{
	struct rig r;
	struct plan p;

	rig_open(&r, FAMILY(_i), 1, 0, "udp_segment");
	ck_assert_int_eq(r.kernel_gso, 0);
	ck_assert_int_eq(DGB_set_gso(r.bs, 1), 0);
	ck_assert_int_eq(DGB_get_gso(r.bs), 0);
	ck_assert_int_eq(DGB_set_gso(r.bs, 0), 1);
	plan_make(&p, "udp_segment disabled", 64, PAYLOAD, "A", NULL);
	run_plan(&r, &p, SEND_MMSG);
	rig_close(&r);
}
END_TEST

/*
 * Only the module's BIO answers, and only when the pointer argument is the
 * BIO itself: OpenSSL's datagram BIO, a filter over the module's, or the
 * control with another pointer, all say 0.
 */
START_TEST(test_gso_control_elsewhere)
{
	struct rig r;
	union tu_addr a;
	BIO *theirs, *filter = BIO_new(BIO_f_buffer());

	rig_open(&r, AF_INET, 1, 0, NULL);
	fprintf(stderr, "gso: UDP_SEGMENT %s on this kernel\n",
		r.kernel_gso ? "usable" : "NOT usable: grouping is not checked");
	theirs = BIO_new_dgram(tu_udp_loopback(AF_INET, &a), BIO_CLOSE);
	ck_assert_ptr_nonnull(theirs);
	ck_assert_ptr_nonnull(filter);
	ck_assert_int_eq(DGB_get_gso(theirs), 0);
	ck_assert_int_eq(DGB_set_gso(theirs, 1), 0);
	ck_assert_int_eq(BIO_ctrl(r.bs, DGB_CTRL_GET_GSO, 0, NULL), 0);
	ck_assert_int_eq(BIO_ctrl(r.bs, DGB_CTRL_SET_GSO, 0, theirs), 0);
	ck_assert_int_eq(DGB_get_gso(r.bs), r.kernel_gso);
	BIO_push(filter, r.bs);
	ck_assert_int_eq(DGB_get_gso(filter), 0);
	ck_assert_int_eq(DGB_set_gso(filter, 0), 0);
	ck_assert_int_eq(DGB_get_gso(r.bs), r.kernel_gso);
	BIO_pop(filter);
	BIO_free(filter);
	BIO_free(theirs);
	ERR_clear_error();
	rig_close(&r);
}
END_TEST

/* Single-datagram BIO_write is as before: no GSO, one syscall a datagram. */
START_TEST(test_write_unchanged)
{
	struct rig r;
	struct plan p;

	rig_open(&r, FAMILY(_i), 2, 0, NULL);
	plan_make(&p, "BIO_write", 16, PAYLOAD, "AAAAB", NULL);
	r.gso = 0;
	run_plan(&r, &p, SEND_WRITE);
	rig_close(&r);
}
END_TEST

Suite *suite_gso(void)
{
	Suite *s = suite_create("gso");
	TCase *tc = tcase_create("send");
	const char *why;
	int nfam = tu_ipv6_available(&why) ? 2 : 1;

	if (nfam == 1)
		fprintf(stderr, "SKIP IPv6 GSO tests: %s\n", why);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_shape, 0, NSHAPES);
	if (nfam == 2)
		tcase_add_loop_test(tc, test_shape_ipv6, 0, NSHAPES);
	tcase_add_loop_test(tc, test_switch_off_on, 0, nfam);
	tcase_add_loop_test(tc, test_caps_disable, 0, nfam);
	tcase_add_test(tc, test_gso_control_elsewhere);
	tcase_add_loop_test(tc, test_write_unchanged, 0, nfam);
	suite_add_tcase(s, tc);
	return s;
}
