/*
 * test_dgram.c - the differential conformance suite of the datagram BIO.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every scenario runs twice on fresh loopback sockets, once with OpenSSL's
 * BIO_s_datagram and once with the module's method, and the outcomes
 * (return values, data, peer addresses, retry flags, errors on the stack)
 * must be equal.  The assertions inside the scenarios hold for both, so a
 * behaviour that both got wrong in the same way would still fail.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>
#include <sys/un.h>

#include <openssl/err.h>

#include "dgrambatch.h"
#include "dgram_diff.h"

#define REC(label, expr) tr_long(t, (label), (long)(expr))

static long elapsed_ms(const struct timeval *since)
{
	struct timeval now, d;

	gettimeofday(&now, NULL);
	timersub(&now, since, &d);
	return d.tv_sec * 1000 + d.tv_usec / 1000;
}

static void set_peer(BIO *b, const union tu_addr *a)
{
	BIO_ADDR *ap = env_bio_addr(a);

	ck_assert_int_eq(BIO_dgram_set_peer(b, ap), 1);
	BIO_ADDR_free(ap);
}

static void rec_peer(struct tr *t, const char *label, const struct env *e, BIO *b)
{
	BIO_ADDR *ap = BIO_ADDR_new();
	char l[64];

	snprintf(l, sizeof(l), "%s: get_peer", label);
	REC(l, BIO_dgram_get_peer(b, ap));
	tr_addr(t, label, e, ap);
	BIO_ADDR_free(ap);
}

static long bio_read_rec(struct tr *t, const char *label, BIO *b, char *buf, int len)
{
	int r = BIO_read(b, buf, len);
	char l[64];

	snprintf(l, sizeof(l), "%s: return", label);
	REC(l, r);
	if (r > 0)
		tr_mem(t, label, buf, r);
	snprintf(l, sizeof(l), "%s: retry", label);
	tr_retry(t, l, b);
	tr_errors(t, label);
	return r;
}

static long bio_write_rec(struct tr *t, const char *label, BIO *b, const void *buf, int len)
{
	int r = BIO_write(b, buf, len);
	char l[64];

	snprintf(l, sizeof(l), "%s: return", label);
	REC(l, r);
	snprintf(l, sizeof(l), "%s: retry", label);
	tr_retry(t, l, b);
	tr_errors(t, label);
	return r;
}

/* --- reads and writes ----------------------------------------------------- */

static void rw(struct env *e, struct tr *t, int family)
{
	int fa = env_udp(e, family), fb = env_udp(e, family);
	BIO *ba = env_bio(e, fa, BIO_CLOSE), *bb = env_bio(e, fb, BIO_CLOSE);
	char buf[256], big[100];

	set_peer(ba, &e->addrs[1]);
	ck_assert_int_eq(bio_write_rec(t, "write", ba, "hello", 5), 5);
	ck_assert_int_eq(bio_read_rec(t, "read", bb, buf, sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	rec_peer(t, "peer learnt by read", e, bb);

	ck_assert_int_eq(BIO_puts(ba, "a line"), 6);
	REC("puts", 6);
	ck_assert_int_eq(bio_read_rec(t, "read puts", bb, buf, sizeof(buf)), 6);

	/* The reply goes to the peer the read learnt. */
	ck_assert_int_eq(bio_write_rec(t, "reply", bb, "back", 4), 4);
	ck_assert_int_eq(bio_read_rec(t, "read reply", ba, buf, sizeof(buf)), 4);

	/*
	 * A zero-length datagram: BIO_write(b, p, 0) returns 0 before the
	 * method is called; BIO_write_ex reaches it and sends one.
	 */
	REC("BIO_write 0", BIO_write(ba, "", 0));
	{
		size_t w = 99;

		REC("BIO_write_ex 0", BIO_write_ex(ba, "", 0, &w));
		REC("BIO_write_ex 0 written", w);
	}
	ck_assert_int_eq(bio_read_rec(t, "read empty", bb, buf, sizeof(buf)), 0);

	/* A short buffer silently truncates; the rest of the datagram is gone. */
	for (int i = 0; i < (int)sizeof(big); i++)
		big[i] = (char)i;
	ck_assert_int_eq(bio_write_rec(t, "write 100", ba, big, sizeof(big)), 100);
	ck_assert_int_eq(bio_read_rec(t, "read 10 of 100", bb, buf, 10), 10);
	ck_assert_mem_eq(buf, big, 10);
	bio_write_rec(t, "write next", ba, "next", 4);
	ck_assert_int_eq(bio_read_rec(t, "read next", bb, buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, "next", 4);
	REC("pending", BIO_pending(bb));
	REC("wpending", BIO_wpending(bb));
}

static void sc_rw_ipv4(struct env *e, struct tr *t)
{
	rw(e, t, AF_INET);
}

static void sc_rw_ipv6(struct env *e, struct tr *t)
{
	rw(e, t, AF_INET6);
}

/*
 * The documented hazard: on an unconnected socket a read from anyone
 * replaces the peer, and the next write goes there.
 */
static void sc_hazard(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET), fb = env_udp(e, AF_INET), fc = env_udp(e, AF_INET);
	BIO *bb = env_bio(e, fb, BIO_NOCLOSE);
	char buf[64];

	set_peer(bb, &e->addrs[0]);
	rec_peer(t, "peer set", e, bb);
	ck_assert_int_eq(sendto(fc, "from c", 6, 0, &e->addrs[1].sa, sizeof(e->addrs[1].sin)), 6);
	ck_assert_int_eq(bio_read_rec(t, "read from c", bb, buf, sizeof(buf)), 6);
	rec_peer(t, "peer after read", e, bb);
	ck_assert_int_eq(bio_write_rec(t, "write", bb, "to whom", 7), 7);
	REC("c received", raw_recv(fc, buf, sizeof(buf)));
	REC("a received", recv(fa, buf, sizeof(buf), MSG_DONTWAIT));
}

/*
 * A socket connected with connect(2): BIO_ctrl_set_connected makes the BIO
 * use send/recv and keep its peer; NULL makes it unconnected again.
 */
static void sc_connected(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET), fb = env_udp(e, AF_INET), fc = env_udp(e, AF_INET);
	BIO *ba;
	BIO_ADDR *pb = env_bio_addr(&e->addrs[1]);
	char buf[64];

	ck_assert_int_eq(connect(fa, &e->addrs[1].sa, sizeof(e->addrs[1].sin)), 0);
	ba = env_bio(e, fa, BIO_NOCLOSE);
	REC("set_connected", BIO_ctrl_set_connected(ba, pb));
	rec_peer(t, "peer", e, ba);
	ck_assert_int_eq(bio_write_rec(t, "write", ba, "conn", 4), 4);
	REC("b received", raw_recv(fb, buf, sizeof(buf)));
	/* The kernel drops what C sends; B's reply is read and the peer kept. */
	sendto(fc, "c", 1, 0, &e->addrs[0].sa, sizeof(e->addrs[0].sin));
	sendto(fb, "from b", 6, 0, &e->addrs[0].sa, sizeof(e->addrs[0].sin));
	ck_assert_int_eq(bio_read_rec(t, "read", ba, buf, sizeof(buf)), 6);
	rec_peer(t, "peer after read", e, ba);
	REC("set_connected NULL", BIO_ctrl_set_connected(ba, NULL));
	rec_peer(t, "peer after NULL", e, ba);
	BIO_ADDR_free(pb);
}

/* BIO_ctrl_dgram_connect is set_peer: the socket does not get connected. */
static void sc_dgram_connect(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET), fb = env_udp(e, AF_INET);
	BIO *ba = env_bio(e, fa, BIO_NOCLOSE);
	BIO_ADDR *pb = env_bio_addr(&e->addrs[1]);
	union tu_addr x;
	socklen_t len = sizeof(x);
	char buf[16];

	REC("dgram_connect", BIO_ctrl_dgram_connect(ba, pb));
	REC("getpeername", getpeername(fa, &x.sa, &len));
	REC("getpeername errno", errno);
	rec_peer(t, "peer", e, ba);
	ck_assert_int_eq(bio_write_rec(t, "write", ba, "x", 1), 1);
	REC("b received", raw_recv(fb, buf, sizeof(buf)));
	BIO_ADDR_free(pb);
}

/*
 * BIO_dgram_get_peer copies the peer's socket address: its size, or the
 * first num bytes when num is smaller.
 */
