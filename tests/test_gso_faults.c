/*
 * test_gso_faults.c - UDP GSO on the send path when the kernel refuses:
 * faults injected by the interposer linked into this program (tests/fault.c)
 * at chosen points of the module's sendmmsg()/sendmsg() calls, with real
 * loopback sockets everywhere else, IPv4 and IPv6.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every case sends through the module's BIO with DGB_sendmmsg() in a loop
 * that retries what was not processed, as OpenSSL's QUIC stack does: a
 * short count goes on from the first unprocessed message, a non-fatal
 * error is tried again.  Every datagram carries this run's tag, its
 * sequence number and its length, and a receiver per destination accounts
 * for each one: exactly once, in order, byte for byte, at its own length.
 *
 * The batches (the module groups consecutive messages to one destination
 * of one length, the last of a group may be shorter):
 *   ONE_PEER    32 x 1200 bytes to one peer: one GSO entry;
 *   THREE       8 x 1200 to A, 8 x 1200 to B, 7 x 1200 + 700 to A: three
 *               GSO entries, two destinations;
 *   MIXED       5 x 1200 to A, 100 to B, 7 x 1200 + 300 to A, 3 x 1200 to
 *               B: entries of 5, 1, 8 and 3 messages.
 *   SMALL       200 x 100 bytes to one peer: entries of 128 and 72 where
 *               the kernel takes 128 segments.
 *
 * The program runs only where the kernel has UDP_SEGMENT (it exits 77
 * elsewhere), and the module is expected to use GSO there by default.  It
 * runs the receive path's suite as well (tests/test_gro_faults.c).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "dgrambatch.h"
#include "dgram_diff.h"
#include "fault.h"

#define PAYLOAD 1200
#define MAXMSG 200
#define HDR 12
#define MAX_CALLS 16

enum shape { ONE_PEER, THREE, MIXED, SMALL };

/* What a destination must receive, in order. */
struct want {
	uint32_t seq;
	uint32_t len;
};

struct dest {
	int fd;
	union tu_addr addr;
	BIO_ADDR *ba;
	size_t nwant;
	struct want want[4 * MAXMSG];
};

struct run {
	int family;
	union tu_addr self;
	BIO *b;
	uint32_t tag;
	uint32_t next_seq;
	struct dest d[2];
	size_t n;
	DGB_MSG m[MAXMSG];
	size_t len[MAXMSG];
	unsigned char buf[MAXMSG][PAYLOAD];
};

/* One DGB_sendmmsg() call's outcome. */
struct call {
	int ok;
	size_t done;
	unsigned long err;
};

struct sendlog {
	int n;
	struct call c[MAX_CALLS];
};

struct counters {
	uint64_t sends, segments, fallbacks, datagrams;
};

/* --- the sockets and the BIO ------------------------------------------- */

static void big_rcvbuf(int fd)
{
	int sz = 8 << 20;

	/* Forced as root (CI); otherwise as much as the system allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static struct run *run_open(int family)
{
	struct run *r = calloc(1, sizeof(*r));
	int fd;

	ck_assert_ptr_nonnull(r);
	r->family = family;
	r->tag = ((uint32_t)getpid() * 2654435761u) ^ (uint32_t)family;
	ck_assert_ptr_nonnull(module_method());
	fd = tu_udp_loopback(family, &r->self);
	r->b = BIO_new(module_method());
	ck_assert_ptr_nonnull(r->b);
	ck_assert_int_eq(BIO_set_fd(r->b, fd, BIO_CLOSE), 1);
	for (int k = 0; k < 2; k++) {
		r->d[k].fd = tu_udp_loopback(family, &r->d[k].addr);
		big_rcvbuf(r->d[k].fd);
		r->d[k].ba = env_bio_addr(&r->d[k].addr);
	}
	/*
	 * GSO is on by default where the kernel has it (main() checked).  The
	 * question is asked before any plan is set, so that whatever the
	 * module probes with is done before faults are counted.
	 */
	ck_assert_msg(DGB_get_gso(r->b) == 1, "GSO is not in use on a new BIO");
	return r;
}

static void run_close(struct run *r)
{
	ck_assert_int_eq(dgb_fault_plan(""), 0);
	for (int k = 0; k < 2; k++) {
		BIO_ADDR_free(r->d[k].ba);
		close(r->d[k].fd);
	}
	BIO_free(r->b);
	free(r);
	ERR_clear_error();
}

static void plan(const char *spec)
{
	ck_assert_msg(dgb_fault_plan(spec) == 0, "fault plan '%s' refused", spec);
}

static int faults(const char *what)
{
	char q[32];
	int v;

	snprintf(q, sizeof(q), "?%s", what);
	v = dgb_fault_plan(q);
	ck_assert_int_ge(v, 0);
	return v;
}

