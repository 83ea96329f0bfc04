/*
 * test_gro_faults.c - UDP GRO on the receive path when the kernel's answers
 * go wrong: faults injected by the interposer linked into this program
 * (tests/fault.c) at chosen receive calls and socket options of the
 * module's, with real loopback sockets everywhere else, IPv4 and IPv6.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * A sender of its own hands the kernel a fixed mix, each train as one send
 * with a UDP_SEGMENT control message, in one of two orders (the mixes):
 *
 *   MIX_HEAD  40 x 1000 bytes; 9 x 500 and 123 (a short last segment);
 *             77 bytes alone; 3 x 1200; an empty datagram; 20 bytes alone
 *   MIX_LONE  77 alone; 3 x 1200; 40 x 1000; 20 alone; 4 x 300 and 100;
 *             33 alone; 9 x 500 and 123; an empty datagram; 25 alone
 *
 * which a socket with UDP_GRO on queues as one buffer per send.  Each
 * datagram but the empty one carries this run's tag, its sequence number
 * and its length.  A module BIO then receives them (after its first batched
 * receive, on the empty socket, has turned GRO on) with one of four
 * readers: DGB_recvmmsg() into 32 messages (READ32), into 7 (READ7, so
 * that trains are split across calls), BIO_read() (READ1), and
 * DGB_recvmmsg() into 32 with GRO kept off (PLAIN, where the kernel splits
 * the trains).  A reader calls again after an error, as a program woken by
 * poll() would; it stops at the first EAGAIN that no fault caused, which
 * must leave nothing queued on the socket and nothing kept in the BIO.
 * What it received must be the mix exactly: every datagram once, in order,
 * byte for byte, from the sender, and the module's counters must say the
 * same.
 *
 * The sweeps: a fault rule (tests/fault.c) at each position N in turn,
 * from 1 to one past the number of calls of its sort the reader makes
 * without faults (counted first, in the same test), each on fresh sockets,
 * for every reader it applies to and both mixes.  Every failed call must
 * fail with the fault's errno as the module raises it (BIO_R_NON_FATAL
 * naming it for an ICMP error, ERR_LIB_SYS for the rest, EINTR and EAGAIN
 * being retried; errno and a retry flag for BIO_read()), and only a call
 * in which a fault fired may fail.  Then the cases that a sweep does not
 * pin down: errors surfacing (errors_surface), UDP_GRO, SO_PEEK_OFF and
 * SO_RXQ_OVFL refused (gro_refused, option_refused), a train that cannot
 * be taken off the socket (removal_kept), and the judge's own proof that it
 * sees a train delivered twice (left_on_socket).
 *
 * The program runs only where the kernel has UDP_SEGMENT (main(), in
 * tests/test_gso_faults.c); this suite needs UDP_GRO as well.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
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

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define HDR 12
#define MAXWANT 128
#define MAXLOG 256
#define MAXMSG 32
#define BUFLEN 2048
#define MAX_CALLS 200

/* A mix: trains of nseg datagrams of seg bytes, the last of last bytes. */
struct piece {
	unsigned int nseg, seg, last;
};

/*
 * MIX_HEAD: a train too long for the room at the head of the queue (a list
 * that takes nothing, then a peek); MIX_LONE: lone datagrams and short
 * trains first, so that lists take several and end in a train that fits
 * only in part.  The empty datagram comes late in both: once one is seen,
 * a call's first read is a peek.
 */
enum mix { MIX_HEAD, MIX_LONE, MIXES };

static const struct piece mix_head[] = {
	{ 40, 1000, 1000 }, { 10, 500, 123 }, { 1, 77, 77 },
	{ 3, 1200, 1200 },  { 1, 0, 0 },      { 1, 20, 20 },
};

static const struct piece mix_lone[] = {
	{ 1, 77, 77 },	 { 3, 1200, 1200 }, { 40, 1000, 1000 }, { 1, 20, 20 }, { 5, 300, 100 },
	{ 1, 33, 33 },	 { 10, 500, 123 },  { 1, 0, 0 },	  { 1, 25, 25 },
};

static const struct {
	const struct piece *p;
	size_t n;
	const char *name;
} mixes[MIXES] = {
	[MIX_HEAD] = { mix_head, sizeof(mix_head) / sizeof(mix_head[0]), "a long train first" },
	[MIX_LONE] = { mix_lone, sizeof(mix_lone) / sizeof(mix_lone[0]), "lone datagrams first" },
};

enum reader { READ32, READ7, READ1, PLAIN, READERS };

static const char *const reader_names[] = { "DGB_recvmmsg(32)", "DGB_recvmmsg(7)", "BIO_read",
					    "DGB_recvmmsg(32), GRO off" };

/* A datagram as sent, or as received (seq: NO_SEQ for an empty one). */
struct dgram {
	uint32_t seq;
	uint32_t len;
	int intact; /* received: tag, length and bytes as sent */
};

#define NO_SEQ 0xffffffffu

struct grun {
	int family;
	enum reader how;
	int rx, tx, fence; /* rx belongs to the BIO */
	union tu_addr rxaddr, txaddr, fenceaddr;
	BIO *b;
	uint32_t tag, next_seq;
	enum mix mix;
	uint64_t bytes; /* in the mix */
	/* Its buffers of more than one datagram, and the datagrams in those. */
	unsigned int trains, gro_trains, gro_segments;
	size_t nwant;
	struct dgram want[MAXWANT];
	size_t nlog;
	struct dgram log[MAXLOG];
	/* The reader's calls, those that failed, and those a fault failed. */
	int calls, failed, fault_failed;
	/* Each failed call's errno, in order. */
	int errs[MAX_CALLS];
	DGB_MSG m[MAXMSG];
	BIO_ADDR *peer[MAXMSG];
	unsigned char buf[MAXMSG][BUFLEN];
};

struct counters {
	uint64_t datagrams, bytes, syscalls, icmp, gro_receives, gro_segments;
};

/* --- helpers ------------------------------------------------------------- */

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
	ck_assert_msg(v >= 0, "no count %s", q);
	return v;
}