static void sc_get_peer_sizes(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET);
	BIO *ba = env_bio(e, fa, BIO_NOCLOSE);
	BIO_ADDR *ap = BIO_ADDR_new();
	union tu_addr v6;

	rec_peer(t, "unset", e, ba);
	set_peer(ba, &e->addrs[0]);
	REC("v4 size", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_PEER, 0, ap));
	REC("v4 first 4 bytes", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_PEER, 4, ap));
	REC("num larger than size", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_PEER, 1000, ap));
	memset(&v6, 0, sizeof(v6));
	v6.sin6.sin6_family = AF_INET6;
	v6.sin6.sin6_addr = in6addr_loopback;
	v6.sin6.sin6_port = htons(9);
	set_peer(ba, &v6);
	REC("v6 size", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_PEER, 0, ap));
	tr_addr(t, "v6 peer", e, ap);
	REC("v6 port", ntohs(BIO_ADDR_rawport(ap)));
	BIO_ADDR_clear(ap);
	REC("v6 first 4 bytes", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_PEER, 4, ap));
	REC("partial family", BIO_ADDR_family(ap));
	REC("partial port", ntohs(BIO_ADDR_rawport(ap)));
	tr_errors(t, "get_peer");
	BIO_ADDR_free(ap);
}

/* set_peer with an address of another family, or none. */
static void sc_wrong_family(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET);
	BIO *ba = env_bio(e, fa, BIO_NOCLOSE);
	BIO_ADDR *ap = BIO_ADDR_new();
	union tu_addr v6;

	memset(&v6, 0, sizeof(v6));
	v6.sin6.sin6_family = AF_INET6;
	v6.sin6.sin6_addr = in6addr_loopback;
	v6.sin6.sin6_port = htons(9);
	set_peer(ba, &v6);
	bio_write_rec(t, "v6 peer on a v4 socket", ba, "x", 1);
	REC("overhead", BIO_dgram_get_mtu_overhead(ba));
	REC("fallback mtu", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_FALLBACK_MTU, 0, NULL));

	/* A cleared BIO_ADDR (AF_UNSPEC) clears the peer (3.0 kept it). */
	REC("set_peer unspec", BIO_dgram_set_peer(ba, ap));
	TR_SINCE_32_BEGIN(t);
	rec_peer(t, "after unspec", e, ba);
	TR_SINCE_32_END(t);

	/* A path (AF_UNIX) address is taken; sending to it fails. */
	ck_assert(BIO_ADDR_rawmake(ap, AF_UNIX, "/nonexistent", 12, 0));
	REC("set_peer unix", BIO_dgram_set_peer(ba, ap));
	REC("get_peer unix", BIO_dgram_get_peer(ba, ap));
	REC("unix family", BIO_ADDR_family(ap));
	bio_write_rec(t, "unix peer", ba, "x", 1);
	REC("overhead unix", BIO_dgram_get_mtu_overhead(ba));
	tr_errors(t, "end");
	BIO_ADDR_free(ap);
}

/* --- descriptors ----------------------------------------------------------- */

static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void sc_fd_and_close(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET), fb = env_udp(e, AF_INET), fc;
	BIO *b = env_bio(e, -1, 0);
	int x = 12345;
	union tu_addr ca;

	REC("init before", BIO_get_init(b));
	REC("get_fd before", BIO_get_fd(b, &x));
	REC("get_fd before, out", x);
	REC("set_fd", BIO_set_fd(b, fa, BIO_NOCLOSE));
	REC("init after", BIO_get_init(b));
	REC("get_fd is fa", BIO_get_fd(b, &x) == fa);
	REC("get_fd out is fa", x == fa);
	REC("get_fd NULL is fa", BIO_get_fd(b, NULL) == fa);
	REC("get_close", BIO_get_close(b));
	REC("set_close", BIO_set_close(b, BIO_CLOSE));
	REC("get_close after", BIO_get_close(b));

	/* Attaching another fd closes the old one, which the BIO now owned. */
	REC("set_fd fb", BIO_set_fd(b, fb, BIO_NOCLOSE));
	REC("fa closed", !fd_open(fa));
	REC("fb open", fd_open(fb));
	REC("get_fd is fb", BIO_get_fd(b, NULL) == fb);
	REC("get_close", BIO_get_close(b));

	/* Freed with BIO_NOCLOSE leaves the fd open; with BIO_CLOSE closes it. */
	fc = tu_udp_loopback(AF_INET, &ca);
	{
		BIO *c = BIO_new(e->meth);

		REC("set_fd close", BIO_set_fd(c, fc, BIO_CLOSE));
		REC("free", BIO_free(c));
		REC("fc closed by free", !fd_open(fc));
		if (fd_open(fc))
			close(fc);
	}
	{
		BIO *c = BIO_new(e->meth);

		REC("set_fd noclose", BIO_set_fd(c, fb, BIO_NOCLOSE));
		REC("free", BIO_free(c));
		REC("fb open after free", fd_open(fb));
	}
	/* Re-setting the same BIO_NOCLOSE fd keeps it open. */
	REC("set_fd again", BIO_set_fd(b, fb, BIO_NOCLOSE));
	REC("fb still open", fd_open(fb));
	/* fa was closed through the BIO; keep the environment from closing it again. */
	e->fds[0] = -1;
	tr_errors(t, "end");
}

/* BIO_dup_chain: the copy shares the socket and starts with no peer. */
static void sc_dup(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET), fb = env_udp(e, AF_INET);
	BIO *b = env_bio(e, fa, BIO_NOCLOSE), *c;
	char buf[16];

	set_peer(b, &e->addrs[1]);
	c = BIO_dup_chain(b);
	ck_assert_ptr_nonnull(c);
	REC("dup init", BIO_get_init(c));
	REC("dup fd is fa", BIO_get_fd(c, NULL) == fa);
	REC("dup close flag", BIO_get_close(c));
	rec_peer(t, "dup peer", e, c);
	set_peer(c, &e->addrs[1]);
	bio_write_rec(t, "write through the copy", c, "dup", 3);
	REC("b received", raw_recv(fb, buf, sizeof(buf)));
	BIO_free(c);
	REC("original fd still open", fcntl(fa, F_GETFD) != -1);
	tr_errors(t, "end");
}

static void sc_misc_ctrls(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET);
	BIO *b = env_bio(e, fa, BIO_NOCLOSE);

	REC("reset", BIO_ctrl(b, BIO_CTRL_RESET, 0, NULL));
	REC("info", BIO_ctrl(b, BIO_CTRL_INFO, 0, NULL));
	REC("pending", BIO_ctrl(b, BIO_CTRL_PENDING, 0, NULL));
	REC("wpending", BIO_ctrl(b, BIO_CTRL_WPENDING, 0, NULL));
	REC("flush", BIO_flush(b));
	REC("dup", BIO_ctrl(b, BIO_CTRL_DUP, 0, NULL));
	REC("eof", BIO_eof(b));
	REC("unknown 1234", BIO_ctrl(b, 1234, 1, NULL));
	REC("unknown -1", BIO_ctrl(b, -1, 0, NULL));
	REC("push", BIO_ctrl(b, BIO_CTRL_PUSH, 0, NULL));
	REC("sctp msg waiting", BIO_ctrl(b, BIO_CTRL_DGRAM_SCTP_MSG_WAITING, 0, NULL));
	REC("method type", BIO_method_type(b));
	tr_errors(t, "end");
}

/* --- blocking, timeouts, retry -------------------------------------------- */

static void sc_nbio_eagain(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET);
	BIO *b = env_bio(e, fa, BIO_NOCLOSE);
	char buf[16];

	REC("set_nbio", BIO_set_nbio(b, 1));
	REC("O_NONBLOCK", (fcntl(fa, F_GETFL) & O_NONBLOCK) != 0);
	ck_assert_int_eq(bio_read_rec(t, "read", b, buf, sizeof(buf)), -1);
	ck_assert(BIO_should_retry(b) && BIO_should_read(b));
	REC("recv_timedout", BIO_dgram_recv_timedout(b));
	REC("recv_timedout again", BIO_dgram_recv_timedout(b));
	bio_read_rec(t, "read 2", b, buf, sizeof(buf));
	/* One flag behind both questions: the first to ask takes it. */
	REC("send_timedout", BIO_dgram_send_timedout(b));
	REC("recv_timedout after", BIO_dgram_recv_timedout(b));
	REC("set_nbio 0", BIO_set_nbio(b, 0));
	REC("O_NONBLOCK off", (fcntl(fa, F_GETFL) & O_NONBLOCK) != 0);
	tr_errors(t, "end");
}