static void counters_get(struct counters *c)
{
	c->sends = module_counter(DGB_PARAM_GSO_SENDS);
	c->segments = module_counter(DGB_PARAM_GSO_SEGMENTS);
	c->fallbacks = module_counter(DGB_PARAM_GSO_FALLBACKS);
	c->datagrams = module_counter(DGB_PARAM_TX_DATAGRAMS);
}

/* --- the batches ----------------------------------------------------------- */

static unsigned char pattern(uint32_t tag, uint32_t seq, size_t j)
{
	return (unsigned char)(seq * 131u + (uint32_t)j * 7u + tag);
}

static void fill(unsigned char *p, uint32_t tag, uint32_t seq, uint32_t len)
{
	memcpy(p, &tag, 4);
	memcpy(p + 4, &seq, 4);
	memcpy(p + 8, &len, 4);
	for (size_t j = HDR; j < len; j++)
		p[j] = pattern(tag, seq, j);
}

/* count messages of len bytes to destination k, after those already there. */
static void add(struct run *r, int k, size_t count, uint32_t len)
{
	struct dest *d = &r->d[k];

	ck_assert(len >= HDR && len <= PAYLOAD);
	for (size_t i = 0; i < count; i++) {
		size_t at = r->n++;
		uint32_t seq = r->next_seq++;

		ck_assert_uint_lt(at, MAXMSG);
		ck_assert_uint_lt(d->nwant, sizeof(d->want) / sizeof(d->want[0]));
		fill(r->buf[at], r->tag, seq, len);
		r->len[at] = len;
		r->m[at].data = r->buf[at];
		r->m[at].data_len = len;
		r->m[at].peer = d->ba;
		r->m[at].local = NULL;
		r->m[at].flags = 0;
		d->want[d->nwant].seq = seq;
		d->want[d->nwant].len = len;
		d->nwant++;
	}
}

/* A new batch of a shape; what earlier ones sent must have been received. */
static void batch(struct run *r, enum shape s)
{
	r->n = 0;
	switch (s) {
	case ONE_PEER:
		add(r, 0, 32, PAYLOAD);
		break;
	case THREE:
		add(r, 0, 8, PAYLOAD);
		add(r, 1, 8, PAYLOAD);
		add(r, 0, 7, PAYLOAD);
		add(r, 0, 1, 700);
		break;
	case SMALL:
		add(r, 0, 200, 100);
		break;
	case MIXED:
		add(r, 0, 5, PAYLOAD);
		add(r, 1, 1, 100);
		add(r, 0, 7, PAYLOAD);
		add(r, 0, 1, 300);
		add(r, 1, 3, PAYLOAD);
		break;
	}
}

/* Messages in each GSO entry of a shape, as the module groups them. */
static const size_t group_sizes[][4] = {
	[ONE_PEER] = { 32 },
	[THREE] = { 8, 8, 8 },
	[MIXED] = { 5, 1, 8, 3 },
	[SMALL] = { 128, 72 },
};

/* --- sending ----------------------------------------------------------- */

/* One DGB_sendmmsg() of messages from..n-1, checked as far as it goes. */
static void send_once(struct run *r, size_t from, struct call *c)
{
	c->done = 4242;
	ERR_clear_error();
	c->ok = DGB_sendmmsg(r->b, r->m + from, sizeof(DGB_MSG), r->n - from, 0, &c->done);
	if (!c->ok) {
		c->err = ERR_peek_last_error();
		ck_assert_uint_eq(c->done, 0);
		ck_assert_msg(DGB_err_is_non_fatal((unsigned int)c->err),
			      "a fatal error: %s", ERR_error_string(c->err, NULL));
		ERR_clear_error();
		return;
	}
	c->err = 0;
	ck_assert_msg(c->done > 0 && c->done <= r->n - from,
		      "%zu messages processed of %zu", c->done, r->n - from);
	for (size_t i = from; i < from + c->done; i++) {
		ck_assert_uint_eq(r->m[i].data_len, r->len[i]);
		ck_assert_uint_eq(r->m[i].flags, 0);
	}
}

/* The batch from message `from` on, retrying as QUIC does; each call's outcome in log. */
static void send_all(struct run *r, size_t from, struct sendlog *log)
{
	size_t sent = from;

	log->n = 0;
	while (sent < r->n) {
		struct call *c;

		ck_assert_msg(log->n < MAX_CALLS, "%zu of %zu messages sent in %d calls", sent, r->n,
			      log->n);
		c = &log->c[log->n++];
		send_once(r, sent, c);
		if (c->ok)
			sent += c->done;
	}
}

/* --- receiving --------------------------------------------------------- */