static void counters_get(struct counters *c)
{
	c->datagrams = module_counter(DGB_PARAM_RX_DATAGRAMS);
	c->bytes = module_counter(DGB_PARAM_RX_BYTES);
	c->syscalls = module_counter(DGB_PARAM_RX_SYSCALLS);
	c->icmp = module_counter(DGB_PARAM_ICMP_ERRORS);
	c->gro_receives = module_counter(DGB_PARAM_GRO_RECEIVES);
	c->gro_segments = module_counter(DGB_PARAM_GRO_SEGMENTS);
}

static unsigned char pattern(uint32_t tag, uint32_t seq, size_t j)
{
	return (unsigned char)(seq * 131u + (uint32_t)j * 7u + tag);
}

/* --- the sockets, the BIO and the mix -------------------------------------- */

/* Sockets and a module BIO for a reader, GRO still undecided (or off for PLAIN). */
static struct grun *grun_new(int family, enum reader how)
{
	struct grun *g = calloc(1, sizeof(*g));

	ck_assert_ptr_nonnull(g);
	g->family = family;
	g->how = how;
	g->tag = ((uint32_t)getpid() * 2654435761u) ^ (uint32_t)family ^ ((uint32_t)how << 24);
	ck_assert_ptr_nonnull(module_method());
	g->rx = tu_udp_loopback(family, &g->rxaddr);
	g->tx = tu_udp_loopback(family, &g->txaddr);
	g->fence = tu_udp_loopback(family, &g->fenceaddr);
	ck_assert_int_eq(fcntl(g->rx, F_SETFL, fcntl(g->rx, F_GETFL) | O_NONBLOCK), 0);
	g->b = BIO_new(module_method());
	ck_assert_ptr_nonnull(g->b);
	ck_assert_int_eq(BIO_set_fd(g->b, g->rx, BIO_CLOSE), 1);
	for (int i = 0; i < MAXMSG; i++) {
		g->peer[i] = BIO_ADDR_new();
		ck_assert_ptr_nonnull(g->peer[i]);
		g->m[i].data = g->buf[i];
		g->m[i].data_len = BUFLEN;
		g->m[i].peer = g->peer[i];
		g->m[i].local = NULL;
		g->m[i].flags = 0;
	}
	if (how == PLAIN)
		ck_assert_int_eq(DGB_set_gro(g->b, 0), 1);
	ck_assert_int_eq(DGB_get_gro(g->b), 0);
	return g;
}