/* The same through O_NONBLOCK set on the socket, which every version honours. */
static void sc_nonblocking_fd(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET);
	BIO *b = env_bio(e, fa, BIO_NOCLOSE);
	char buf[16];

	ck_assert_int_eq(fcntl(fa, F_SETFL, fcntl(fa, F_GETFL) | O_NONBLOCK), 0);
	ck_assert_int_eq(bio_read_rec(t, "read", b, buf, sizeof(buf)), -1);
	ck_assert(BIO_should_retry(b) && BIO_should_read(b));
	REC("recv_timedout", BIO_dgram_recv_timedout(b));
	REC("recv_timedout again", BIO_dgram_recv_timedout(b));
	bio_read_rec(t, "read 2", b, buf, sizeof(buf));
	REC("send_timedout", BIO_dgram_send_timedout(b));
	REC("recv_timedout after", BIO_dgram_recv_timedout(b));
	tr_errors(t, "end");
}

static void rec_timeout(struct tr *t, const char *label, BIO *b, int cmd)
{
	struct timeval tv = { 99, 99 };
	char l[64];

	snprintf(l, sizeof(l), "%s: return", label);
	REC(l, BIO_ctrl(b, cmd, 0, &tv));
	snprintf(l, sizeof(l), "%s: sec", label);
	REC(l, tv.tv_sec);
	snprintf(l, sizeof(l), "%s: usec", label);
	REC(l, tv.tv_usec);
	tr_errors(t, label);
}

static void timeouts(struct tr *t, BIO *b, int set, int get)
{
	struct timeval tv50 = { 0, 50000 }, zero = { 0, 0 }, max = { LONG_MAX / 4, 999999 };
	struct timeval bad = { 0, 1000000 }, neg = { -1, 0 };

	/* 3.0 answers 1 for a set and raises nothing when setsockopt fails. */
	TR_SINCE_32_BEGIN(t);
	REC("set 50ms", BIO_ctrl(b, set, 0, &tv50));
	TR_SINCE_32_END(t);
	tr_errors(t, "set 50ms");
	rec_timeout(t, "get 50ms", b, get);
	TR_SINCE_32_BEGIN(t);
	REC("set zero", BIO_ctrl(b, set, 0, &zero));
	TR_SINCE_32_END(t);
	rec_timeout(t, "get zero", b, get);
	TR_SINCE_32_BEGIN(t);
	REC("set max", BIO_ctrl(b, set, 0, &max));
	TR_SINCE_32_END(t);
	rec_timeout(t, "get max", b, get);
	TR_SINCE_32_BEGIN(t);
	REC("set usec 1000000", BIO_ctrl(b, set, 0, &bad));
	tr_errors(t, "set usec 1000000");
	REC("set negative", BIO_ctrl(b, set, 0, &neg));
	tr_errors(t, "set negative");
	TR_SINCE_32_END(t);
	rec_timeout(t, "get after negative", b, get);
	TR_SINCE_32_BEGIN(t);
	REC("set NULL", BIO_ctrl(b, set, 0, NULL));
	tr_errors(t, "set NULL");
	REC("get NULL", BIO_ctrl(b, get, 0, NULL));
	tr_errors(t, "get NULL");
	TR_SINCE_32_END(t);
}

static void sc_recv_timeout(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET);
	BIO *b = env_bio(e, fa, BIO_NOCLOSE);
	struct timeval tv = { 0, 50000 }, start;
	char buf[16];
	long ms;

	timeouts(t, b, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, BIO_CTRL_DGRAM_GET_RECV_TIMEOUT);

	/* A blocking read gives up after the timeout, retryable, timed out. */
	TR_SINCE_32_BEGIN(t);
	REC("set 50ms", BIO_ctrl(b, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv));
	TR_SINCE_32_END(t);
	gettimeofday(&start, NULL);
	ck_assert_int_eq(bio_read_rec(t, "read", b, buf, sizeof(buf)), -1);
	ms = elapsed_ms(&start);
	ck_assert_msg(ms >= 40 && ms < 2000, "read waited %ld ms", ms);
	REC("recv_timedout", BIO_dgram_recv_timedout(b));
	REC("recv_timedout again", BIO_dgram_recv_timedout(b));
}

static void sc_send_timeout(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET);
	BIO *b = env_bio(e, fa, BIO_NOCLOSE);

	timeouts(t, b, BIO_CTRL_DGRAM_SET_SEND_TIMEOUT, BIO_CTRL_DGRAM_GET_SEND_TIMEOUT);
	REC("send_timedout", BIO_dgram_send_timedout(b));
}

/*
 * DTLS's timer: a read waits no longer than the deadline set with
 * BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT, and the socket's own timeout is put
 * back afterwards.
 */
static void sc_next_timeout(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET);
	BIO *b = env_bio(e, fa, BIO_NOCLOSE);
	struct timeval now, deadline, add = { 0, 100000 }, sock = { 0, 30000 }, zero = { 0, 0 };
	struct timeval start;
	char buf[16];
	long ms;

	gettimeofday(&now, NULL);
	timeradd(&now, &add, &deadline);
	REC("set_next_timeout", BIO_ctrl(b, BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT, 0, &deadline));
	gettimeofday(&start, NULL);
	ck_assert_int_eq(bio_read_rec(t, "read until deadline", b, buf, sizeof(buf)), -1);
	ms = elapsed_ms(&start);
	ck_assert_msg(ms >= 50 && ms < 2000, "read waited %ld ms for a 100 ms deadline", ms);
	REC("recv_timedout", BIO_dgram_recv_timedout(b));
	rec_timeout(t, "socket timeout restored", b, BIO_CTRL_DGRAM_GET_RECV_TIMEOUT);

	/* A deadline already past: the read returns at once. */
	gettimeofday(&start, NULL);
	bio_read_rec(t, "read past deadline", b, buf, sizeof(buf));
	ms = elapsed_ms(&start);
	ck_assert_msg(ms < 1000, "read waited %ld ms past its deadline", ms);

	/* A shorter socket timeout wins, and is kept. */
	gettimeofday(&now, NULL);
	add.tv_sec = 5;
	timeradd(&now, &add, &deadline);
	BIO_ctrl(b, BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT, 0, &deadline);
	TR_SINCE_32_BEGIN(t);
	REC("set socket 30ms", BIO_ctrl(b, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &sock));
	TR_SINCE_32_END(t);
	gettimeofday(&start, NULL);
	bio_read_rec(t, "read socket timeout", b, buf, sizeof(buf));
	ms = elapsed_ms(&start);
	ck_assert_msg(ms < 2000, "read waited %ld ms with a 30 ms socket timeout", ms);
	rec_timeout(t, "socket timeout kept", b, BIO_CTRL_DGRAM_GET_RECV_TIMEOUT);

	/* A zero deadline switches the timer off. */
	REC("clear timer", BIO_ctrl(b, BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT, 0, &zero));
	gettimeofday(&start, NULL);
	bio_read_rec(t, "read timer off", b, buf, sizeof(buf));
	ms = elapsed_ms(&start);
	ck_assert_msg(ms >= 20 && ms < 2000, "read waited %ld ms with a 30 ms timeout", ms);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal that interrupts a blocking read makes it retryable. */
static void sc_eintr(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET);
	BIO *b = env_bio(e, fa, BIO_NOCLOSE);
	struct sigaction sa, old;
	struct itimerval it = { { 0, 0 }, { 0, 30000 } }, off = { { 0, 0 }, { 0, 0 } };
	char buf[16];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	ck_assert_int_eq(bio_read_rec(t, "interrupted read", b, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EINTR);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	REC("recv_timedout", BIO_dgram_recv_timedout(b));
}

/* --- MTU --------------------------------------------------------------------- */