static void check_datagram(struct run *r, int k, size_t idx, const unsigned char *p, ssize_t len)
{
	struct dest *d = &r->d[k];
	uint32_t tag, seq, hlen;

	ck_assert_msg(idx < d->nwant, "destination %d: datagram %zu of %zu expected (a duplicate?)",
		      k, idx + 1, d->nwant);
	ck_assert_msg(len >= HDR, "destination %d: a datagram of %zd bytes", k, len);
	memcpy(&tag, p, 4);
	memcpy(&seq, p + 4, 4);
	memcpy(&hlen, p + 8, 4);
	ck_assert_msg(tag == r->tag, "destination %d: a datagram from elsewhere", k);
	ck_assert_msg(seq == d->want[idx].seq,
		      "destination %d: datagram #%u where #%u was due (lost, repeated or reordered)",
		      k, seq, d->want[idx].seq);
	ck_assert_msg(len == (ssize_t)d->want[idx].len && hlen == d->want[idx].len,
		      "destination %d: #%u has %zd bytes, sent with %u", k, seq, len,
		      d->want[idx].len);
	for (size_t j = HDR; j < (size_t)len; j++)
		ck_assert_msg(p[j] == pattern(tag, seq, j), "destination %d: #%u differs at byte %zu",
			      k, seq, j);
}

/*
 * Everything sent to each destination so far, each once and in order: wait
 * up to 1s for what is missing, and 50ms more for anything extra.
 */