/* The BIO's first batched receive, on the empty socket: EAGAIN. */
static void first_receive(struct grun *g)
{
	size_t done = 9;

	ck_assert_int_eq(DGB_recvmmsg(g->b, g->m, sizeof(DGB_MSG), MAXMSG, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	ck_assert_int_eq(ERR_GET_LIB(ERR_peek_last_error()), ERR_LIB_SYS);
	ck_assert_int_eq(ERR_GET_REASON(ERR_peek_last_error()), EAGAIN);
	ERR_clear_error();
}

/*
 * grun_new() and the first batched receive, which turns GRO on (but for
 * PLAIN) unless plan_first, set before it, refuses an option.
 */
static struct grun *grun_open(int family, enum reader how, const char *plan_first)
{
	struct grun *g = grun_new(family, how);

	plan(plan_first != NULL ? plan_first : "");
	first_receive(g);
	if (plan_first == NULL)
		ck_assert_int_eq(DGB_get_gro(g->b), how != PLAIN);
	return g;
}

static void grun_close(struct grun *g)
{
	plan("");
	for (int i = 0; i < MAXMSG; i++)
		BIO_ADDR_free(g->peer[i]);
	BIO_free(g->b);
	if (g->tx >= 0)
		close(g->tx);
	close(g->fence);
	free(g);
	ERR_clear_error();
}

static void fill(unsigned char *p, uint32_t tag, uint32_t seq, uint32_t len)
{
	ck_assert(len == 0 || len >= HDR);
	if (len == 0)
		return;
	memcpy(p, &tag, 4);
	memcpy(p + 4, &seq, 4);
	memcpy(p + 8, &len, 4);
	for (size_t j = HDR; j < len; j++)
		p[j] = pattern(tag, seq, j);
}

/* One piece of the mix: one send, segmented if it has more than one datagram. */
static void send_piece(struct grun *g, const struct piece *pc)
{
	static unsigned char data[65536];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	size_t len = (size_t)(pc->nseg - 1) * pc->seg + pc->last, off = 0;
	struct iovec iov = { data, len };
	struct msghdr mh = { .msg_name = &g->rxaddr, .msg_namelen = tu_addr_len(&g->rxaddr),
			     .msg_iov = &iov, .msg_iovlen = 1 };

	for (unsigned int i = 0; i < pc->nseg; i++) {
		uint32_t seglen = i + 1 < pc->nseg ? pc->seg : pc->last;
		struct dgram *w = &g->want[g->nwant++];

		ck_assert_uint_le(g->nwant, MAXWANT);
		w->seq = seglen > 0 ? g->next_seq++ : NO_SEQ;
		w->len = seglen;
		w->intact = 1;
		fill(data + off, g->tag, w->seq, seglen);
		off += seglen;
	}
	if (pc->nseg > 1) {
		uint16_t seg = (uint16_t)pc->seg;
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	}
	ck_assert_msg(sendmsg(g->tx, &mh, 0) == (ssize_t)len, "sending %zu bytes: %s", len,
		      strerror(errno));
	g->bytes += len;
}

/*
 * A whole mix, all queued on the BIO's socket before this returns: loopback
 * delivers each datagram within its send, in order, and a datagram sent
 * last to another socket (the fence) has arrived when this returns.
 */
static void send_mix(struct grun *g, enum mix which)
{
	struct pollfd p = { .fd = g->fence, .events = POLLIN };
	char c = 'f';

	g->mix = which;
	for (size_t i = 0; i < mixes[which].n; i++) {
		const struct piece *pc = &mixes[which].p[i];

		send_piece(g, pc);
		g->trains++;
		if (pc->nseg > 1) {
			g->gro_trains++;
			g->gro_segments += pc->nseg;
		}
	}
	ck_assert_int_eq(sendto(g->tx, &c, 1, 0, &g->fenceaddr.sa, tu_addr_len(&g->fenceaddr)), 1);
	ck_assert_int_eq(poll(&p, 1, 1000), 1);
	ck_assert_int_eq(recv(g->fence, &c, 1, MSG_DONTWAIT), 1);
}

/* --- receiving ------------------------------------------------------------ */

/* Note a received datagram, as it is: what the judge compares with the mix. */
static void note(struct grun *g, const unsigned char *p, size_t len)
{
	struct dgram *d;
	uint32_t tag, seq, hlen;

	ck_assert_msg(g->nlog < MAXLOG, "more than %d datagrams received", MAXLOG);
	d = &g->log[g->nlog++];
	d->len = (uint32_t)len;
	d->seq = NO_SEQ;
	d->intact = len == 0;
	if (len < HDR)
		return;
	memcpy(&tag, p, 4);
	memcpy(&seq, p + 4, 4);
	memcpy(&hlen, p + 8, 4);
	d->seq = seq;
	if (tag != g->tag || hlen != len)
		return;
	for (size_t j = HDR; j < len; j++)
		if (p[j] != pattern(tag, seq, j))
			return;
	d->intact = 1;
}

/* The sender of a received datagram, which must be the mix's. */
static void check_peer(const struct grun *g, const BIO_ADDR *a)
{
	unsigned char raw[16];
	size_t rawlen = 0;

	ck_assert_int_eq(BIO_ADDR_family(a), g->family);
	ck_assert_uint_eq(BIO_ADDR_rawport(a), g->family == AF_INET ? g->txaddr.sin.sin_port
								     : g->txaddr.sin6.sin6_port);
	ck_assert_int_eq(BIO_ADDR_rawaddress(a, raw, &rawlen), 1);
	if (g->family == AF_INET)
		ck_assert_mem_eq(raw, &g->txaddr.sin.sin_addr, 4);
	else
		ck_assert_mem_eq(raw, &g->txaddr.sin6.sin6_addr, 16);
}

/*
 * The errno of the error a batched receive raised: ERR_LIB_SYS's reason,
 * or the one BIO_R_NON_FATAL names, which must be how the module raises
 * it (dgb_err_raise_non_fatal_()).
 */
static int raised_errno(void)
{
	static const int named[] = { ECONNREFUSED, ENOBUFS, EHOSTUNREACH, ENOPROTOOPT };
	const char *data = NULL;
	int flags = 0;
	unsigned long e = ERR_peek_last_error_data(&data, &flags);

	ck_assert_msg(e != 0, "a failed receive raised no error");
	if (ERR_GET_LIB(e) == ERR_LIB_SYS) {
		int err = ERR_GET_REASON(e);

		ck_assert_msg(!dgb_err_raise_non_fatal_(err), "%s raised as a system error",
			      strerror(err));
		/* EINTR and EAGAIN: to be retried. */
		ck_assert_int_eq(DGB_err_is_non_fatal((unsigned int)e),
				 err == EINTR || err == EAGAIN);
		return err;
	}
	ck_assert_msg(DGB_err_is_non_fatal((unsigned int)e), "a fatal error: %s",
		      ERR_error_string(e, NULL));
	ck_assert_int_eq(ERR_GET_LIB(e), ERR_LIB_BIO);
	ck_assert_int_eq(ERR_GET_REASON(e), BIO_R_NON_FATAL);
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (data != NULL && (flags & ERR_TXT_STRING) &&
		    strcmp(data, strerror(named[i])) == 0) {
			ck_assert(dgb_err_raise_non_fatal_(named[i]));
			return named[i];
		}
	ck_abort_msg("BIO_R_NON_FATAL with '%s'", data != NULL ? data : "");
	return 0;
}

/*
 * One call of the reader: the datagrams it delivered (noted), or -1 with
 * the errno of its failure in *err.
 */
static int read_once(struct grun *g, int *err)
{
	size_t n = g->how == READ7 ? 7 : MAXMSG, done = 4242;
	int r;

	*err = 0;
	ERR_clear_error();
	if (g->how == READ1) {
		errno = 0;
		r = BIO_read(g->b, g->buf[0], BUFLEN);
		if (r >= 0) {
			note(g, g->buf[0], (size_t)r);
			/* The sender, as BIO_read() reports it: the BIO's peer. */
			ck_assert_int_gt(BIO_dgram_get_peer(g->b, g->peer[0]), 0);
			check_peer(g, g->peer[0]);
			return 1;
		}
		*err = errno;
		ck_assert_msg((BIO_should_retry(g->b) != 0) == (*err == EAGAIN || *err == EINTR),
			      "BIO_read: %s, retry flag %d", strerror(*err), BIO_should_retry(g->b));
		ERR_clear_error();
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		g->m[i].data_len = BUFLEN;
		g->m[i].flags = 0;
	}
	if (!DGB_recvmmsg(g->b, g->m, sizeof(DGB_MSG), n, 0, &done)) {
		ck_assert_uint_eq(done, 0);
		*err = raised_errno();
		ERR_clear_error();
		return -1;
	}
	ck_assert_msg(done >= 1 && done <= n, "%zu datagrams of %zu", done, n);
	for (size_t i = 0; i < done; i++) {
		note(g, g->buf[i], g->m[i].data_len);
		check_peer(g, g->m[i].peer);
	}
	return (int)done;
}

/*
 * Receive until an EAGAIN that no fault caused.  A failed call in which no
 * fault fired must be that EAGAIN, and then the socket must be empty (all
 * was queued before the first call, see send_mix()) and the BIO keep
 * nothing; one in which a fault fired must fail with the fault's errno,
 * fault_err (0: any).
 */
static void receive_all(struct grun *g, int fault_err)
{
	for (;;) {
		int before = faults("fired"), err, r;
		struct pollfd p = { .fd = g->rx, .events = POLLIN };

		ck_assert_msg(g->calls < MAX_CALLS, "%s: %zu datagrams of %zu in %d calls",
			      reader_names[g->how], g->nlog, g->nwant, g->calls);
		r = read_once(g, &err);
		g->calls++;
		if (r > 0)
			continue;
		g->errs[g->failed++] = err;
		if (faults("fired") > before) {
			/*
			 * BIO_read() absorbs an ICMP error and reads again, which
			 * may find the queue empty.
			 */
			int want = fault_err;

			if (g->how == READ1 && fault_err == ECONNREFUSED)
				want = EAGAIN;
			g->fault_failed++;
			ck_assert_msg(want == 0 || err == want,
				      "%s, call %d: %s where a fault injected %s",
				      reader_names[g->how], g->calls, strerror(err),
				      strerror(fault_err));
			continue;
		}
		ck_assert_msg(err == EAGAIN, "%s, call %d: %s, and no fault fired",
			      reader_names[g->how], g->calls, strerror(err));
		ck_assert_msg(poll(&p, 1, 0) == 0, "%s, call %d: EAGAIN while datagrams are queued",
			      reader_names[g->how], g->calls);
		ck_assert_int_eq(BIO_ctrl_pending(g->b), 0);
		return;
	}
}

/* What was received is the mix, exactly; *first gets the first difference. */
static int log_is(const struct grun *g, const struct dgram *want, size_t nwant, size_t *first)
{
	size_t i;

	for (i = 0; i < nwant && i < g->nlog; i++)
		if (!g->log[i].intact || g->log[i].len != want[i].len ||
		    g->log[i].seq != want[i].seq)
			break;
	*first = i;
	return i == nwant && g->nlog == nwant;
}

static void expect_mix(const struct grun *g, const char *what)
{
	const char *r = reader_names[g->how], *m = mixes[g->mix].name;
	size_t i;

	if (log_is(g, g->want, g->nwant, &i))
		return;
	if (i == g->nlog)
		ck_abort_msg("%s, %s, %s: %zu datagrams of %zu received (lost)", what, r, m, g->nlog,
			     g->nwant);
	if (i == g->nwant)
		ck_abort_msg("%s, %s, %s: %zu datagrams received, %zu sent (repeated)", what, r, m,
			     g->nlog, g->nwant);
	if (!g->log[i].intact)
		ck_abort_msg("%s, %s, %s: datagram %zu (#%u, %u bytes) is not as sent", what, r, m, i,
			     g->log[i].seq, g->log[i].len);
	ck_abort_msg("%s, %s, %s: datagram %zu is #%u of %u bytes where #%u of %u was due "
		     "(lost, repeated or reordered)",
		     what, r, m, i, g->log[i].seq, g->log[i].len, g->want[i].seq, g->want[i].len);
}

/*
 * The module's counters from c0 on say what the reader saw: the mix's
 * datagrams and bytes, once; a system call for every receive call and
 * every setsockopt() the interposer saw since the plan was set.
 */
static void expect_counted(const struct grun *g, const struct counters *c0)
{
	struct counters c1;

	counters_get(&c1);
	ck_assert_uint_eq(c1.datagrams - c0->datagrams, g->nwant);
	ck_assert_uint_eq(c1.bytes - c0->bytes, g->bytes);
	ck_assert_uint_eq(c1.syscalls - c0->syscalls,
			  (uint64_t)faults("recv-calls") + (uint64_t)faults("sockopt-calls"));
}

/* The receive calls of each sort a reader made since the plan was set. */
struct sorts {
	int calls, peeks, lists, takes, truncs;
};

static void sorts_get(struct sorts *s)
{
	s->calls = faults("recv-calls");
	s->peeks = faults("recv-peeks");
	s->lists = faults("recv-lists");
	s->takes = faults("recv-takes");
	s->truncs = faults("recv-truncs");
	ck_assert_int_eq(s->calls, s->peeks + s->lists + s->takes + s->truncs);
}

/*
 * A run without faults: the mix received exactly, each sort of call
 * counted in *s.
 */
static void baseline(int family, enum reader how, enum mix which, struct sorts *s, int *calls,
		     int *sockopts)
{
	struct grun *g = grun_open(family, how, NULL);
	struct counters c0;

	send_mix(g, which);
	counters_get(&c0);
	plan("");
	receive_all(g, EAGAIN);
	expect_mix(g, "no fault");
	expect_counted(g, &c0);
	sorts_get(s);
	ck_assert_int_eq(g->failed, 1);
	ck_assert_int_eq(faults("fired"), 0);
	*calls = g->calls;
	*sockopts = faults("sockopt-calls");
	grun_close(g);
}

/* --- the sweeps ------------------------------------------------------------ */

/*
 * A fault of each sort at each position N: "kind:N:arg", or for a burst
 * "kind:N-M:arg" with M = N + burst (7: exhausting the module's eight
 * tries at a removal); then_kind, if set, adds "then_kind:N+1:then_arg"
 * (a short receive followed by an error on the next call).  For kind
 * "sockopt", arg is "L.O" and the rule "sockopt:L.O@N:E", E being err's
 * name.  count: the sort whose calls bound N.  err: the errno the faults
 * inject (0: none).  once: the fault fires exactly once when N is within
 * the count (a short that took all there was does not fire).  readers: a
 * bit per reader the sweep runs with.
 */
struct sweep {
	const char *kind, *arg;
	unsigned int burst;
	const char *then_kind, *then_arg;
	const char *count;
	int err;
	int once;
	unsigned int readers;
};

#define ALL ((1u << READ32) | (1u << READ7) | (1u << READ1) | (1u << PLAIN))
#define GRO ((1u << READ32) | (1u << READ7) | (1u << READ1))

static const struct sweep sweeps[] = {
	{ "recv", "EINTR", 0, NULL, NULL, "recv-calls", EINTR, 1, ALL },
	{ "recv", "ECONNREFUSED", 0, NULL, NULL, "recv-calls", ECONNREFUSED, 1, ALL },
	{ "recvpeek", "EINTR", 0, NULL, NULL, "recv-peeks", EINTR, 1, GRO },
	{ "recvpeek", "ECONNREFUSED", 0, NULL, NULL, "recv-peeks", ECONNREFUSED, 1, GRO },
	{ "recvpeek", "EAGAIN", 0, NULL, NULL, "recv-peeks", EAGAIN, 1, GRO },
	{ "recvlist", "EINTR", 0, NULL, NULL, "recv-lists", EINTR, 1, GRO },
	{ "recvlist", "ECONNREFUSED", 0, NULL, NULL, "recv-lists", ECONNREFUSED, 1, GRO },
	{ "recvlist", "EAGAIN", 0, NULL, NULL, "recv-lists", EAGAIN, 1, GRO },
	{ "recvtake", "EINTR", 0, NULL, NULL, "recv-takes", EINTR, 1, ALL },
	{ "recvtake", "ECONNREFUSED", 0, NULL, NULL, "recv-takes", ECONNREFUSED, 1, ALL },
	{ "recvtake", "EAGAIN", 0, NULL, NULL, "recv-takes", EAGAIN, 1, ALL },
	/*
	 * A removal (the datagram was peeked, so the kernel cannot answer
	 * EAGAIN, which the module takes for "already gone"): tried again at
	 * once for EINTR and an ICMP error; for anything else, and after
	 * eight, the train is kept and the next call removes it first.
	 */
	{ "recvtrunc", "EINTR", 0, NULL, NULL, "recv-truncs", EINTR, 1, GRO },
	{ "recvtrunc", "ECONNREFUSED", 0, NULL, NULL, "recv-truncs", ECONNREFUSED, 1, GRO },
	{ "recvtrunc", "ENOMEM", 0, NULL, NULL, "recv-truncs", ENOMEM, 1, GRO },
	{ "recvtrunc", "EINTR", 7, NULL, NULL, "recv-truncs", EINTR, 0, GRO },
	{ "recvtrunc", "ECONNREFUSED", 7, NULL, NULL, "recv-truncs", ECONNREFUSED, 0, GRO },
	/* The kernel's recvmmsg() stops short, and reports an ICMP error next. */
	{ "recvshort", "1", 0, NULL, NULL, "recv-calls", 0, 0, ALL },
	{ "recvshort", "2", 0, "recv", "ECONNREFUSED", "recv-calls", ECONNREFUSED, 0, ALL },
	/*
	 * The switch between listing (SO_PEEK_OFF 0) and reading the head
	 * (SO_PEEK_OFF -1) refused once, after the option was taken at first:
	 * the kernel does not, but a receive refused before it starts must lose
	 * nothing either way.  The error is the module's usual one for EPERM.
	 */
	{ "sockopt", "1.42", 0, NULL, NULL, "sockopt-calls", EPERM, 1, GRO },
};

#define NSWEEPS (sizeof(sweeps) / sizeof(sweeps[0]))

/* The plan of sweep sw at position n. */
static void sweep_spec(const struct sweep *sw, unsigned int n, char *spec, size_t size)
{
	int len;

	if (strcmp(sw->kind, "sockopt") == 0)
		len = snprintf(spec, size, "sockopt:%s@%u:%s", sw->arg, n,
			       sw->err == EPERM ? "EPERM" : "?");
	else if (sw->burst > 0)
		len = snprintf(spec, size, "%s:%u-%u:%s", sw->kind, n, n + sw->burst, sw->arg);
	else
		len = snprintf(spec, size, "%s:%u:%s", sw->kind, n, sw->arg);
	ck_assert(len > 0 && (size_t)len < size);
	if (sw->then_kind != NULL)
		len += snprintf(spec + len, size - (size_t)len, ",%s:%u:%s", sw->then_kind, n + 1,
				sw->then_arg);
	ck_assert((size_t)len < size);
}

static int sort_count(const struct sorts *s, int sockopts, const char *count)
{
	if (strcmp(count, "recv-peeks") == 0)
		return s->peeks;
	if (strcmp(count, "recv-lists") == 0)
		return s->lists;
	if (strcmp(count, "recv-takes") == 0)
		return s->takes;
	if (strcmp(count, "recv-truncs") == 0)
		return s->truncs;
	if (strcmp(count, "sockopt-calls") == 0)
		return sockopts;
	return s->calls;
}

/* The sweeps' runs: a sweep with a reader each, for both mixes. */
static unsigned int nruns;
static struct {
	unsigned char sweep, reader;
} runs[NSWEEPS * READERS];

static void runs_list(void)
{
	nruns = 0;
	for (unsigned int i = 0; i < NSWEEPS; i++)
		for (unsigned int r = 0; r < READERS; r++)
			if (sweeps[i].readers & (1u << r)) {
				runs[nruns].sweep = (unsigned char)i;
				runs[nruns].reader = (unsigned char)r;
				nruns++;
			}
}

/*
 * The ICMP errors injected (fired) against what the module counted, c1 -
 * c0: each one is counted, whether a call failed with it, BIO_read()
 * absorbed it, or it ended a DGB_recvmmsg() that had delivered datagrams
 * already (the kernel clears it as it reports it, so that is its only
 * trace).
 */
static void expect_icmp_counted(const struct grun *g, const struct counters *c0, int fired,
				const char *spec)
{
	struct counters c1;

	counters_get(&c1);
	ck_assert_msg(c1.icmp - c0->icmp == (uint64_t)fired,
		      "%s, %s: %d ICMP errors injected, %llu counted", spec,
		      reader_names[g->how], fired, (unsigned long long)(c1.icmp - c0->icmp));
}

/* Sweep sw with a reader and a mix: a run without faults, then N = 1, 2, ... */
static void sweep_mix(int family, const struct sweep *sw, enum reader how, enum mix which)
{
	struct sorts s;
	int base_calls, sockopts, k;

	baseline(family, how, which, &s, &base_calls, &sockopts);
	k = sort_count(&s, sockopts, sw->count);
	for (unsigned int n = 1; n <= (unsigned int)k + 1; n++) {
		struct grun *g = grun_open(family, how, NULL);
		struct counters c0;
		char spec[96];
		int fired;

		sweep_spec(sw, n, spec, sizeof(spec));
		send_mix(g, which);
		counters_get(&c0);
		plan(spec);
		receive_all(g, sw->err);
		expect_mix(g, spec);
		expect_counted(g, &c0);
		fired = faults("fired");
		if (sw->err == ECONNREFUSED && sw->then_kind == NULL)
			expect_icmp_counted(g, &c0, fired, spec);
		if (sw->once)
			ck_assert_msg(fired == (n <= (unsigned int)k), "%s, %s, %s: %d faults fired",
				      spec, reader_names[how], mixes[which].name, fired);
		/* A failed call for each fault at most, and a few calls more for each. */
		ck_assert_msg(g->fault_failed <= fired, "%s, %s, %s: %d calls failed, %d faults",
			      spec, reader_names[how], mixes[which].name, g->fault_failed, fired);
		ck_assert_msg(g->calls <= base_calls + 3 * fired,
			      "%s, %s, %s: %d calls, %d without faults", spec, reader_names[how],
			      mixes[which].name, g->calls, base_calls);
		ck_assert_int_eq(DGB_get_gro(g->b), how != PLAIN);
		grun_close(g);
	}
}

static void sweep(int family, int idx)
{
	for (int m = 0; m < MIXES; m++)
		sweep_mix(family, &sweeps[runs[idx].sweep], (enum reader)runs[idx].reader,
			  (enum mix)m);
}

/* --- the cases ------------------------------------------------------------- */

/*
 * The interposer stands in for the C library's receive calls and
 * setsockopt() in the module, and reads its receive rules.
 */
START_TEST(test_interposer_reaches_module_rx)
{
	static const char *const names[] = { "recvmsg", "recvmmsg", "recvfrom", "setsockopt" };
	static const char *const bad[] = { "recv:x:EINTR",	  "recv:0:EINTR",
					   "recv:3-2:EINTR",	  "recv:1-:EINTR",
					   "recvpeek:1:EBOGUS",	  "recvshort:1:0",
					   "sockopt:1:EINTR",	  "sockopt:1.x:EINTR",
					   "sockopt:1.42",	  "recvlists:1:EINTR" };
	const void *const ours[] = { (const void *)recvmsg, (const void *)recvmmsg,
				     (const void *)recvfrom, (const void *)setsockopt };
	struct grun *g;
	int one = 1;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(dlsym(RTLD_DEFAULT, names[i]) == ours[i],
			      "%s is not this program's (tests/fault.sym)", names[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(dgb_fault_plan(bad[i]) == -1 && errno == EINVAL, "'%s' was taken",
			      bad[i]);
	plan("recv:1-2:EINTR,recvtrunc:3+:ENOMEM,recvshort:1:5,sockopt:1.42:EPERM");
	ck_assert_int_eq(faults("fired"), 0);

	/* setsockopt(): the rule's option only. */
	g = grun_open(AF_INET, READ32, NULL);
	plan("sockopt:1.42:EPERM");
	ck_assert_int_eq(setsockopt(g->tx, SOL_SOCKET, SO_PEEK_OFF, &one, sizeof(one)), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(setsockopt(g->tx, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_int_eq(faults("sockopt-calls"), 2);
	ck_assert_int_eq(faults("fired"), 1);

	/* A receive fault reaches the module and takes nothing. */
	send_mix(g, MIX_HEAD);
	plan("recv:1-2:EINTR");
	receive_all(g, EINTR);
	expect_mix(g, "recv:1-2:EINTR");
	ck_assert_int_eq(faults("fired"), 2);
	ck_assert_int_eq(g->fault_failed, 2);
	ck_assert_int_eq(g->errs[0], EINTR);
	ck_assert_int_eq(g->errs[1], EINTR);
	grun_close(g);
}
END_TEST

/*
 * Errors surface as the module's own, and the next call goes on: the
 * first receive call of a DGB_recvmmsg() fails with EINTR or EAGAIN
 * (ERR_LIB_SYS, retried) or ECONNREFUSED (BIO_R_NON_FATAL, counted among
 * the ICMP errors), having delivered nothing; the next delivers the first
 * 32 datagrams.  BIO_read() absorbs up to seven ICMP errors in a row,
 * counting each, and returns the eighth (no retry flag); it returns EINTR
 * with a retry flag.
 */
static void errors_surface(int family, int idx)
{
	static const int errs[] = { EINTR, EAGAIN, ECONNREFUSED };
	struct grun *g;
	struct counters c0, c1;
	int err;

	if (idx < 3) {
		char spec[64];

		g = grun_open(family, READ32, NULL);
		send_mix(g, MIX_HEAD);
		snprintf(spec, sizeof(spec), "recv:1:%s",
			 idx == 0 ? "EINTR" : idx == 1 ? "EAGAIN" : "ECONNREFUSED");
		counters_get(&c0);
		plan(spec);
		ck_assert_int_eq(read_once(g, &err), -1);
		ck_assert_int_eq(err, errs[idx]);
		ck_assert_int_eq(g->nlog, 0);
		counters_get(&c1);
		ck_assert_uint_eq(c1.icmp - c0.icmp, errs[idx] == ECONNREFUSED);
		ck_assert_int_eq(read_once(g, &err), 32);
		receive_all(g, 0);
		expect_mix(g, spec);
		ck_assert_int_eq(faults("fired"), 1);
		grun_close(g);
		return;
	}
	/*
	 * BIO_read(): 8 ICMP errors returned, EINTR returned, 7 absorbed.  Each
	 * at the head peek of the 40-datagram train: the first read keeps the
	 * other 39, which the next reads deliver without a system call.
	 */
	g = grun_open(family, READ1, NULL);
	send_mix(g, MIX_HEAD);
	counters_get(&c0);
	plan("recv:1-8:ECONNREFUSED");
	ck_assert_int_eq(read_once(g, &err), -1);
	ck_assert_int_eq(err, ECONNREFUSED);
	counters_get(&c1);
	ck_assert_uint_eq(c1.icmp - c0.icmp, 8);
	plan("recv:1:EINTR");
	ck_assert_int_eq(read_once(g, &err), -1);
	ck_assert_int_eq(err, EINTR);
	plan("recv:1-7:ECONNREFUSED");
	ck_assert_int_eq(read_once(g, &err), 1);
	ck_assert_int_eq(faults("fired"), 7);
	counters_get(&c0);
	ck_assert_uint_eq(c0.icmp - c1.icmp, 7);
	plan("recv:1+:ECONNREFUSED");
	ck_assert_int_eq(read_once(g, &err), 1);
	ck_assert_int_eq(faults("fired"), 0);
	plan("");
	receive_all(g, 0);
	expect_mix(g, "BIO_read");
	grun_close(g);
}

/*
 * UDP_GRO refused (a kernel before 5.0, or one that forbids it): GRO stays
 * off, and the plain path delivers every datagram of the trains, which the
 * kernel splits.  idx 0: refused at the first batched receive, which then
 * decides for good: the option is not tried again.  idx 1: refused at
 * DGB_set_gro(b, 1), which fails and leaves the BIO undecided, so the
 * first batched receive tries once more.
 */
static void gro_refused(int family, int idx)
{
	const char *spec = "sockopt:17.104:ENOPROTOOPT";
	struct grun *g;
	struct counters c0, c1;
	int tries = idx + 1;

	if (idx == 0) {
		g = grun_open(family, READ32, spec);
	} else {
		g = grun_new(family, READ32);
		plan(spec);
		ck_assert_int_eq(DGB_set_gro(g->b, 1), 0);
		ERR_clear_error();
		ck_assert_int_eq(faults("fired"), 1);
		ck_assert_int_eq(DGB_get_gro(g->b), 0);
		first_receive(g);
	}
	ck_assert_int_eq(faults("fired"), tries);
	ck_assert_int_eq(DGB_get_gro(g->b), 0);
	send_mix(g, MIX_HEAD);
	counters_get(&c0);
	receive_all(g, EAGAIN);
	expect_mix(g, spec);
	counters_get(&c1);
	ck_assert_uint_eq(c1.datagrams - c0.datagrams, g->nwant);
	ck_assert_uint_eq(c1.gro_receives - c0.gro_receives, 0);
	/* Never asked again; no peeking, nothing to remove. */
	ck_assert_int_eq(faults("fired"), tries);
	ck_assert_int_eq(faults("recv-peeks") + faults("recv-lists") + faults("recv-truncs"), 0);
	ck_assert_int_eq(DGB_get_gro(g->b), 0);
	grun_close(g);
}

/*
 * SO_PEEK_OFF refused (idx 0), or SO_RXQ_OVFL (idx 1), when GRO goes on,
 * and for good: GRO is on all the same and every datagram is delivered.
 * Without SO_PEEK_OFF the queue cannot be listed: each train is read
 * alone, a peek and a removal for each of the six, and peeks that find the
 * queue empty (one for BIO_read(), two for DGB_recvmmsg(), whose second
 * call ends in one too), never a list or a take, and the option is not
 * tried again.  Without SO_RXQ_OVFL nothing changes.  idx 2, 3: the same
 * with BIO_read().
 */
static void option_refused(int family, int idx)
{
	static const char *const plans[] = { "sockopt:1.42:EOPNOTSUPP", "sockopt:1.40:ENOPROTOOPT" };
	enum reader how = idx < 2 ? READ32 : READ1;
	const char *spec = plans[idx % 2];
	struct grun *g = grun_open(family, how, spec);
	struct counters c0, c1;
	struct sorts s;

	ck_assert_int_eq(faults("fired"), 1);
	ck_assert_int_eq(DGB_get_gro(g->b), 1);
	send_mix(g, MIX_HEAD);
	counters_get(&c0);
	plan(spec);
	receive_all(g, EAGAIN);
	expect_mix(g, spec);
	expect_counted(g, &c0);
	counters_get(&c1);
	ck_assert_uint_eq(c1.gro_receives - c0.gro_receives, g->gro_trains);
	ck_assert_uint_eq(c1.gro_segments - c0.gro_segments, g->gro_segments);
	sorts_get(&s);
	if (idx % 2 == 0) {
		ck_assert_int_eq(s.truncs, (int)g->trains);
		ck_assert_int_eq(s.lists, 0);
		ck_assert_int_eq(s.takes, 0);
		ck_assert_int_eq(s.peeks, (int)g->trains + (how == READ32 ? 2 : 1));
		ck_assert_int_eq(faults("sockopt-calls"), 0);
		ck_assert_int_eq(faults("fired"), 0);
	} else if (how == READ32) {
		ck_assert_int_gt(s.lists, 0);
		ck_assert_int_gt(s.takes, 0);
	}
	ck_assert_int_eq(DGB_get_gro(g->b), 1);
	grun_close(g);
}

/*
 * A removal that fails with an error not tried again (ENOMEM), or eight
 * times (EINTR, ECONNREFUSED): the train, all delivered, is kept, and the
 * next call removes it before anything else.  With sixteen failures that
 * next call fails too, having delivered nothing, with the removal's error,
 * and the one after goes on.  idx: 0 ENOMEM once, 1 EINTR x 8, 2
 * ECONNREFUSED x 8, 3 EINTR x 16, 4 ECONNREFUSED x 16; the first train's
 * removal, by DGB_recvmmsg() into 32: the first call delivers 32 of its
 * 40, the second the other 8 and then cannot remove it.
 */
static void removal_kept(int family, int idx)
{
	static const char *const plans[] = { "recvtrunc:1:ENOMEM", "recvtrunc:1-8:EINTR",
					     "recvtrunc:1-8:ECONNREFUSED", "recvtrunc:1-16:EINTR",
					     "recvtrunc:1-16:ECONNREFUSED" };
	static const int errs[] = { ENOMEM, EINTR, ECONNREFUSED, EINTR, ECONNREFUSED };
	struct grun *g = grun_open(family, READ32, NULL);
	struct counters c0;
	struct pollfd p;
	int err;

	send_mix(g, MIX_HEAD);
	counters_get(&c0);
	plan(plans[idx]);
	ck_assert_int_eq(read_once(g, &err), 32);
	ck_assert_int_eq(read_once(g, &err), 8);
	ck_assert_int_eq(faults("recv-truncs"), idx == 0 ? 1 : 8);
	/* All delivered, none pending, and still on the socket. */
	ck_assert_int_eq(BIO_ctrl_pending(g->b), 0);
	p.fd = g->rx;
	p.events = POLLIN;
	ck_assert_int_eq(poll(&p, 1, 0), 1);
	g->calls = 2;
	if (idx >= 3) {
		ck_assert_int_eq(read_once(g, &err), -1);
		ck_assert_int_eq(err, errs[idx]);
		ck_assert_int_eq(faults("recv-truncs"), 16);
		ck_assert_int_eq(faults("recv-calls"), faults("recv-truncs") + 2);
	}
	receive_all(g, errs[idx]);
	expect_mix(g, plans[idx]);
	expect_counted(g, &c0);
	grun_close(g);
}

/*
 * The judge finds a train left on the socket after delivery.  A removal
 * answered EAGAIN, which the kernel says only of an empty queue (another
 * reader took the train), so the module takes the train for gone (were it
 * kept instead, a train really gone could never be removed, and the BIO
 * would deliver nothing more) and reads it again: what a removal whose
 * failure were ignored would do.  The first train comes twice, whole, and
 * the rest once, in order, and the judge says so.  idx 0: DGB_recvmmsg()
 * into 32; 1: BIO_read().
 */
static void left_on_socket(int family, int idx)
{
	struct grun *g = grun_open(family, idx == 0 ? READ32 : READ1, NULL);
	struct dgram twice[MAXWANT + 40];
	size_t first;

	send_mix(g, MIX_HEAD);
	plan("recvtrunc:1:EAGAIN");
	receive_all(g, 0);
	ck_assert_int_eq(faults("fired"), 1);
	memcpy(twice, g->want, 40 * sizeof(twice[0]));
	memcpy(twice + 40, g->want, g->nwant * sizeof(twice[0]));
	ck_assert_msg(!log_is(g, g->want, g->nwant, &first) && first == 40,
		      "the judge did not see the train twice (first difference at %zu)", first);
	ck_assert_msg(log_is(g, twice, g->nwant + 40, &first),
		      "not the first train twice and the rest once (first difference at %zu)",
		      first);
	grun_close(g);
}

/*
 * A real ICMP error, as the interposer's ECONNREFUSED plays one: the BIO's
 * socket is connected to the sender, which closes once the mix is queued;
 * a datagram to its port brings back a port unreachable, which the kernel
 * holds on the socket and returns, once, from the next receive, before any
 * datagram.  idx 0: DGB_recvmmsg() into 32 fails with it (BIO_R_NON_FATAL)
 * and the next calls deliver the mix; idx 1: BIO_read() absorbs it.  Both
 * count it.
 */
static void real_icmp(int family, int idx)
{
	struct grun *g = grun_new(family, idx == 0 ? READ32 : READ1);
	struct counters c0, c1;
	struct pollfd p;
	int err;

	/* The kernel reports ICMP errors on a connected socket (without IP_RECVERR). */
	ck_assert_int_eq(connect(g->rx, &g->txaddr.sa, tu_addr_len(&g->txaddr)), 0);
	plan("");
	first_receive(g);
	ck_assert_int_eq(DGB_get_gro(g->b), 1);
	send_mix(g, MIX_HEAD);
	close(g->tx);
	g->tx = -1;
	ck_assert_int_eq(send(g->rx, "x", 1, 0), 1);
	p.fd = g->rx;
	p.events = 0;
	ck_assert_int_eq(poll(&p, 1, 1000), 1);
	ck_assert(p.revents & POLLERR);
	counters_get(&c0);
	if (idx == 0) {
		ck_assert_int_eq(read_once(g, &err), -1);
		ck_assert_int_eq(err, ECONNREFUSED);
		ck_assert_int_eq(g->nlog, 0);
	}
	receive_all(g, 0);
	expect_mix(g, "a port unreachable");
	counters_get(&c1);
	ck_assert_uint_eq(c1.icmp - c0.icmp, 1);
	ck_assert_int_eq(faults("fired"), 0);
	grun_close(g);
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

BOTH_FAMILIES(sweep)
BOTH_FAMILIES(errors_surface)
BOTH_FAMILIES(gro_refused)
BOTH_FAMILIES(option_refused)
BOTH_FAMILIES(removal_kept)
BOTH_FAMILIES(left_on_socket)
BOTH_FAMILIES(real_icmp)

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

/* Whether the kernel takes UDP_GRO; *why says why not. */
static int kernel_has_gro(const char **why)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1, ok;

	if (fd < 0) {
		*why = strerror(errno);
		return 0;
	}
	ok = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	*why = ok ? "" : strerror(errno);
	close(fd);
	return ok;
}

Suite *suite_gro_faults(void)
{
	Suite *s = suite_create("gro_faults");
	TCase *tc = tcase_create("faults");
	const char *why;

	if (!kernel_has_gro(&why)) {
		fprintf(stderr, "SKIP gro_faults: the kernel does not take UDP_GRO (%s)\n", why);
		suite_add_tcase(s, tc);
		return s;
	}
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_interposer_reaches_module_rx);
	ADD_BOTH(tc, errors_surface, 4);
	ADD_BOTH(tc, gro_refused, 2);
	ADD_BOTH(tc, option_refused, 4);
	ADD_BOTH(tc, removal_kept, 5);
	ADD_BOTH(tc, left_on_socket, 2);
	ADD_BOTH(tc, real_icmp, 2);
	runs_list();
	ADD_BOTH(tc, sweep, (int)nruns);
	suite_add_tcase(s, tc);
	return s;
}