static void mtu(struct env *e, struct tr *t, int family)
{
	int fa = env_udp(e, family);

	(void)env_udp(e, family); /* the peer, e->addrs[1] */
	BIO *ba = env_bio(e, fa, BIO_NOCLOSE);
	int v = -1;
	socklen_t vl = sizeof(v);
	char *big;

	REC("overhead, no peer", BIO_dgram_get_mtu_overhead(ba));
	REC("fallback, no peer", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_FALLBACK_MTU, 0, NULL));
	REC("dont_frag, no peer", BIO_ctrl(ba, BIO_CTRL_DGRAM_SET_DONT_FRAG, 1, NULL));
	tr_errors(t, "dont_frag, no peer");
	REC("mtu_discover", BIO_ctrl(ba, BIO_CTRL_DGRAM_MTU_DISCOVER, 0, NULL));
	tr_errors(t, "mtu_discover");
	REC("query_mtu unconnected", BIO_ctrl(ba, BIO_CTRL_DGRAM_QUERY_MTU, 0, NULL));
	tr_errors(t, "query_mtu unconnected");
	REC("get_mtu", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_MTU, 0, NULL));

	ck_assert_int_eq(connect(fa, &e->addrs[1].sa, tu_addr_len(&e->addrs[1])), 0);
	REC("query_mtu connected", BIO_ctrl(ba, BIO_CTRL_DGRAM_QUERY_MTU, 0, NULL));
	REC("get_mtu after query", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_MTU, 0, NULL));
	REC("set_mtu 1400", BIO_ctrl(ba, BIO_CTRL_DGRAM_SET_MTU, 1400, NULL));
	REC("get_mtu 1400", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_MTU, 0, NULL));
	REC("set_mtu 0", BIO_ctrl(ba, BIO_CTRL_DGRAM_SET_MTU, 0, NULL));
	REC("set_mtu -1", BIO_ctrl(ba, BIO_CTRL_DGRAM_SET_MTU, -1, NULL));
	REC("get_mtu after -1", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_MTU, 0, NULL));
	REC("set_mtu LONG_MAX", BIO_ctrl(ba, BIO_CTRL_DGRAM_SET_MTU, LONG_MAX, NULL));
	REC("get_mtu after LONG_MAX", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_MTU, 0, NULL));

	set_peer(ba, &e->addrs[1]);
	REC("overhead", BIO_dgram_get_mtu_overhead(ba));
	REC("fallback", BIO_ctrl(ba, BIO_CTRL_DGRAM_GET_FALLBACK_MTU, 0, NULL));
	REC("dont_frag on", BIO_ctrl(ba, BIO_CTRL_DGRAM_SET_DONT_FRAG, 1, NULL));
	if (family == AF_INET)
		getsockopt(fa, IPPROTO_IP, IP_MTU_DISCOVER, &v, &vl);
	else
		getsockopt(fa, IPPROTO_IPV6, IPV6_DONTFRAG, &v, &vl);
	REC("dont_frag on, socket", v);
	REC("dont_frag off", BIO_ctrl(ba, BIO_CTRL_DGRAM_SET_DONT_FRAG, 0, NULL));
	if (family == AF_INET)
		getsockopt(fa, IPPROTO_IP, IP_MTU_DISCOVER, &v, &vl);
	else
		getsockopt(fa, IPPROTO_IPV6, IPV6_DONTFRAG, &v, &vl);
	REC("dont_frag off, socket", v);

	/* Larger than UDP allows: EMSGSIZE, no retry, not an MTU event. */
	big = calloc(1, 70000);
	ck_assert_ptr_nonnull(big);
	bio_write_rec(t, "write 70000", ba, big, 70000);
	REC("mtu_exceeded", BIO_ctrl(ba, BIO_CTRL_DGRAM_MTU_EXCEEDED, 0, NULL));
	free(big);
	tr_errors(t, "end");
}

static void sc_mtu_ipv4(struct env *e, struct tr *t)
{
	mtu(e, t, AF_INET);
}

static void sc_mtu_ipv6(struct env *e, struct tr *t)
{
	mtu(e, t, AF_INET6);
}

/*
 * A dual-stack IPv6 socket talking to an IPv4 one through a v4-mapped
 * address: overheads and fallbacks follow IPv4.
 */
static void sc_dual_stack(struct env *e, struct tr *t)
{
	int f6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), off = 0;
	int f4 = env_udp(e, AF_INET);
	union tu_addr a6, mapped;
	socklen_t len = sizeof(a6);
	BIO *b;
	char buf[32];

	ck_assert_int_ge(f6, 0);
	ck_assert_int_eq(setsockopt(f6, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	memset(&a6, 0, sizeof(a6));
	a6.sin6.sin6_family = AF_INET6;
	a6.sin6.sin6_addr = in6addr_any;
	ck_assert_int_eq(bind(f6, &a6.sa, sizeof(a6.sin6)), 0);
	ck_assert_int_eq(getsockname(f6, &a6.sa, &len), 0);
	env_add_fd(e, f6, &a6);

	memset(&mapped, 0, sizeof(mapped));
	mapped.sin6.sin6_family = AF_INET6;
	mapped.sin6.sin6_port = e->addrs[0].sin.sin_port;
	mapped.sin6.sin6_addr.s6_addr[10] = 0xff;
	mapped.sin6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&mapped.sin6.sin6_addr.s6_addr[12], &e->addrs[0].sin.sin_addr, 4);

	b = env_bio(e, f6, BIO_NOCLOSE);
	set_peer(b, &mapped);
	REC("overhead mapped", BIO_dgram_get_mtu_overhead(b));
	REC("fallback mapped", BIO_ctrl(b, BIO_CTRL_DGRAM_GET_FALLBACK_MTU, 0, NULL));
	ck_assert_int_eq(bio_write_rec(t, "write to v4", b, "mapped", 6), 6);
	REC("v4 received", raw_recv(f4, buf, sizeof(buf)));

	{
		struct sockaddr_in to = e->addrs[0].sin;

		to.sin_port = a6.sin6.sin6_port;
		ck_assert_int_eq(sendto(f4, "reply", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);
	}
	ck_assert_int_eq(bio_read_rec(t, "read from v4", b, buf, sizeof(buf)), 5);
	rec_peer(t, "peer", e, b);
	REC("overhead after read", BIO_dgram_get_mtu_overhead(b));
}

/* --- peek, local addresses, caps, poll descriptors ------------------------- */

static void sc_peek(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET), fb = env_udp(e, AF_INET);
	BIO *bb = env_bio(e, fb, BIO_NOCLOSE);
	char buf[16];

	(void)fa;
	sendto(fa, "p1", 2, 0, &e->addrs[1].sa, sizeof(e->addrs[1].sin));
	sendto(fa, "p2", 2, 0, &e->addrs[1].sa, sizeof(e->addrs[1].sin));
	REC("peek on", BIO_ctrl(bb, BIO_CTRL_DGRAM_SET_PEEK_MODE, 1, NULL));
	bio_read_rec(t, "peek 1", bb, buf, sizeof(buf));
	ck_assert_mem_eq(buf, "p1", 2);
	bio_read_rec(t, "peek 2", bb, buf, sizeof(buf));
	ck_assert_mem_eq(buf, "p1", 2);
	rec_peer(t, "peer after peek", e, bb);
	REC("peek off", BIO_ctrl(bb, BIO_CTRL_DGRAM_SET_PEEK_MODE, 0, NULL));
	bio_read_rec(t, "read 1", bb, buf, sizeof(buf));
	ck_assert_mem_eq(buf, "p1", 2);
	/* 50 is the number peek mode had before 1.1.1; it still works. */
	REC("peek on, old number", BIO_ctrl(bb, BIO_CTRL_DGRAM_SCTP_SET_IN_HANDSHAKE, 1, NULL));
	bio_read_rec(t, "peek old", bb, buf, sizeof(buf));
	bio_read_rec(t, "peek old again", bb, buf, sizeof(buf));
	ck_assert_mem_eq(buf, "p2", 2);
	REC("peek off, old number", BIO_ctrl(bb, BIO_CTRL_DGRAM_SCTP_SET_IN_HANDSHAKE, 0, NULL));
	bio_read_rec(t, "read 2", bb, buf, sizeof(buf));
	tr_errors(t, "end");
}

static void local_addr(struct env *e, struct tr *t, int family)
{
	int fa = env_udp(e, family), fb = env_udp(e, family);
	BIO *b = env_bio(e, -1, 0);
	int en = -7, v = -1;
	socklen_t vl = sizeof(v);
	int level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	int opt = family == AF_INET ? IP_PKTINFO : IPV6_RECVPKTINFO;

	REC("cap", BIO_dgram_get_local_addr_cap(b));
	ck_assert_int_eq(BIO_dgram_get_local_addr_cap(b), 1);
	REC("enable before fd", BIO_dgram_set_local_addr_enable(b, 1));
	REC("get before fd", BIO_dgram_get_local_addr_enable(b, &en));
	REC("get before fd, value", en);
	(void)BIO_set_fd(b, fa, BIO_NOCLOSE);
	REC("enable", BIO_dgram_set_local_addr_enable(b, 1));
	ck_assert_int_eq(BIO_dgram_set_local_addr_enable(b, 1), 1);
	REC("get", BIO_dgram_get_local_addr_enable(b, &en));
	REC("get, value", en);
	getsockopt(fa, level, opt, &v, &vl);
	REC("socket option", v);
	REC("enable 5", BIO_dgram_set_local_addr_enable(b, 5));
	(void)BIO_dgram_get_local_addr_enable(b, &en);
	REC("value after 5", en);
	/* Attaching another socket carries the setting over. */
	REC("set_fd fb", BIO_set_fd(b, fb, BIO_NOCLOSE));
	(void)BIO_dgram_get_local_addr_enable(b, &en);
	REC("value on fb", en);
	v = -1;
	getsockopt(fb, level, opt, &v, &vl);
	REC("socket option on fb", v);
	REC("disable -1", BIO_dgram_set_local_addr_enable(b, -1));
	(void)BIO_dgram_get_local_addr_enable(b, &en);
	REC("value after -1", en);
	getsockopt(fb, level, opt, &v, &vl);
	REC("socket option off", v);
	REC("effective caps", BIO_dgram_get_effective_caps(b));
	ck_assert_uint_eq(BIO_dgram_get_effective_caps(b),
			  BIO_DGRAM_CAP_HANDLES_SRC_ADDR | BIO_DGRAM_CAP_HANDLES_DST_ADDR |
				  BIO_DGRAM_CAP_PROVIDES_SRC_ADDR |
				  BIO_DGRAM_CAP_PROVIDES_DST_ADDR);
	tr_errors(t, "end");
}