static void expect_received(struct run *r)
{
	static unsigned char buf[65536];

	for (int k = 0; k < 2; k++) {
		struct dest *d = &r->d[k];
		size_t got = 0;

		for (;;) {
			struct pollfd p = { .fd = d->fd, .events = POLLIN };

			if (poll(&p, 1, got < d->nwant ? 1000 : 50) != 1)
				break;
			for (;;) {
				ssize_t len = recv(d->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

				if (len < 0) {
					ck_assert_int_eq(errno, EAGAIN);
					break;
				}
				check_datagram(r, k, got++, buf, len);
			}
		}
		ck_assert_msg(got == d->nwant, "destination %d: %zu datagrams arrived of %zu", k, got,
			      d->nwant);
		d->nwant = 0;
	}
}

/* Nothing arrived anywhere (in 100ms). */
static void expect_nothing(struct run *r)
{
	char b;

	for (int k = 0; k < 2; k++) {
		struct pollfd p = { .fd = r->d[k].fd, .events = POLLIN };

		ck_assert_msg(poll(&p, 1, 100) == 0, "destination %d received something", k);
		ck_assert_int_lt(recv(r->d[k].fd, &b, 1, MSG_DONTWAIT), 0);
	}
}

/* --- the cases ----------------------------------------------------------- */

/*
 * No fault: the interposer sees what the module counts.  If this fails,
 * the faults of the other cases do not reach the module.
 */
static void plain(int family, int idx)
{
	/* GSO entries and the datagrams in them (MIXED's lone one is neither). */
	static const size_t entries[] = { [ONE_PEER] = 1, [THREE] = 3, [MIXED] = 3 };
	static const size_t segs[] = { [ONE_PEER] = 32, [THREE] = 24, [MIXED] = 16 };
	enum shape s = (enum shape)idx;
	struct run *r = run_open(family);
	struct counters c0, c1;
	struct sendlog log;

	plan("");
	counters_get(&c0);
	batch(r, s);
	send_all(r, 0, &log);
	counters_get(&c1);
	ck_assert_int_eq(log.n, 1);
	ck_assert_int_eq(faults("gso-sent"), (int)entries[s]);
	ck_assert_int_eq(faults("gso-segments"), (int)segs[s]);
	ck_assert_uint_eq(c1.sends - c0.sends, entries[s]);
	ck_assert_uint_eq(c1.segments - c0.segments, segs[s]);
	ck_assert_uint_eq(c1.fallbacks - c0.fallbacks, 0);
	ck_assert_uint_eq(c1.datagrams - c0.datagrams, r->n);
	ck_assert_int_eq(DGB_get_gso(r->b), 1);
	expect_received(r);
	run_close(r);
}

/*
 * EIO on the first entry of the first call, from a device that refuses
 * every GSO send: that call still sends the group, one datagram at a time,
 * GSO goes off for the BIO (and is never tried again on it), and one
 * fallback is counted.
 */
static void eio_first(int family, int idx)
{
	enum shape s = idx == 0 ? ONE_PEER : THREE;
	struct run *r = run_open(family);
	struct counters c0, c1;
	struct sendlog log;

	plan("gso:1+:EIO");
	counters_get(&c0);
	batch(r, s);
	send_all(r, 0, &log);
	counters_get(&c1);
	ck_assert_msg(log.c[0].ok && log.c[0].done >= group_sizes[s][0],
		      "the first call: %d, %zu processed; the refused group has %zu", log.c[0].ok,
		      log.c[0].done, group_sizes[s][0]);
	ck_assert_int_eq(DGB_get_gso(r->b), 0);
	ck_assert_uint_eq(c1.fallbacks - c0.fallbacks, 1);
	ck_assert_uint_eq(c1.sends - c0.sends, 0);
	ck_assert_uint_eq(c1.datagrams - c0.datagrams, r->n);
	ck_assert_int_eq(faults("gso-seen"), 1);
	ck_assert_int_eq(faults("fired"), 1);
	expect_received(r);

	/* GSO stays off on this BIO: no GSO entry is even tried. */
	batch(r, s);
	send_all(r, 0, &log);
	ck_assert_int_eq(faults("gso-seen"), 1);
	ck_assert_uint_eq(module_counter(DGB_PARAM_GSO_FALLBACKS) - c0.fallbacks, 1);
	ck_assert_int_eq(DGB_get_gso(r->b), 0);
	expect_received(r);
	run_close(r);
}

/*
 * A GSO entry refused in the middle of a batch (the second group): the
 * kernel's sendmmsg() returns the entries before it, which the module maps
 * back to the first group's 8 messages; the caller goes on from there.
 * idx 0, 1: the device refuses every GSO send from then on (EIO, EINVAL),
 * so the next call meets it on its first entry and falls back; idx 2: the
 * EIO is transient, nothing falls back and GSO stays on.
 */
static void refused_middle(int family, int idx)
{
	static const char *const plans[] = { "gso:2+:EIO", "gso:2+:EINVAL", "gso:2:EIO" };
	struct run *r = run_open(family);
	struct counters c0, c1;
	struct sendlog log;

	plan(plans[idx]);
	counters_get(&c0);
	batch(r, THREE);
	send_all(r, 0, &log);
	counters_get(&c1);
	ck_assert_int_eq(log.c[0].ok, 1);
	ck_assert_uint_eq(log.c[0].done, 8);
	ck_assert_int_ge(log.n, 2);
	ck_assert_uint_eq(c1.datagrams - c0.datagrams, r->n);
	if (idx < 2) {
		/* The first group went as GSO; the second was refused twice. */
		ck_assert_int_eq(DGB_get_gso(r->b), 0);
		ck_assert_uint_eq(c1.fallbacks - c0.fallbacks, 1);
		ck_assert_uint_eq(c1.sends - c0.sends, 1);
		ck_assert_uint_eq(c1.segments - c0.segments, 8);
		ck_assert_int_eq(faults("gso-sent"), 1);
		ck_assert_int_eq(faults("gso-seen"), 3);
		ck_assert_int_eq(faults("fired"), 2);
	} else {
		ck_assert_int_eq(DGB_get_gso(r->b), 1);
		ck_assert_uint_eq(c1.fallbacks - c0.fallbacks, 0);
		ck_assert_uint_eq(c1.sends - c0.sends, 3);
		ck_assert_int_eq(faults("gso-sent"), 3);
		ck_assert_int_eq(faults("fired"), 1);
	}
	expect_received(r);
	run_close(r);
}

/*
 * EMSGSIZE on a GSO entry: the group is sent again one datagram at a time
 * in the same call, and GSO stays on.  idx 0: once, on the one group of
 * ONE_PEER, then GSO is used again; idx 1: every GSO entry from the second
 * group of THREE on (a segment size the route never takes).
 */
static void emsgsize(int family, int idx)
{
	struct run *r = run_open(family);
	struct counters c0, c1;
	struct sendlog log;

	plan(idx == 0 ? "gso:1:EMSGSIZE" : "gso:2+:EMSGSIZE");
	counters_get(&c0);
	batch(r, idx == 0 ? ONE_PEER : THREE);
	send_all(r, 0, &log);
	counters_get(&c1);
	ck_assert_int_eq(DGB_get_gso(r->b), 1);
	ck_assert_uint_eq(c1.datagrams - c0.datagrams, r->n);
	if (idx == 0) {
		ck_assert_int_eq(log.n, 1);
		ck_assert_int_eq(log.c[0].ok, 1);
		ck_assert_uint_eq(log.c[0].done, 32);
		ck_assert_int_eq(faults("gso-sent"), 0);
		ck_assert_uint_eq(c1.sends - c0.sends, 0);
	} else {
		ck_assert_uint_eq(log.c[0].done, 8);
		ck_assert_int_eq(faults("gso-sent"), 1);
		ck_assert_uint_eq(c1.sends - c0.sends, 1);
	}
	/* Each refused group sent again one by one counts: one, or the last two of THREE. */
	ck_assert_uint_eq(c1.fallbacks - c0.fallbacks, idx == 0 ? 1 : 2);
	expect_received(r);

	if (idx == 0) {
		/* GSO is used again. */
		batch(r, ONE_PEER);
		send_all(r, 0, &log);
		ck_assert_int_eq(log.n, 1);
		ck_assert_int_eq(faults("gso-sent"), 1);
		ck_assert_uint_eq(module_counter(DGB_PARAM_GSO_SENDS) - c0.sends, 1);
		expect_received(r);
	}
	run_close(r);
}

/*
 * ENOBUFS on a GSO entry: the module never sends it again, since a device
 * may have sent some of its segments before it reports the drop of the
 * last.  idx 0: on the first entry, the call succeeds with the group
 * counted as sent (it is lost, as the kernel reports such a drop without
 * IP_RECVERR), and nothing is ever sent twice; idx 1: in the middle, a
 * short count as for any error there, and the caller's retry sends the
 * rest.  GSO stays on.
 */
static void enobufs(int family, int idx)
{
	struct run *r = run_open(family);
	struct counters c0, c1;
	struct sendlog log;
	struct call c;

	plan(idx == 0 ? "gso:1:ENOBUFS" : "gso:2:ENOBUFS");
	counters_get(&c0);
	batch(r, idx == 0 ? ONE_PEER : THREE);
	send_once(r, 0, &c);
	ck_assert_int_eq(c.ok, 1);
	ck_assert_int_eq(faults("fired"), 1);
	if (idx == 0) {
		ck_assert_uint_eq(c.done, r->n);
		counters_get(&c1);
		ck_assert_uint_eq(c1.datagrams - c0.datagrams, r->n);
		ck_assert_uint_eq(c1.fallbacks - c0.fallbacks, 0);
		ck_assert_int_eq(DGB_get_gso(r->b), 1);
		ck_assert_int_eq(faults("gso-sent"), 0);
		expect_nothing(r);
		run_close(r);
		return;
	}
	ck_assert_uint_eq(c.done, 8);
	send_all(r, c.done, &log);
	counters_get(&c1);
	ck_assert_int_eq(log.n, 1);
	ck_assert_int_eq(DGB_get_gso(r->b), 1);
	ck_assert_uint_eq(c1.fallbacks - c0.fallbacks, 0);
	ck_assert_uint_eq(c1.datagrams - c0.datagrams, r->n);
	ck_assert_uint_eq(c1.sends - c0.sends, 3);
	expect_received(r);
	run_close(r);
}

/*
 * EAGAIN.  idx 0: on the first entry of the first call (a GSO entry): a
 * non-fatal error, nothing sent; idx 1: in the middle (the kernel's short
 * count: the first entry went, the rest would block); idx 2: both, a
 * short count and then EAGAIN on the retry's first entry.  The caller's
 * loop delivers everything once, and EAGAIN is no reason to give up GSO.
 */
static void eagain(int family, int idx)
{
	static const char *const plans[] = { "call:1:EAGAIN", "short:1:1", "short:1:2,call:2:EAGAIN" };
	struct run *r = run_open(family);
	struct counters c0, c1;
	struct sendlog log;
	struct call c;

	plan(plans[idx]);
	counters_get(&c0);
	batch(r, idx == 0 ? ONE_PEER : THREE);
	if (idx == 0) {
		send_once(r, 0, &c);
		ck_assert_int_eq(c.ok, 0);
		ck_assert_uint_eq(c.done, 0);
		ck_assert_int_eq(ERR_GET_LIB(c.err), ERR_LIB_SYS);
		ck_assert_int_eq(ERR_GET_REASON(c.err), EAGAIN);
		expect_nothing(r);
	}
	send_all(r, 0, &log);
	counters_get(&c1);
	switch (idx) {
	case 0:
		ck_assert_int_eq(log.n, 1);
		break;
	case 1:
		ck_assert_int_eq(log.n, 2);
		ck_assert_uint_eq(log.c[0].done, 8);
		break;
	case 2:
		ck_assert_int_eq(log.n, 3);
		ck_assert_uint_eq(log.c[0].done, 16);
		ck_assert_int_eq(log.c[1].ok, 0);
		ck_assert_int_eq(ERR_GET_REASON(log.c[1].err), EAGAIN);
		ck_assert_uint_eq(log.c[2].done, 8);
		break;
	}
	ck_assert_int_eq(faults("fired"), idx == 2 ? 2 : 1);
	ck_assert_int_eq(DGB_get_gso(r->b), 1);
	ck_assert_uint_eq(c1.fallbacks - c0.fallbacks, 0);
	ck_assert_uint_eq(c1.datagrams - c0.datagrams, r->n);
	ck_assert_uint_eq(c1.sends - c0.sends, idx == 0 ? 1 : 3);
	expect_received(r);
	run_close(r);
}

/*
 * The one-by-one fallback itself stopped: it reports what it sent and the
 * caller sends the rest, so nothing is sent twice.  Send calls are numbered
 * from 1, the refused GSO send being the first and the fallback's one
 * sendmmsg of single datagrams the second.  idx 0: that sendmmsg sends only
 * 3 (a short return); idx 1: ENOBUFS, and idx 2: EAGAIN, on its first
 * datagram, so nothing went out: the call fails (non-fatal) and GSO is not
 * given up; the retry meets the refusal again and falls back.
 */
static void fallback_stopped(int family, int idx)
{
	static const char *const plans[] = { "gso:1+:EIO,short:2:3",
					     "gso:1+:EIO,call:2:ENOBUFS",
					     "gso:1+:EIO,call:2:EAGAIN" };
	struct run *r = run_open(family);
	struct counters c0, c1;
	struct sendlog log;
	struct call c;
	size_t from = 0;

	plan(plans[idx]);
	counters_get(&c0);
	batch(r, ONE_PEER);
	send_once(r, 0, &c);
	if (idx == 0) {
		ck_assert_int_eq(c.ok, 1);
		ck_assert_uint_eq(c.done, 3);
		from = c.done;
	} else {
		ck_assert_int_eq(c.ok, 0);
		ck_assert(DGB_err_is_non_fatal((unsigned int)c.err));
		ck_assert_int_eq(DGB_get_gso(r->b), 1);
		ck_assert_uint_eq(module_counter(DGB_PARAM_GSO_FALLBACKS), c0.fallbacks);
		ck_assert_uint_eq(module_counter(DGB_PARAM_TX_DATAGRAMS), c0.datagrams);
		expect_nothing(r);
	}
	send_all(r, from, &log);
	counters_get(&c1);
	ck_assert_int_eq(log.n, 1);
	ck_assert_int_eq(faults("gso-seen"), idx == 0 ? 1 : 2);
	ck_assert_int_eq(faults("fired"), idx == 0 ? 2 : 3);
	ck_assert_int_eq(DGB_get_gso(r->b), 0);
	ck_assert_uint_eq(c1.fallbacks - c0.fallbacks, 1);
	ck_assert_uint_eq(c1.sends - c0.sends, 0);
	ck_assert_uint_eq(c1.datagrams - c0.datagrams, r->n);
	expect_received(r);
	run_close(r);
}

/*
 * Short returns map back: K entries of MIXED's four (5, 1, 8 and 3
 * messages) sent, *msgs_processed is the messages in those K; idx is K-1.
 */
static void short_return(int family, int idx)
{
	unsigned int k = (unsigned int)idx + 1;
	size_t want = 0;
	char spec[32];
	struct run *r = run_open(family);
	struct counters c0, c1;
	struct sendlog log;

	for (unsigned int i = 0; i < k; i++)
		want += group_sizes[MIXED][i];
	snprintf(spec, sizeof(spec), "short:1:%u", k);
	plan(spec);
	counters_get(&c0);
	batch(r, MIXED);
	send_all(r, 0, &log);
	counters_get(&c1);
	ck_assert_int_eq(faults("fired"), 1);
	ck_assert_int_eq(log.c[0].ok, 1);
	ck_assert_uint_eq(log.c[0].done, want);
	ck_assert_int_eq(log.n, 2);
	ck_assert_int_eq(DGB_get_gso(r->b), 1);
	ck_assert_uint_eq(c1.fallbacks - c0.fallbacks, 0);
	ck_assert_uint_eq(c1.datagrams - c0.datagrams, r->n);
	/* The lone 100-byte datagram is not a GSO send. */
	ck_assert_uint_eq(c1.sends - c0.sends, 3);
	expect_received(r);
	run_close(r);
}

/*
 * The interposer stands in for the C library in the module: this program
 * exports its sendmmsg()/sendmsg(), and a fault on the first send call
 * reaches a batch the module sends, whatever it makes of it.
 */
/*
 * A forged ICMP "fragmentation needed" (or "packet too big") leaves
 * EMSGSIZE queued on a connected socket for its next call, which sends
 * nothing.  It is absorbed as any ICMP error.  BIO_write: idx 0, once, the
 * datagram goes out on the retry and one ICMP error is counted; idx 1, on
 * every try (a flood), it is returned after eight, as other ICMP errors
 * are.  A batched send (GSO off): idx 2, once, the call sends again at
 * once and everything goes, once; idx 3, twice in a row, the call fails
 * non-fatally (a forged ICMP must not end a QUIC connection) and sends
 * nothing.  (A datagram larger than UDP carries gets it fatally: test_dgram.)
 */
static void frag_needed(int family, int idx)
{
	static const char *const plans[] = { "call:1:EMSGSIZE", "call:1-8:EMSGSIZE",
					     "call:1:EMSGSIZE", "call:1-8:EMSGSIZE" };
	struct run *r = run_open(family);
	uint64_t icmp0 = module_counter(DGB_PARAM_ICMP_ERRORS), icmp1;
	int w;

	ck_assert_int_eq(DGB_set_gso(r->b, 0), 1);
	plan(plans[idx]);
	if (idx < 2) {
		add(r, 0, 1, PAYLOAD);
		ck_assert_int_eq(BIO_dgram_set_peer(r->b, r->d[0].ba), 1);
		errno = 0;
		w = BIO_write(r->b, r->buf[0], (int)r->len[0]);
		icmp1 = module_counter(DGB_PARAM_ICMP_ERRORS);
		if (idx == 0) {
			ck_assert_int_eq(w, (int)r->len[0]);
			ck_assert_int_eq(faults("fired"), 1);
			ck_assert_uint_eq(icmp1 - icmp0, 1);
			expect_received(r);
		} else {
			ck_assert_int_eq(w, -1);
			ck_assert_int_eq(errno, EMSGSIZE);
			ck_assert(!BIO_should_retry(r->b));
			ck_assert_int_eq(faults("fired"), 8);
			expect_nothing(r);
		}
	} else {
		struct call c;
		struct sendlog log;

		batch(r, ONE_PEER);
		if (idx == 2) {
			send_all(r, 0, &log);
			ck_assert_int_eq(log.n, 1);
			ck_assert_int_eq(faults("fired"), 1);
			ck_assert_uint_eq(module_counter(DGB_PARAM_ICMP_ERRORS) - icmp0, 1);
			expect_received(r);
		} else {
			/* Not send_once(), which holds every failure non-fatal. */
			c.done = 4242;
			ERR_clear_error();
			c.ok = DGB_sendmmsg(r->b, r->m, sizeof(DGB_MSG), r->n, 0, &c.done);
			c.err = ERR_peek_last_error();
			ck_assert_int_eq(c.ok, 0);
			ck_assert_uint_eq(c.done, 0);
			ck_assert(DGB_err_is_non_fatal((unsigned int)c.err));
			ck_assert_int_eq(faults("fired"), 2);
			ck_assert_uint_eq(module_counter(DGB_PARAM_ICMP_ERRORS) - icmp0, 1);
			expect_nothing(r);
		}
	}
	ERR_clear_error();
	run_close(r);
}

START_TEST(test_interposer_reaches_module)
{
	void *p = dlsym(RTLD_DEFAULT, "sendmmsg"), *q = dlsym(RTLD_DEFAULT, "sendmsg");
	union tu_addr a, b;
	int fa, fb;
	BIO *ba;
	BIO_ADDR *to;
	DGB_MSG m[2] = { { "one", 3, NULL, NULL, 0 }, { "two", 3, NULL, NULL, 0 } };
	size_t done = 9;
	char buf[8];

	ck_assert_msg(p == (void *)sendmmsg && q == (void *)sendmsg,
		      "sendmmsg/sendmsg are not this program's (tests/fault.sym)");
	ck_assert_ptr_nonnull(module_method());
	fa = tu_udp_loopback(AF_INET, &a);
	fb = tu_udp_loopback(AF_INET, &b);
	ba = BIO_new(module_method());
	ck_assert_int_eq(BIO_set_fd(ba, fa, BIO_CLOSE), 1);
	to = env_bio_addr(&b);
	m[0].peer = m[1].peer = to;
	plan("call:1:EAGAIN");
	ck_assert_int_eq(DGB_sendmmsg(ba, m, sizeof(DGB_MSG), 2, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	ck_assert(DGB_err_is_non_fatal((unsigned int)ERR_peek_last_error()));
	ERR_clear_error();
	ck_assert_int_eq(faults("fired"), 1);
	ck_assert_int_lt(recv(fb, buf, sizeof(buf), MSG_DONTWAIT), 0);
	ck_assert_int_eq(DGB_sendmmsg(ba, m, sizeof(DGB_MSG), 2, 0, &done), 1);
	ck_assert_uint_eq(done, 2);
	ck_assert_int_eq(raw_recv(fb, buf, sizeof(buf)), 3);
	ck_assert_mem_eq(buf, "one", 3);
	ck_assert_int_eq(raw_recv(fb, buf, sizeof(buf)), 3);
	ck_assert_mem_eq(buf, "two", 3);
	ck_assert_int_eq(dgb_fault_plan("gso:x:EIO"), -1);
	ck_assert_int_eq(dgb_fault_plan("gso:1:EBOGUS"), -1);
	ck_assert_int_eq(dgb_fault_plan("short:1:0"), -1);
	ck_assert_int_eq(dgb_fault_plan("?nothing"), -1);
	ck_assert_int_eq(faults("fired"), 1);
	plan("");
	BIO_ADDR_free(to);
	BIO_free(ba);
	close(fb);
}
END_TEST

/*
 * A kernel before 6.9 takes 64 segments, not 128, and refuses more with
 * EINVAL, which the interposer plays ("gsomax:64:EINVAL").  The module's
 * first group of 128 is refused, sent again as 64 and 64 in the same call,
 * and the socket keeps 64: the rest goes as 64 and 8.  GSO stays on,
 * nothing falls back to single datagrams, nothing is sent twice.
 */
static void old_kernel(int family, int idx)
{
	struct run *r = run_open(family);
	struct counters c0, c1;
	struct sendlog log;

	(void)idx;
	plan("gsomax:64:EINVAL");
	counters_get(&c0);
	batch(r, SMALL);
	send_all(r, 0, &log);
	counters_get(&c1);
	ck_assert_int_eq(log.n, 2);
	ck_assert_uint_eq(log.c[0].done, 128);
	ck_assert_uint_eq(log.c[1].done, 72);
	ck_assert_int_eq(faults("fired"), 1);
	ck_assert_int_eq(DGB_get_gso(r->b), 1);
	ck_assert_uint_eq(c1.fallbacks - c0.fallbacks, 0);
	ck_assert_uint_eq(c1.sends - c0.sends, 4);
	ck_assert_uint_eq(c1.segments - c0.segments, 200);
	ck_assert_uint_eq(c1.datagrams - c0.datagrams, 200);
	expect_received(r);

	/* The socket keeps 64, also once the kernel would take more. */
	plan("");
	counters_get(&c0);
	batch(r, SMALL);
	send_all(r, 0, &log);
	counters_get(&c1);
	ck_assert_uint_eq(c1.sends - c0.sends, 4);
	expect_received(r);
	run_close(r);
}

/*
 * Where the kernel takes 128 segments (Linux 6.9 and later), a fresh BIO
 * sends 128 in one segmented send.
 */
static void new_kernel(int family, int idx)
{
	struct run *r = run_open(family);
	struct counters c0, c1;
	struct sendlog log;

	(void)idx;
	plan("");
	counters_get(&c0);
	batch(r, SMALL);
	send_all(r, 0, &log);
	counters_get(&c1);
	ck_assert_int_eq(log.n, 1);
	ck_assert_uint_eq(c1.sends - c0.sends, 2);
	ck_assert_uint_eq(c1.segments - c0.segments, 200);
	ck_assert_int_eq(faults("gso-segments"), 200);
	expect_received(r);
	run_close(r);
}

#define BOTH_FAMILIES(fn)                   \
	START_TEST(test_##fn##_ipv4)        \
	{                                   \
		fn(AF_INET, _i);            \
	}                                   \
	END_TEST                            \
	START_TEST(test_##fn##_ipv6)        \
	{                                   \
		fn(AF_INET6, _i);           \
	}                                   \
	END_TEST

BOTH_FAMILIES(plain)
BOTH_FAMILIES(eio_first)
BOTH_FAMILIES(refused_middle)
BOTH_FAMILIES(emsgsize)
BOTH_FAMILIES(enobufs)
BOTH_FAMILIES(eagain)
BOTH_FAMILIES(fallback_stopped)
BOTH_FAMILIES(short_return)
BOTH_FAMILIES(frag_needed)
BOTH_FAMILIES(old_kernel)
BOTH_FAMILIES(new_kernel)

/* The IPv6 variant only where ::1 works (as TU_ADD_IPV6_TEST). */
#define ADD_BOTH(tc, fn, n)                                                      \
	do {                                                                     \
		const char *why_;                                                \
		tcase_add_loop_test((tc), test_##fn##_ipv4, 0, (n));             \
		if (tu_ipv6_available(&why_))                                    \
			tcase_add_loop_test((tc), test_##fn##_ipv6, 0, (n));     \
		else                                                             \
			fprintf(stderr, "SKIP test_%s_ipv6: %s\n", #fn, why_);  \
	} while (0)

static Suite *suite_gso_faults(void)
{
	Suite *s = suite_create("gso_faults");
	TCase *tc = tcase_create("faults");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_interposer_reaches_module);
	ADD_BOTH(tc, plain, 3);
	ADD_BOTH(tc, eio_first, 2);
	ADD_BOTH(tc, refused_middle, 3);
	ADD_BOTH(tc, emsgsize, 2);
	ADD_BOTH(tc, enobufs, 2);
	ADD_BOTH(tc, eagain, 3);
	ADD_BOTH(tc, fallback_stopped, 3);
	ADD_BOTH(tc, short_return, 3);
	ADD_BOTH(tc, frag_needed, 4);
	ADD_BOTH(tc, old_kernel, 1);
	if (tu_kernel_gso_max_segs() == 128)
		ADD_BOTH(tc, new_kernel, 1);
	else
		fprintf(stderr, "SKIP test_new_kernel: this kernel takes 64 segments per send\n");
	suite_add_tcase(s, tc);
	return s;
}

/* Whether the kernel takes UDP_SEGMENT; *why says why not. */
static int kernel_has_gso(const char **why)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), sz = PAYLOAD, ok;

	if (fd < 0) {
		*why = strerror(errno);
		return 0;
	}
	ok = setsockopt(fd, SOL_UDP, UDP_SEGMENT, &sz, sizeof(sz)) == 0;
	*why = ok ? "" : strerror(errno);
	close(fd);
	return ok;
}

int main(void)
{
	const char *why;
	SRunner *sr;
	int failed;

	if (!kernel_has_gso(&why)) {
		printf("SKIP: the kernel does not take UDP_SEGMENT (%s)\n", why);
		return 77;
	}
	sr = srunner_create(suite_gso_faults());
	srunner_add_suite(sr, suite_gro_faults());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