static void sc_local_addr_ipv4(struct env *e, struct tr *t)
{
	local_addr(e, t, AF_INET);
}

static void sc_local_addr_ipv6(struct env *e, struct tr *t)
{
	local_addr(e, t, AF_INET6);
}

static void sc_poll_descriptors(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET);
	BIO *b = env_bio(e, fa, BIO_NOCLOSE);
	DGB_POLL_DESCRIPTOR pd;

	memset(&pd, 0xff, sizeof(pd));
	REC("rpoll", BIO_ctrl(b, BIO_CTRL_GET_RPOLL_DESCRIPTOR, 0, &pd));
	REC("rpoll type", pd.type);
	REC("rpoll is fd", pd.value.fd == fa);
	ck_assert_int_eq(pd.type, BIO_POLL_DESCRIPTOR_TYPE_SOCK_FD);
	ck_assert_int_eq(pd.value.fd, fa);
	memset(&pd, 0xff, sizeof(pd));
	REC("wpoll", BIO_ctrl(b, BIO_CTRL_GET_WPOLL_DESCRIPTOR, 0, &pd));
	REC("wpoll type", pd.type);
	REC("wpoll is fd", pd.value.fd == fa);
	tr_errors(t, "end");
}

/* A connected socket is recognised when it is attached. */
static void sc_detect_connected(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET), fb = env_udp(e, AF_INET);
	BIO *ba, *bn;
	BIO_ADDR *ap = BIO_ADDR_new();
	char buf[16];

	REC("detect unconnected, no peer", BIO_dgram_detect_peer_addr(env_bio(e, fb, 0), ap));
	tr_errors(t, "detect unconnected");
	ck_assert_int_eq(connect(fa, &e->addrs[1].sa, sizeof(e->addrs[1].sin)), 0);
	ba = env_bio(e, fa, BIO_NOCLOSE);
	rec_peer(t, "peer of a connected socket", e, ba);
	REC("detect", BIO_dgram_detect_peer_addr(ba, ap));
	tr_addr(t, "detected", e, ap);
	ck_assert_int_eq(bio_write_rec(t, "write", ba, "c", 1), 1);
	REC("b received", raw_recv(fb, buf, sizeof(buf)));

	/* A BIO with no peer on a connected socket detects it from the socket. */
	bn = env_bio(e, -1, 0);
	REC("detect, no fd", BIO_dgram_detect_peer_addr(bn, ap));
	tr_errors(t, "detect, no fd");
	BIO_ADDR_free(ap);
}

/* --- sockets that are not what they should be ----------------------------- */

static void sc_closed_fd(struct env *e, struct tr *t)
{
	union tu_addr a;
	int fd = tu_udp_loopback(AF_INET, &a);
	BIO *b;
	struct timeval tv = { 1, 0 };
	char buf[8];

	close(fd);
	b = env_bio(e, fd, BIO_NOCLOSE);
	bio_write_rec(t, "write", b, "x", 1);
	bio_read_rec(t, "read", b, buf, sizeof(buf));
	REC("mtu_discover", BIO_ctrl(b, BIO_CTRL_DGRAM_MTU_DISCOVER, 0, NULL));
	tr_errors(t, "mtu_discover");
	REC("query_mtu", BIO_ctrl(b, BIO_CTRL_DGRAM_QUERY_MTU, 0, NULL));
	TR_SINCE_32_BEGIN(t);
	REC("set_recv_timeout", BIO_ctrl(b, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv));
	tr_errors(t, "set_recv_timeout");
	REC("get_send_timeout", BIO_ctrl(b, BIO_CTRL_DGRAM_GET_SEND_TIMEOUT, 0, &tv));
	tr_errors(t, "get_send_timeout");
	/* 3.0's datagram BIO ignores BIO_C_SET_NBIO. */
	REC("set_nbio", BIO_set_nbio(b, 1));
	tr_errors(t, "set_nbio");
	TR_SINCE_32_END(t);
	REC("dont_frag", BIO_ctrl(b, BIO_CTRL_DGRAM_SET_DONT_FRAG, 1, NULL));
	tr_errors(t, "dont_frag");
}

static void sc_tcp_fd(struct env *e, struct tr *t)
{
	union tu_addr la;
	socklen_t len = sizeof(la);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ufd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int afd;
	BIO *bc, *bu;
	char buf[16];

	memset(&la, 0, sizeof(la));
	la.sin.sin_family = AF_INET;
	la.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, &la.sa, sizeof(la.sin)), 0);
	ck_assert_int_eq(getsockname(lfd, &la.sa, &len), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	env_add_fd(e, lfd, &la);
	ck_assert_int_eq(connect(cfd, &la.sa, sizeof(la.sin)), 0);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	env_add_fd(e, cfd, NULL);
	env_add_fd(e, afd, NULL);
	env_add_fd(e, ufd, NULL);

	/* A connected TCP socket carries the bytes. */
	bc = env_bio(e, cfd, BIO_NOCLOSE);
	bio_write_rec(t, "write connected tcp", bc, "tcp", 3);
	REC("accepted side got", raw_recv(afd, buf, sizeof(buf)));
	REC("overhead", BIO_dgram_get_mtu_overhead(bc));
	REC("query_mtu", BIO_ctrl(bc, BIO_CTRL_DGRAM_QUERY_MTU, 0, NULL) > 0);
	tr_errors(t, "connected tcp");

	/* An unconnected TCP socket: writes fail without retry (no SIGPIPE). */
	bu = env_bio(e, ufd, BIO_NOCLOSE);
	bio_write_rec(t, "write unconnected tcp", bu, "x", 1);
	TR_SINCE_32_BEGIN(t);
	REC("set_nbio", BIO_set_nbio(bu, 1));
	TR_SINCE_32_END(t);
	bio_read_rec(t, "read unconnected tcp", bu, buf, sizeof(buf));
	REC("mtu_discover", BIO_ctrl(bu, BIO_CTRL_DGRAM_MTU_DISCOVER, 0, NULL));
	tr_errors(t, "mtu_discover");
}

static void sc_pipe_fd(struct env *e, struct tr *t)
{
	int p[2];
	BIO *br, *bw;
	char buf[16];
	struct timeval tv = { 1, 0 };

	ck_assert_int_eq(pipe(p), 0);
	env_add_fd(e, p[0], NULL);
	env_add_fd(e, p[1], NULL);
	bw = env_bio(e, p[1], BIO_NOCLOSE);
	br = env_bio(e, p[0], BIO_NOCLOSE);
	bio_write_rec(t, "write pipe", bw, "pipe", 4);
	bio_read_rec(t, "read pipe", br, buf, sizeof(buf));
	REC("mtu_discover", BIO_ctrl(bw, BIO_CTRL_DGRAM_MTU_DISCOVER, 0, NULL));
	REC("query_mtu", BIO_ctrl(bw, BIO_CTRL_DGRAM_QUERY_MTU, 0, NULL));
	TR_SINCE_32_BEGIN(t);
	REC("set_recv_timeout", BIO_ctrl(br, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv));
	tr_errors(t, "set_recv_timeout");
	TR_SINCE_32_END(t);
	rec_peer(t, "peer", e, br);
	tr_errors(t, "end");
}

/* --- sockets from BIO_socket/BIO_bind/BIO_connect/BIO_listen --------------- */

static void sc_bio_socket_api(struct env *e, struct tr *t)
{
	BIO_ADDR *any = BIO_ADDR_new(), *srv = BIO_ADDR_new();
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	union tu_addr sa;
	socklen_t len = sizeof(sa);
	int s, c, l, c2;
	BIO *bs, *bc;
	char buf[32];

	ck_assert(BIO_ADDR_rawmake(any, AF_INET, &lo, sizeof(lo), 0));
	s = BIO_socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, 0);
	ck_assert_int_ge(s, 0);
	REC("bind reuseaddr", BIO_bind(s, any, BIO_SOCK_REUSEADDR));
	ck_assert_int_eq(getsockname(s, &sa.sa, &len), 0);
	env_add_fd(e, s, &sa);
	ck_assert(BIO_ADDR_rawmake(srv, AF_INET, &lo, sizeof(lo), sa.sin.sin_port));

	c = BIO_socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, 0);
	ck_assert_int_ge(c, 0);
	REC("connect nonblock keepalive", BIO_connect(c, srv, BIO_SOCK_NONBLOCK | BIO_SOCK_KEEPALIVE));
	len = sizeof(sa);
	getsockname(c, &sa.sa, &len);
	env_add_fd(e, c, &sa);
	tr_errors(t, "connect");

	bc = env_bio(e, c, BIO_NOCLOSE);
	bs = env_bio(e, s, BIO_NOCLOSE);
	/* 3.2+ notices the connection by itself; 3.0 must be told. */
	REC("set_connected", BIO_ctrl_set_connected(bc, srv));
	ck_assert_int_eq(bio_write_rec(t, "client write", bc, "via BIO_connect", 15), 15);
	ck_assert_int_eq(bio_read_rec(t, "server read", bs, buf, sizeof(buf)), 15);
	rec_peer(t, "server peer", e, bs);
	bio_write_rec(t, "server reply", bs, "ok", 2);
	ck_assert_int_eq(raw_recv(c, buf, sizeof(buf)), 2);
	bio_read_rec(t, "client read empty (nonblocking)", bc, buf, sizeof(buf));

	/* TCP_NODELAY is refused on UDP; BIO_listen binds a UDP socket. */
	c2 = BIO_socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, 0);
	env_add_fd(e, c2, NULL);
	REC("connect nodelay", BIO_connect(c2, srv, BIO_SOCK_NODELAY));
	tr_errors(t, "connect nodelay");
	l = BIO_socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, 0);
	env_add_fd(e, l, NULL);
	REC("listen udp", BIO_listen(l, any, BIO_SOCK_REUSEADDR));
	tr_errors(t, "listen udp");
	BIO_ADDR_free(any);
	BIO_ADDR_free(srv);
}

static void sc_bio_socket_ipv6(struct env *e, struct tr *t)
{
	BIO_ADDR *lo6 = BIO_ADDR_new(), *srv = BIO_ADDR_new();
	union tu_addr sa;
	socklen_t len = sizeof(sa);
	int s, c;
	BIO *bs, *bc;
	char buf[32];

	ck_assert(BIO_ADDR_rawmake(lo6, AF_INET6, &in6addr_loopback, sizeof(in6addr_loopback), 0));
	s = BIO_socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP, 0);
	ck_assert_int_ge(s, 0);
	/* BIO_listen on a datagram socket binds it, with the socket options. */
	REC("listen v6only", BIO_listen(s, lo6, BIO_SOCK_REUSEADDR | BIO_SOCK_V6_ONLY));
	tr_errors(t, "listen v6only");
	getsockname(s, &sa.sa, &len);
	env_add_fd(e, s, &sa);
	ck_assert(BIO_ADDR_rawmake(srv, AF_INET6, &in6addr_loopback, sizeof(in6addr_loopback),
				   sa.sin6.sin6_port));
	c = BIO_socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP, 0);
	REC("connect", BIO_connect(c, srv, 0));
	len = sizeof(sa);
	getsockname(c, &sa.sa, &len);
	env_add_fd(e, c, &sa);
	bc = env_bio(e, c, BIO_NOCLOSE);
	bs = env_bio(e, s, BIO_NOCLOSE);
	(void)BIO_ctrl_set_connected(bc, srv);
	ck_assert_int_eq(bio_write_rec(t, "write", bc, "six", 3), 3);
	ck_assert_int_eq(bio_read_rec(t, "read", bs, buf, sizeof(buf)), 3);
	rec_peer(t, "peer", e, bs);
	REC("overhead", BIO_dgram_get_mtu_overhead(bs));
	REC("fallback", BIO_ctrl(bs, BIO_CTRL_DGRAM_GET_FALLBACK_MTU, 0, NULL));
	BIO_ADDR_free(lo6);
	BIO_ADDR_free(srv);
}

/* --- the module's own answers to NULL arguments ---------------------------- */

/*
 * OpenSSL's datagram BIO dereferences these NULL arguments; the module
 * raises ERR_R_PASSED_NULL_PARAMETER and returns 0 (documented in
 * dgrambatch(7)).  Only the module is run.
 */
START_TEST(test_null_arguments)
{
	struct env e;
	const int cmds[] = {
		BIO_C_SET_FD, BIO_CTRL_DGRAM_CONNECT, BIO_CTRL_DGRAM_SET_PEER,
		BIO_CTRL_DGRAM_GET_PEER, BIO_CTRL_DGRAM_DETECT_PEER_ADDR,
		BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT, BIO_CTRL_DGRAM_GET_LOCAL_ADDR_ENABLE,
		BIO_CTRL_GET_RPOLL_DESCRIPTOR, BIO_CTRL_GET_WPOLL_DESCRIPTOR,
	};
	OSSL_PROVIDER *prov = OSSL_PROVIDER_load(NULL, DGB_PROVIDER_NAME);
	BIO *b;
	int fd;

	memset(&e, 0, sizeof(e));
	ck_assert_ptr_nonnull(prov);
	e.meth = DGB_provider_bio_method(prov);
	fd = env_udp(&e, AF_INET);
	b = env_bio(&e, fd, BIO_NOCLOSE);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		unsigned long err;

		ERR_clear_error();
		ck_assert_int_eq(BIO_ctrl(b, cmds[i], 0, NULL), 0);
		err = ERR_get_error();
		ck_assert_msg(ERR_GET_LIB(err) == ERR_LIB_BIO &&
				      ERR_GET_REASON(err) == ERR_R_PASSED_NULL_PARAMETER,
			      "ctrl %d: error %lx", cmds[i], err);
	}
	/* Nothing was lost: the BIO still works. */
	ck_assert_int_eq(BIO_get_fd(b, NULL), fd);
	BIO_free(b);
	close(fd);
	OSSL_PROVIDER_unload(prov);
}
END_TEST

/* --- the module's own behaviour, not compared ------------------------------ */

/*
 * errno under memory pressure.  A thread's first counted call allocates
 * its counters, and glibc's allocator, when it cannot map the arena a new
 * thread wants (64 MB of address space) and falls back to another, returns
 * the memory and leaves errno at ENOMEM.  A receive on an empty socket
 * must still be EAGAIN with a retry flag, not a fatal ENOMEM.
 *
 * Each test runs the call in a new thread under two kinds of pressure:
 * PRESSURE_SIMULATED arms the test program's calloc(), which leaves ENOMEM
 * whatever the C library does; PRESSURE_RLIMIT is the real thing, the
 * address space limited to what is mapped now plus 32 MB: room for the
 * thread and the odd page, none for a new arena.
 */
enum { PRESSURE_SIMULATED, PRESSURE_RLIMIT, PRESSURE_KINDS };
#define HEADROOM (32ul << 20)

/* A sanitizer's reserved shadow memory leaves no RLIMIT_AS to lower. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PRESSURE_RUNS PRESSURE_RLIMIT
#else
#define PRESSURE_RUNS PRESSURE_KINDS
#endif

struct pressed {
	int kind;
	BIO *b;
	/* What the call gave. */
	int r, retry, err;
	size_t done;
	unsigned long errcode;
	/* Whether an allocation in the thread left ENOMEM: pressure was on. */
	int pressure;
};

static void pressure_on(const struct pressed *p)
{
	if (p->kind == PRESSURE_SIMULATED)
		tu_calloc_leaves_enomem(1);
}

/* After the call: whether an allocation in this thread still leaves ENOMEM. */
static int pressure_off(const struct pressed *p)
{
	void *q;
	int pressed;

	errno = 0;
	q = calloc(1, 64);
	pressed = q != NULL && errno == ENOMEM;
	free(q);
	if (p->kind == PRESSURE_SIMULATED)
		tu_calloc_leaves_enomem(0);
	return pressed;
}

/* The address space mapped now (VmSize), in bytes. */
static unsigned long vm_size(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	unsigned long kb = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmSize: %lu kB", &kb) == 1)
			break;
	fclose(f);
	ck_assert_uint_gt(kb, 0);
	return kb * 1024;
}

/* fn in a new thread, under pressure of p->kind. */
static void under_pressure(const char *name, void *(*fn)(void *), struct pressed *p)
{
	struct rlimit saved, low;
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	ck_assert_int_eq(pthread_attr_init(&attr), 0);
	ck_assert_int_eq(pthread_attr_setstacksize(&attr, 1ul << 20), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_AS, &saved), 0);
	low = saved;
	if (p->kind == PRESSURE_RLIMIT) {
		low.rlim_cur = vm_size() + HEADROOM;
		if (saved.rlim_cur != RLIM_INFINITY && saved.rlim_cur < low.rlim_cur)
			low.rlim_cur = saved.rlim_cur;
	}
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &low), 0);
	rc = pthread_create(&t, &attr, fn, p);
	if (rc == 0)
		pthread_join(t, NULL);
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &saved), 0);
	pthread_attr_destroy(&attr);
	ck_assert_msg(rc == 0, "pthread_create: %s", strerror(rc));
	/* The simulation is ours and must work; glibc's fallback may change. */
	if (p->kind == PRESSURE_SIMULATED)
		ck_assert_msg(p->pressure, "the test program's calloc() left errno alone");
	else if (!p->pressure)
		fprintf(stderr, "NOTE %s: the allocator left errno alone with %lu MB of address "
				"space to spare; the call ran without the pressure\n",
			name, HEADROOM >> 20);
}

static void *read_pressed(void *arg)
{
	struct pressed *p = arg;
	char buf[16];

	pressure_on(p);
	p->r = BIO_read(p->b, buf, sizeof(buf));
	p->err = errno;
	p->retry = BIO_should_retry(p->b) && BIO_should_read(p->b);
	p->pressure = pressure_off(p);
	return NULL;
}

static void *recvmmsg_pressed(void *arg)
{
	struct pressed *p = arg;
	char buf[4][16];
	DGB_MSG msg[4];

	memset(msg, 0, sizeof(msg));
	for (int i = 0; i < 4; i++) {
		msg[i].data = buf[i];
		msg[i].data_len = sizeof(buf[i]);
	}
	pressure_on(p);
	p->r = DGB_recvmmsg(p->b, msg, sizeof(DGB_MSG), 4, 0, &p->done);
	p->errcode = ERR_get_error();
	ERR_clear_error();
	p->pressure = pressure_off(p);
	return NULL;
}

/* A module BIO on a non-blocking loopback socket with nothing queued. */
static BIO *empty_module_bio(void)
{
	union tu_addr a;
	int fd = tu_udp_loopback(AF_INET, &a);
	BIO *b = BIO_new(module_method());

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	ck_assert_int_eq(BIO_set_fd(b, fd, BIO_CLOSE), 1);
	return b;
}

START_TEST(test_read_eagain_under_pressure)
{
	struct pressed p = { .kind = _i, .b = empty_module_bio() };

	under_pressure("test_read_eagain_under_pressure", read_pressed, &p);
	ck_assert_msg(p.r == -1 && p.err == EAGAIN, "BIO_read: %d, errno %d (%s), expected EAGAIN",
		      p.r, p.err, strerror(p.err));
	ck_assert_msg(p.retry, "BIO_read: no retry flag for EAGAIN");
	BIO_free(p.b);
}
END_TEST

START_TEST(test_recvmmsg_eagain_under_pressure)
{
	struct pressed p = { .kind = _i, .b = empty_module_bio(), .done = 99 };

	under_pressure("test_recvmmsg_eagain_under_pressure", recvmmsg_pressed, &p);
	ck_assert_int_eq(p.r, 0);
	ck_assert_uint_eq(p.done, 0);
	ck_assert_msg(ERR_GET_LIB(p.errcode) == ERR_LIB_SYS && ERR_GET_REASON(p.errcode) == EAGAIN,
		      "DGB_recvmmsg raised library %d reason %d, expected ERR_LIB_SYS/EAGAIN",
		      ERR_GET_LIB(p.errcode), ERR_GET_REASON(p.errcode));
	ck_assert(DGB_err_is_non_fatal((unsigned int)p.errcode));
	BIO_free(p.b);
}
END_TEST

/*
 * ICMP errors on BIO_read/BIO_write.  A port unreachable makes the kernel
 * queue ECONNREFUSED on a connected socket, for the next call to return.
 * OpenSSL's BIO returns it as a fatal error (-1, no retry flag), and DTLS
 * gives up; the module absorbs it: it counts it and makes the call again,
 * which then sends this datagram or reads the next one.  An intended
 * difference (dgrambatch(7), "ICMP errors"), so both runs are asserted
 * separately.
 */
struct icmp_outcome {
	int write, write_retry, write_errno;
	/* The listener got the datagram of that write (1), or nothing (-1). */
	long delivered, delivered_again;
	int read, read_retry, read_errno;
	/* The module's dgrambatch-icmp-errors grew by this much. */
	uint64_t icmp_write, icmp_read;
};

/* Wait until the kernel has queued the ICMP error on fd. */
static void wait_icmp(int fd)
{
	struct pollfd p = { .fd = fd, .events = 0 };

	ck_assert_msg(poll(&p, 1, 1000) == 1 && (p.revents & POLLERR),
		      "no ICMP error queued within 1s");
}

static void icmp_run(const BIO_METHOD *m, int module, int blocking_read, struct icmp_outcome *o)
{
	union tu_addr a, gone;
	int fa = tu_udp_loopback(AF_INET, &a), fl = tu_udp_loopback(AF_INET, &gone);
	BIO *b = BIO_new(m);
	BIO_ADDR *peer = env_bio_addr(&gone);
	uint64_t icmp0 = module ? module_counter(DGB_PARAM_ICMP_ERRORS) : 0;
	char buf[16];

	close(fl);
	ck_assert_int_eq(connect(fa, &gone.sa, sizeof(gone.sin)), 0);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(BIO_set_fd(b, fa, BIO_CLOSE), 1);
	ck_assert_int_eq(BIO_ctrl_set_connected(b, peer), 1);

	/* Nobody listens: the datagram goes, a port unreachable comes back. */
	ck_assert_int_eq(BIO_write(b, "a", 1), 1);
	wait_icmp(fa);
	/* Someone listens again before the next write, which meets the error. */
	fl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fl, &gone.sa, sizeof(gone.sin)), 0);
	errno = 0;
	o->write = BIO_write(b, "b", 1);
	o->write_errno = errno;
	o->write_retry = BIO_should_retry(b);
	{
		struct pollfd p = { .fd = fl, .events = POLLIN };

		/* Loopback delivers at once; OpenSSL's run expects nothing. */
		o->delivered = poll(&p, 1, module ? 1000 : 100) == 1
				       ? recv(fl, buf, sizeof(buf), MSG_DONTWAIT)
				       : -1;
		if (o->delivered == 1)
			ck_assert_int_eq(buf[0], 'b');
		o->delivered_again = recv(fl, buf, sizeof(buf), MSG_DONTWAIT);
	}
	if (module)
		o->icmp_write = module_counter(DGB_PARAM_ICMP_ERRORS) - icmp0;

	/* Closed again: the next error meets a non-blocking read of nothing. */
	close(fl);
	ck_assert_int_eq(BIO_write(b, "c", 1), 1);
	wait_icmp(fa);
	if (!blocking_read)
		ck_assert_int_eq(fcntl(fa, F_SETFL, fcntl(fa, F_GETFL) | O_NONBLOCK), 0);
	if (module)
		icmp0 = module_counter(DGB_PARAM_ICMP_ERRORS);
	errno = 0;
	o->read = BIO_read(b, buf, sizeof(buf));
	o->read_errno = errno;
	o->read_retry = BIO_should_retry(b) && BIO_should_read(b);
	if (module)
		o->icmp_read = module_counter(DGB_PARAM_ICMP_ERRORS) - icmp0;
	BIO_ADDR_free(peer);
	BIO_free(b);
	ERR_clear_error();
}

START_TEST(test_icmp_absorbed)
{
	struct icmp_outcome o;

	memset(&o, 0, sizeof(o));
	icmp_run(module_method(), 1, 0, &o);
	ck_assert_msg(o.write == 1, "BIO_write after a port unreachable: %d, errno %d (%s)",
		      o.write, o.write_errno, strerror(o.write_errno));
	ck_assert_int_ge(o.icmp_write, 1);
	/* That write's datagram was sent, once. */
	ck_assert_int_eq(o.delivered, 1);
	ck_assert_int_eq(o.delivered_again, -1);
	ck_assert_msg(o.read == -1 && o.read_errno == EAGAIN,
		      "BIO_read after a port unreachable: %d, errno %d (%s), expected EAGAIN",
		      o.read, o.read_errno, strerror(o.read_errno));
	ck_assert(o.read_retry);
	ck_assert_int_ge(o.icmp_read, 1);
}
END_TEST

/*
 * The same on a blocking socket: the error wakes a reader (poll or select
 * says readable) whose peer may be gone for good; the module must not then
 * wait for a datagram, but give a retry, as a receive timeout does (a
 * waiting read would hang such a reader forever: the test times out).
 */
START_TEST(test_icmp_absorbed_blocking_read)
{
	struct icmp_outcome o;

	memset(&o, 0, sizeof(o));
	icmp_run(module_method(), 1, 1, &o);
	ck_assert_msg(o.read == -1 && o.read_errno == EAGAIN,
		      "blocking BIO_read after a port unreachable: %d, errno %d (%s), expected EAGAIN",
		      o.read, o.read_errno, strerror(o.read_errno));
	ck_assert(o.read_retry);
	ck_assert_int_ge(o.icmp_read, 1);
}
END_TEST

/* What OpenSSL's own datagram BIO does in the same run. */
START_TEST(test_icmp_openssl_fatal)
{
	struct icmp_outcome o;

	memset(&o, 0, sizeof(o));
	icmp_run(BIO_s_datagram(), 0, 0, &o);
	ck_assert_int_eq(o.write, -1);
	ck_assert_int_eq(o.write_errno, ECONNREFUSED);
	ck_assert(!o.write_retry);
	ck_assert_int_eq(o.delivered, -1);
	ck_assert_int_eq(o.read, -1);
	ck_assert_int_eq(o.read_errno, ECONNREFUSED);
	ck_assert(!o.read_retry);
}
END_TEST

/*
 * The module's first batch at the fd limit: the system calls are probed
 * without a socket, so the batch goes through sendmmsg/recvmmsg, not the
 * one-at-a-time fallback.  Each test runs in a process of its own, where
 * the module has not probed yet (see suite_dgram).
 */
START_TEST(test_first_batch_at_fd_limit)
{
	enum { N = 8 };
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	const BIO_METHOD *m = module_method();
	uint64_t fallback0 = module_counter(DGB_PARAM_FALLBACK_BATCHES);
	BIO *ba, *bb;
	BIO_ADDR *to;
	DGB_MSG out[N], in[N];
	char data[N][8], got[N][8];
	size_t done = 0, received = 0;
	struct rlimit saved;

	tu_fd_limit_reach(&saved);
	ba = BIO_new(m);
	bb = BIO_new(m);
	to = env_bio_addr(&b);
	ck_assert_int_eq(BIO_set_fd(ba, fa, BIO_CLOSE), 1);
	ck_assert_int_eq(BIO_set_fd(bb, fb, BIO_CLOSE), 1);
	memset(out, 0, sizeof(out));
	for (int i = 0; i < N; i++) {
		snprintf(data[i], sizeof(data[i]), "dg %d", i);
		out[i].data = data[i];
		out[i].data_len = strlen(data[i]);
		out[i].peer = to;
	}
	ck_assert_int_eq(DGB_sendmmsg(ba, out, sizeof(DGB_MSG), N, 0, &done), 1);
	ck_assert_uint_eq(done, N);
	while (received < N) {
		size_t n = 0;

		memset(in, 0, sizeof(in));
		for (size_t i = 0; i < N - received; i++) {
			in[i].data = got[received + i];
			in[i].data_len = sizeof(got[0]);
		}
		ck_assert_int_eq(DGB_recvmmsg(bb, in, sizeof(DGB_MSG), N - received, 0, &n), 1);
		for (size_t i = 0; i < n; i++)
			ck_assert_uint_eq(in[i].data_len, strlen(data[received + i]));
		received += n;
	}
	tu_fd_limit_restore(&saved);
	for (int i = 0; i < N; i++)
		ck_assert_mem_eq(got[i], data[i], strlen(data[i]));
	ck_assert_uint_eq(module_counter(DGB_PARAM_FALLBACK_BATCHES), fallback0);
	BIO_ADDR_free(to);
	BIO_free(ba);
	BIO_free(bb);
}
END_TEST

/* --- registration ------------------------------------------------------------ */

DIFF_TEST(sc_rw_ipv4, 0)
DIFF_TEST(sc_rw_ipv6, DIFF_IPV6)
DIFF_TEST(sc_hazard, 0)
DIFF_TEST(sc_connected, 0)
DIFF_TEST(sc_dgram_connect, 0)
DIFF_TEST(sc_get_peer_sizes, 0)
DIFF_TEST(sc_wrong_family, 0)
DIFF_TEST(sc_fd_and_close, 0)
DIFF_TEST(sc_misc_ctrls, 0)
DIFF_TEST(sc_dup, 0)
DIFF_TEST(sc_nbio_eagain, DIFF_SINCE_32)
DIFF_TEST(sc_nonblocking_fd, 0)
DIFF_TEST(sc_recv_timeout, 0)
DIFF_TEST(sc_send_timeout, 0)
DIFF_TEST(sc_next_timeout, 0)
DIFF_TEST(sc_eintr, 0)
DIFF_TEST(sc_mtu_ipv4, 0)
DIFF_TEST(sc_mtu_ipv6, DIFF_IPV6)
DIFF_TEST(sc_dual_stack, DIFF_IPV6)
DIFF_TEST(sc_peek, 0)
DIFF_TEST(sc_local_addr_ipv4, DIFF_SINCE_32)
DIFF_TEST(sc_local_addr_ipv6, DIFF_SINCE_32 | DIFF_IPV6)
DIFF_TEST(sc_poll_descriptors, DIFF_SINCE_32)
DIFF_TEST(sc_detect_connected, DIFF_SINCE_32)
DIFF_TEST(sc_closed_fd, 0)
DIFF_TEST(sc_tcp_fd, 0)
DIFF_TEST(sc_pipe_fd, 0)
DIFF_TEST(sc_bio_socket_api, 0)
DIFF_TEST(sc_bio_socket_ipv6, DIFF_IPV6)

static void ignore_sigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
}

Suite *suite_dgram(void)
{
	Suite *s = suite_create("dgram");
	TCase *tc = tcase_create("differential");
	const char *why;
	int v6 = tu_ipv6_available(&why);

	tcase_add_unchecked_fixture(tc, ignore_sigpipe, NULL);
	tcase_set_timeout(tc, 30);
#define ADD(sc, flags)                                                         \
	do {                                                                   \
		if (((flags) & DIFF_IPV6) && !v6)                              \
			fprintf(stderr, "SKIP %s: %s\n", #sc, why);            \
		else                                                           \
			tcase_add_test(tc, test_##sc);                         \
	} while (0)
	ADD(sc_rw_ipv4, 0);
	ADD(sc_rw_ipv6, DIFF_IPV6);
	ADD(sc_hazard, 0);
	ADD(sc_connected, 0);
	ADD(sc_dgram_connect, 0);
	ADD(sc_get_peer_sizes, 0);
	ADD(sc_wrong_family, 0);
	ADD(sc_fd_and_close, 0);
	ADD(sc_misc_ctrls, 0);
	ADD(sc_dup, 0);
	ADD(sc_nbio_eagain, DIFF_SINCE_32);
	ADD(sc_nonblocking_fd, 0);
	ADD(sc_recv_timeout, 0);
	ADD(sc_send_timeout, 0);
	ADD(sc_next_timeout, 0);
	ADD(sc_eintr, 0);
	ADD(sc_mtu_ipv4, 0);
	ADD(sc_mtu_ipv6, DIFF_IPV6);
	ADD(sc_dual_stack, DIFF_IPV6);
	ADD(sc_peek, 0);
	ADD(sc_local_addr_ipv4, DIFF_SINCE_32);
	ADD(sc_local_addr_ipv6, DIFF_SINCE_32 | DIFF_IPV6);
	ADD(sc_poll_descriptors, DIFF_SINCE_32);
	ADD(sc_detect_connected, DIFF_SINCE_32);
	ADD(sc_closed_fd, 0);
	ADD(sc_tcp_fd, 0);
	ADD(sc_pipe_fd, 0);
	ADD(sc_bio_socket_api, 0);
	ADD(sc_bio_socket_ipv6, DIFF_IPV6);
#undef ADD
	tcase_add_test(tc, test_null_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("module");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_icmp_absorbed);
	tcase_add_test(tc, test_icmp_absorbed_blocking_read);
	tcase_add_test(tc, test_icmp_openssl_fatal);
	tcase_add_loop_test(tc, test_read_eagain_under_pressure, 0, PRESSURE_RUNS);
	tcase_add_loop_test(tc, test_recvmmsg_eagain_under_pressure, 0, PRESSURE_RUNS);
	if (PRESSURE_RUNS < PRESSURE_KINDS)
		fprintf(stderr, "SKIP test_read_eagain_under_pressure, "
				"test_recvmmsg_eagain_under_pressure under RLIMIT_AS: the sanitizer's "
				"reserved memory leaves no address space limit to lower\n");
	/* Only a fresh process has a module that has not probed yet. */
	if (getenv("CK_FORK") != NULL && strcmp(getenv("CK_FORK"), "no") == 0)
		fprintf(stderr, "SKIP test_first_batch_at_fd_limit: CK_FORK=no, the module may have "
				"probed in an earlier test\n");
	else
		tcase_add_test(tc, test_first_batch_at_fd_limit);
	suite_add_tcase(s, tc);
	return s;
}
