/*
 * test_mmsg.c - BIO_sendmmsg/BIO_recvmmsg on the module's BIO, through the
 * header API (DGB_sendmmsg/DGB_recvmmsg: native on OpenSSL 3.2+, private
 * controls on 3.0), on real loopback sockets.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Loop tests run twice: index 0 with sendmmsg/recvmmsg, index 1 with the
 * module told (DGRAMBATCH_CAPS_DISABLE, read when the module first probes,
 * which is inside the test's own process) to fall back to one
 * sendmsg/recvmsg per datagram; the results must be the same, and the
 * module's counters show which path ran.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <linux/net_tstamp.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "dgrambatch.h"
#include "dgram_diff.h"
#include "core/core.h"

#define NMAX 1500
#define PAYLOAD 1200

struct batch {
	size_t n;
	DGB_MSG *m;
	unsigned char *buf;
	BIO_ADDR **peer;
	BIO_ADDR **local;
};

static const char *const modes[] = { NULL, "sendmmsg,recvmmsg,udp_segment" };

/* The module, with capability mode _i in force from its first probe. */
static const BIO_METHOD *method_in_mode(int mode)
{
	if (modes[mode] != NULL)
		setenv("DGRAMBATCH_CAPS_DISABLE", modes[mode], 1);
	else
		unsetenv("DGRAMBATCH_CAPS_DISABLE");
	return module_method();
}

/* The fallback ran exactly when it was asked for. */
static void check_mode_ran(int mode, uint64_t fallbacks_before)
{
	uint64_t now = module_counter(DGB_PARAM_FALLBACK_BATCHES);

	if (mode == 0)
		ck_assert_uint_eq(now, fallbacks_before);
	else
		ck_assert_uint_gt(now, fallbacks_before);
}

static void batch_init(struct batch *b, size_t n)
{
	b->n = n;
	b->m = calloc(n, sizeof(*b->m));
	b->buf = calloc(n, PAYLOAD);
	b->peer = calloc(n, sizeof(*b->peer));
	b->local = calloc(n, sizeof(*b->local));
	ck_assert(b->m && b->buf && b->peer && b->local);
	for (size_t i = 0; i < n; i++) {
		b->m[i].data = b->buf + i * PAYLOAD;
		b->m[i].data_len = PAYLOAD;
	}
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		BIO_ADDR_free(b->peer[i]);
		BIO_ADDR_free(b->local[i]);
	}
	free(b->m);
	free(b->buf);
	free(b->peer);
	free(b->local);
}

/* Every message gets a BIO_ADDR for its peer (and local, if asked). */
static void batch_addrs(struct batch *b, int with_local)
{
	for (size_t i = 0; i < b->n; i++) {
		b->peer[i] = BIO_ADDR_new();
		b->m[i].peer = b->peer[i];
		if (with_local) {
			b->local[i] = BIO_ADDR_new();
			b->m[i].local = b->local[i];
		}
	}
}

/* Message i: length 1 + (i * 37) % len_mod bytes, content derived from i. */
static size_t fill_len(size_t i, size_t len_mod)
{
	return 1 + (i * 37) % len_mod;
}

/* Message i's bytes into p; returns its length. */
static size_t fill_one(unsigned char *p, size_t i, size_t len_mod)
{
	size_t len = fill_len(i, len_mod);

	for (size_t j = 0; j < len; j++)
		p[j] = (unsigned char)(i * 131 + j * 7);
	memcpy(p, &i, len < sizeof(i) ? len : sizeof(i));
	return len;
}

static void batch_fill(struct batch *b, size_t len_mod)
{
	for (size_t i = 0; i < b->n; i++)
		b->m[i].data_len = fill_one(b->m[i].data, i, len_mod);
}

/* A received message is message idx of batch_fill(), byte for byte. */
static void check_filled(const DGB_MSG *m, size_t idx, size_t len_mod)
{
	unsigned char want[PAYLOAD];

	ck_assert_uint_eq(m->data_len, fill_one(want, idx, len_mod));
	ck_assert_mem_eq(m->data, want, m->data_len);
	ck_assert_uint_eq(m->flags, 0);
}

static void batch_ready(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		b->m[i].data_len = PAYLOAD;
		b->m[i].flags = 0;
	}
}

/* A big receive buffer, so that 1024 datagrams in flight are not dropped. */
static int big_rcvbuf(int fd)
{
	int sz = 16 << 20;

	return setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == 0;
}

static BIO *bio_on(int fd)
{
	BIO *b = BIO_new(module_method());

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(BIO_set_fd(b, fd, BIO_CLOSE), 1);
	return b;
}

static void set_nonblock(int fd)
{
	ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static BIO_ADDR *addr_of(const union tu_addr *a)
{
	return env_bio_addr(a);
}

/* The port a BIO_ADDR names, and whether its address equals a's. */
static int same_addr(const BIO_ADDR *x, const union tu_addr *a)
{
	unsigned char raw[16];
	size_t len = sizeof(raw);

	if (BIO_ADDR_family(x) != a->sa.sa_family || !BIO_ADDR_rawaddress(x, raw, &len))
		return 0;
	if (a->sa.sa_family == AF_INET)
		return BIO_ADDR_rawport(x) == a->sin.sin_port &&
		       memcmp(raw, &a->sin.sin_addr, 4) == 0;
	return BIO_ADDR_rawport(x) == a->sin6.sin6_port && memcmp(raw, &a->sin6.sin6_addr, 16) == 0;
}

static unsigned long expect_error(int lib, int reason)
{
	unsigned long e = ERR_peek_last_error();

	ck_assert_msg(e != 0, "no error raised");
	ck_assert_msg(ERR_GET_LIB(e) == lib && ERR_GET_REASON(e) == reason,
		      "error lib %d reason %d, expected lib %d reason %d", ERR_GET_LIB(e),
		      ERR_GET_REASON(e), lib, reason);
	return e;
}

/*
 * Two of the module's BIOs, in capability mode `mode`, on loopback sockets
 * of `family`: ba sends to bb, whose socket has a receive buffer for 1024
 * datagrams in flight when `big`.
 */
struct link {
	union tu_addr a, b;
	int fa, fb;
	BIO *ba, *bb;
	BIO_ADDR *to;
};

static void link_open(struct link *l, int family, int mode, int big)
{
	ck_assert_ptr_nonnull(method_in_mode(mode));
	l->fa = tu_udp_loopback(family, &l->a);
	l->fb = tu_udp_loopback(family, &l->b);
	if (big && !big_rcvbuf(l->fb))
		ck_abort_msg("SO_RCVBUFFORCE: %s (the test runs as root in CI)", strerror(errno));
	l->ba = bio_on(l->fa);
	l->bb = bio_on(l->fb);
	l->to = addr_of(&l->b);
}

static void link_close(struct link *l)
{
	BIO_ADDR_free(l->to);
	BIO_free(l->ba);
	BIO_free(l->bb);
}

/* --- round trips of 1, 64, 1024 and 1500 (capped) messages -------------- */

static void roundtrip(int family, int mode, size_t n, size_t len_mod)
{
	struct link l;
	BIO *ba, *bb;
	struct batch tx, rx;
	size_t done = 4242, sent = 0;
	uint64_t fb0, calls0;

	link_open(&l, family, mode, n > 64);
	ba = l.ba;
	bb = l.bb;
	fb0 = module_counter(DGB_PARAM_FALLBACK_BATCHES);
	calls0 = module_counter(DGB_PARAM_TX_SYSCALLS);
	batch_init(&tx, n);
	batch_init(&rx, n > DGB_MAX_MSGS ? DGB_MAX_MSGS : n);
	batch_fill(&tx, len_mod);
	batch_addrs(&rx, 0);
	for (size_t i = 0; i < n; i++)
		tx.m[i].peer = l.to;

	while (sent < n) {
		size_t want = n - sent;

		ck_assert_int_eq(DGB_sendmmsg(ba, tx.m + sent, sizeof(DGB_MSG), want, 0, &done), 1);
		/* At most DGB_MAX_MSGS per call; the rest waits for the next. */
		ck_assert_uint_eq(done, want > DGB_MAX_MSGS ? DGB_MAX_MSGS : want);
		for (size_t i = sent; i < sent + done; i++) {
			ck_assert_uint_eq(tx.m[i].data_len, fill_len(i, len_mod));
			ck_assert_uint_eq(tx.m[i].flags, 0);
		}
		sent += done;
	}
	if (mode == 0)
		ck_assert_uint_eq(module_counter(DGB_PARAM_TX_SYSCALLS) - calls0,
				  (n + DGB_MAX_MSGS - 1) / DGB_MAX_MSGS);
	else
		ck_assert_uint_eq(module_counter(DGB_PARAM_TX_SYSCALLS) - calls0, n);

	for (size_t base = 0; base < n; base += rx.n) {
		size_t want = n - base < rx.n ? n - base : rx.n;
		for (size_t got = 0; got < want;) {
			batch_ready(&rx);
			ck_assert_int_eq(DGB_recvmmsg(bb, rx.m, sizeof(DGB_MSG), want - got, 0, &done),
					 1);
			ck_assert_uint_gt(done, 0);
			for (size_t i = 0; i < done; i++) {
				check_filled(&rx.m[i], base + got + i, len_mod);
				ck_assert(same_addr(rx.m[i].peer, &l.a));
			}
			got += done;
		}
	}
	/* One message takes sendmsg/recvmsg in both modes. */
	if (n > 1)
		check_mode_ran(mode, fb0);
	batch_free(&tx);
	batch_free(&rx);
	link_close(&l);
}

START_TEST(test_batch_1)
{
	roundtrip(AF_INET, _i, 1, PAYLOAD);
}
END_TEST

START_TEST(test_batch_64)
{
	roundtrip(AF_INET, _i, 64, PAYLOAD);
}
END_TEST

START_TEST(test_batch_1024)
{
	roundtrip(AF_INET, _i, 1024, 200);
}
END_TEST

START_TEST(test_batch_1500_capped)
{
	roundtrip(AF_INET, _i, 1500, 100);
}
END_TEST

START_TEST(test_batch_64_ipv6)
{
	roundtrip(AF_INET6, _i, 64, PAYLOAD);
}
END_TEST

/* --- destinations ---------------------------------------------------------- */

/* One batch, three destinations, each gets exactly its own datagrams. */
START_TEST(test_many_destinations)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, d[3];
	int fa = tu_udp_loopback(AF_INET, &a), fd[3];
	BIO *ba;
	BIO_ADDR *to[3];
	struct batch tx;
	size_t done = 99;
	char buf[64];

	ck_assert_ptr_nonnull(m);
	for (int k = 0; k < 3; k++) {
		fd[k] = tu_udp_loopback(AF_INET, &d[k]);
		to[k] = addr_of(&d[k]);
	}
	ba = bio_on(fa);
	batch_init(&tx, 9);
	for (size_t i = 0; i < 9; i++) {
		tx.m[i].data_len = (size_t)snprintf(tx.m[i].data, PAYLOAD, "to %zu #%zu", i % 3, i);
		tx.m[i].peer = to[i % 3];
	}
	ck_assert_int_eq(DGB_sendmmsg(ba, tx.m, sizeof(DGB_MSG), 9, 0, &done), 1);
	ck_assert_uint_eq(done, 9);
	for (int k = 0; k < 3; k++) {
		for (size_t i = (size_t)k; i < 9; i += 3) {
			char want[64];
			long r = raw_recv(fd[k], buf, sizeof(buf));

			snprintf(want, sizeof(want), "to %d #%zu", k, i);
			ck_assert_int_eq(r, (long)strlen(want));
			ck_assert_mem_eq(buf, want, strlen(want));
		}
		ck_assert_int_lt(recv(fd[k], buf, sizeof(buf), MSG_DONTWAIT), 0);
		BIO_ADDR_free(to[k]);
		close(fd[k]);
	}
	batch_free(&tx);
	BIO_free(ba);
}
END_TEST

/*
 * On a connected socket the destination is left out of the syscall: the
 * datagram goes to the connected peer whatever the message says.
 */
START_TEST(test_connected_leaves_out_destination)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b, c;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	int fc = tu_udp_loopback(AF_INET, &c);
	BIO *ba;
	BIO_ADDR *toc = addr_of(&c);
	DGB_MSG msg = { "conn", 4, NULL, NULL, 0 };
	size_t done = 5;
	char buf[16];

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(connect(fa, &b.sa, sizeof(b.sin)), 0);
	ba = bio_on(fa);
	msg.peer = toc;
	ck_assert_int_eq(DGB_sendmmsg(ba, &msg, sizeof(msg), 1, 0, &done), 1);
	ck_assert_uint_eq(done, 1);
	ck_assert_int_eq(raw_recv(fb, buf, sizeof(buf)), 4);
	ck_assert_int_lt(recv(fc, buf, sizeof(buf), MSG_DONTWAIT), 0);
	BIO_ADDR_free(toc);
	BIO_free(ba);
	close(fb);
	close(fc);
}
END_TEST

/* --- local addresses ------------------------------------------------------- */

/* A non-NULL local without BIO_dgram_set_local_addr_enable: nothing moves. */
START_TEST(test_local_not_enabled)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba, *bb;
	BIO_ADDR *to = addr_of(&b), *loc = addr_of(&a);
	DGB_MSG msg[3];
	size_t done = 5;
	char buf[16];

	ck_assert_ptr_nonnull(m);
	ba = bio_on(fa);
	bb = bio_on(fb);
	memset(msg, 0, sizeof(msg));
	for (int i = 0; i < 3; i++) {
		msg[i].data = "x";
		msg[i].data_len = 1;
		msg[i].peer = to;
	}
	msg[2].local = loc;
	ERR_clear_error();
	ck_assert_int_eq(DGB_sendmmsg(ba, msg, sizeof(DGB_MSG), 3, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	expect_error(ERR_LIB_BIO, BIO_R_LOCAL_ADDR_NOT_AVAILABLE);
	ck_assert_int_lt(recv(fb, buf, sizeof(buf), MSG_DONTWAIT), 0);

	/* Receiving with a local address is refused the same way. */
	sendto(fa, "y", 1, 0, &b.sa, sizeof(b.sin));
	ERR_clear_error();
	done = 5;
	msg[0].data = buf;
	msg[0].data_len = sizeof(buf);
	msg[0].local = loc;
	ck_assert_int_eq(DGB_recvmmsg(bb, msg, sizeof(DGB_MSG), 1, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	expect_error(ERR_LIB_BIO, BIO_R_LOCAL_ADDR_NOT_AVAILABLE);
	/* The datagram is still there. */
	ck_assert_int_eq(raw_recv(fb, buf, sizeof(buf)), 1);
	BIO_ADDR_free(to);
	BIO_ADDR_free(loc);
	BIO_free(ba);
	BIO_free(bb);
}
END_TEST

/*
 * Sending from a chosen local address on a socket bound to 0.0.0.0: the
 * receiver sees that address as the source.  All of 127/8 is local, so
 * 127.0.0.5 is a real second address here.
 */
START_TEST(test_local_send_wildcard)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b, src, chosen;
	int fa = tu_udp_wildcard(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba;
	BIO_ADDR *to = addr_of(&b), *loc;
	DGB_MSG msg = { "from .5", 7, NULL, NULL, 0 };
	size_t done = 5;
	socklen_t len = sizeof(src);
	char buf[16];

	ck_assert_ptr_nonnull(m);
	ba = bio_on(fa);
	ck_assert_int_eq(BIO_dgram_get_local_addr_cap(ba), 1);
	ck_assert_int_eq(BIO_dgram_set_local_addr_enable(ba, 1), 1);
	memset(&chosen, 0, sizeof(chosen));
	chosen.sin.sin_family = AF_INET;
	chosen.sin.sin_addr.s_addr = htonl(0x7f000005);
	loc = addr_of(&chosen);
	msg.peer = to;
	msg.local = loc;
	ck_assert_int_eq(DGB_sendmmsg(ba, &msg, sizeof(msg), 1, 0, &done), 1);
	ck_assert_uint_eq(done, 1);
	ck_assert_int_eq(recvfrom(fb, buf, sizeof(buf), 0, &src.sa, &len), 7);
	ck_assert_uint_eq(ntohl(src.sin.sin_addr.s_addr), 0x7f000005);
	ck_assert_uint_eq(src.sin.sin_port, a.sin.sin_port);

	/* The source port cannot be chosen: another port is refused. */
	chosen.sin.sin_port = htons(ntohs(a.sin.sin_port) ^ 1);
	BIO_ADDR_free(loc);
	loc = addr_of(&chosen);
	msg.local = loc;
	ERR_clear_error();
	ck_assert_int_eq(DGB_sendmmsg(ba, &msg, sizeof(msg), 1, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	expect_error(ERR_LIB_BIO, BIO_R_LOCAL_ADDR_NOT_AVAILABLE);
	ck_assert_int_eq(ERR_GET_REASON(ERR_get_error()), BIO_R_PORT_MISMATCH);
	BIO_ADDR_free(to);
	BIO_ADDR_free(loc);
	BIO_free(ba);
	close(fb);
}
END_TEST

/*
 * A socket bound only after it was attached: enabling local addresses
 * picks up its address and port, so its own port is accepted.
 */
START_TEST(test_local_after_bind)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b, src, chosen;
	int fa = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba;
	BIO_ADDR *to = addr_of(&b), *loc;
	DGB_MSG msg = { "late", 4, NULL, NULL, 0 };
	size_t done = 5;
	socklen_t len = sizeof(a);
	char buf[8];

	ck_assert_ptr_nonnull(m);
	ba = bio_on(fa);
	memset(&a, 0, sizeof(a));
	a.sin.sin_family = AF_INET;
	ck_assert_int_eq(bind(fa, &a.sa, sizeof(a.sin)), 0);
	ck_assert_int_eq(getsockname(fa, &a.sa, &len), 0);
	ck_assert_int_eq(BIO_dgram_set_local_addr_enable(ba, 1), 1);
	memset(&chosen, 0, sizeof(chosen));
	chosen.sin.sin_family = AF_INET;
	chosen.sin.sin_addr.s_addr = htonl(0x7f000005);
	chosen.sin.sin_port = a.sin.sin_port;
	loc = addr_of(&chosen);
	msg.peer = to;
	msg.local = loc;
	ck_assert_int_eq(DGB_sendmmsg(ba, &msg, sizeof(msg), 1, 0, &done), 1);
	len = sizeof(src);
	ck_assert_int_eq(recvfrom(fb, buf, sizeof(buf), 0, &src.sa, &len), 4);
	ck_assert_uint_eq(src.sin.sin_port, a.sin.sin_port);
	ck_assert_uint_eq(ntohl(src.sin.sin_addr.s_addr), 0x7f000005);
	BIO_ADDR_free(to);
	BIO_ADDR_free(loc);
	BIO_free(ba);
	close(fb);
}
END_TEST

START_TEST(test_local_send_wildcard_ipv6)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b, src, chosen;
	int fa = tu_udp_wildcard(AF_INET6, &a), fb = tu_udp_loopback(AF_INET6, &b);
	BIO *ba;
	BIO_ADDR *to = addr_of(&b), *loc;
	DGB_MSG msg = { "six", 3, NULL, NULL, 0 };
	size_t done = 5;
	socklen_t len = sizeof(src);
	char buf[16];

	ck_assert_ptr_nonnull(m);
	ba = bio_on(fa);
	ck_assert_int_eq(BIO_dgram_set_local_addr_enable(ba, 1), 1);
	memset(&chosen, 0, sizeof(chosen));
	chosen.sin6.sin6_family = AF_INET6;
	chosen.sin6.sin6_addr = in6addr_loopback;
	loc = addr_of(&chosen);
	msg.peer = to;
	msg.local = loc;
	ck_assert_int_eq(DGB_sendmmsg(ba, &msg, sizeof(msg), 1, 0, &done), 1);
	ck_assert_int_eq(recvfrom(fb, buf, sizeof(buf), 0, &src.sa, &len), 3);
	ck_assert(IN6_IS_ADDR_LOOPBACK(&src.sin6.sin6_addr));
	ck_assert_uint_eq(src.sin6.sin6_port, a.sin6.sin6_port);
	BIO_ADDR_free(to);
	BIO_ADDR_free(loc);
	BIO_free(ba);
	close(fb);
}
END_TEST

/*
 * The address a datagram arrived on, on a socket bound to 0.0.0.0: each
 * message reports its own, with the socket's port.
 */
START_TEST(test_local_recv_wildcard)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b, to;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_wildcard(AF_INET, &b);
	BIO *bb;
	struct batch rx;
	size_t done = 5;

	ck_assert_ptr_nonnull(m);
	bb = bio_on(fb);
	set_nonblock(fb);
	ck_assert_int_eq(BIO_dgram_set_local_addr_enable(bb, 1), 1);
	to = b;
	for (unsigned int k = 7; k <= 9; k++) {
		to.sin.sin_addr.s_addr = htonl(0x7f000000 | k);
		ck_assert_int_eq(sendto(fa, "l", 1, 0, &to.sa, sizeof(to.sin)), 1);
	}
	batch_init(&rx, 4);
	batch_addrs(&rx, 1);
	ck_assert_int_eq(DGB_recvmmsg(bb, rx.m, sizeof(DGB_MSG), 4, 0, &done), 1);
	ck_assert_uint_eq(done, 3);
	for (unsigned int k = 0; k < 3; k++) {
		unsigned char raw[4];
		size_t len = sizeof(raw);

		ck_assert_int_eq(BIO_ADDR_family(rx.local[k]), AF_INET);
		ck_assert(BIO_ADDR_rawaddress(rx.local[k], raw, &len));
		ck_assert_uint_eq(raw[3], 7 + k);
		ck_assert_uint_eq(BIO_ADDR_rawport(rx.local[k]), b.sin.sin_port);
		ck_assert(same_addr(rx.peer[k], &a));
	}
	BIO_free(bb);
	batch_free(&rx);
	close(fa);
}
END_TEST

START_TEST(test_local_recv_wildcard_ipv6)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b, to;
	int fa = tu_udp_loopback(AF_INET6, &a), fb = tu_udp_wildcard(AF_INET6, &b);
	BIO *bb;
	struct batch rx;
	size_t done = 5;

	ck_assert_ptr_nonnull(m);
	bb = bio_on(fb);
	set_nonblock(fb);
	ck_assert_int_eq(BIO_dgram_set_local_addr_enable(bb, 1), 1);
	to = b;
	to.sin6.sin6_addr = in6addr_loopback;
	ck_assert_int_eq(sendto(fa, "six", 3, 0, &to.sa, sizeof(to.sin6)), 3);
	batch_init(&rx, 2);
	batch_addrs(&rx, 1);
	ck_assert_int_eq(DGB_recvmmsg(bb, rx.m, sizeof(DGB_MSG), 2, 0, &done), 1);
	ck_assert_uint_eq(done, 1);
	ck_assert_int_eq(BIO_ADDR_family(rx.local[0]), AF_INET6);
	{
		struct in6_addr got;
		size_t len = sizeof(got);

		ck_assert(BIO_ADDR_rawaddress(rx.local[0], &got, &len));
		ck_assert(IN6_IS_ADDR_LOOPBACK(&got));
	}
	ck_assert_uint_eq(BIO_ADDR_rawport(rx.local[0]), b.sin6.sin6_port);
	ck_assert(same_addr(rx.peer[0], &a));
	batch_free(&rx);
	BIO_free(bb);
	close(fa);
}
END_TEST

START_TEST(test_local_cleared_when_not_reported)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *bb;
	struct batch rx;
	size_t done = 5;
	int off = 0;

	ck_assert_ptr_nonnull(m);
	bb = bio_on(fb);
	ck_assert_int_eq(BIO_dgram_set_local_addr_enable(bb, 1), 1);
	ck_assert_int_eq(setsockopt(fb, IPPROTO_IP, IP_PKTINFO, &off, sizeof(off)), 0);
	ck_assert_int_eq(sendto(fa, "n", 1, 0, &b.sa, sizeof(b.sin)), 1);
	batch_init(&rx, 1);
	batch_addrs(&rx, 1);
	ck_assert(BIO_ADDR_rawmake(rx.local[0], AF_INET, &a.sin.sin_addr, 4, a.sin.sin_port));
	ck_assert_int_eq(DGB_recvmmsg(bb, rx.m, sizeof(DGB_MSG), 1, 0, &done), 1);
	ck_assert_uint_eq(done, 1);
	ck_assert_int_eq(BIO_ADDR_family(rx.local[0]), AF_UNSPEC);
	batch_free(&rx);
	BIO_free(bb);
	close(fa);
}
END_TEST

/*
 * Control messages an application enables on the socket come before the
 * module's IP_PKTINFO/IPV6_PKTINFO and can crowd it out of the module's
 * control buffer (DGB_CMSG_SPACE bytes a datagram): the kernel cuts it
 * short and sets MSG_CTRUNC.  SO_TIMESTAMPING's 64 bytes do, on either
 * family; SO_TIMESTAMPNS's 32 leave room.  A cut one must give no local
 * address, never a wrong one, nor a read past the buffer, which the last
 * of 1024 slots ends (ASan sees that).
 */
#define TS_SOFTWARE (SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE)

/*
 * Datagrams from `from` to fd until the kernel stamps them: it turns
 * software receive timestamps on a moment after the first socket asks.
 * Returns the control space one datagram then needs.
 */
static size_t cmsg_space_needed(int from, int fd, const union tu_addr *to)
{
	union {
		char buf[512];
		struct cmsghdr align;
	} ctl;
	char data[8];

	for (int tries = 0; tries < 200; tries++) {
		struct iovec iov = { data, sizeof(data) };
		struct msghdr mh;
		int stamped = 0;

		ck_assert_int_eq(sendto(from, "stamp", 5, 0, &to->sa, tu_addr_len(to)), 5);
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		ck_assert_int_eq(recvmsg(fd, &mh, 0), 5);
		ck_assert_int_eq(mh.msg_flags & MSG_CTRUNC, 0);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
			stamped |= c->cmsg_level == SOL_SOCKET;
		if (stamped)
			return mh.msg_controllen;
		usleep(10000);
	}
	ck_abort_msg("no receive timestamps on loopback after 2s");
	return 0;
}

/*
 * gro 0: the BIO receives into the callers' buffers, and the kernel crowds
 * the local address out of the module's control space.  gro 1 (where the
 * kernel has it): the module receives into its own, larger, and copies the
 * local address first, so nothing is crowded out.
 */
static void recv_local_crowded(int family, int mode, int opt, int val, int truncates, int gro)
{
	struct link l;
	struct batch tx, rx;
	size_t n = DGB_MAX_MSGS, done, got, cleared = 0, space;

	link_open(&l, family, mode, 1);
	if (!gro)
		ck_assert_int_eq(DGB_set_gro(l.bb, 0), 1);
	ck_assert_int_eq(BIO_dgram_set_local_addr_enable(l.bb, 1), 1);
	ck_assert_int_eq(setsockopt(l.fb, SOL_SOCKET, opt, &val, sizeof(val)), 0);
	space = cmsg_space_needed(l.fa, l.fb, &l.b);
	ck_assert_msg((space > DGB_CMSG_SPACE) == truncates,
		      "a datagram needs %zu bytes of control space, the module has %zu", space,
		      (size_t)DGB_CMSG_SPACE);

	batch_init(&tx, n);
	batch_fill(&tx, 200);
	for (size_t i = 0; i < n; i++)
		tx.m[i].peer = l.to;
	for (size_t sent = 0; sent < n; sent += done)
		ck_assert_int_eq(
			DGB_sendmmsg(l.ba, tx.m + sent, sizeof(DGB_MSG), n - sent, 0, &done), 1);
	batch_init(&rx, n);
	batch_addrs(&rx, 1);
	for (got = 0; got < n; got += done) {
		batch_ready(&rx);
		ck_assert_int_eq(DGB_recvmmsg(l.bb, rx.m, sizeof(DGB_MSG), n - got, 0, &done), 1);
		for (size_t i = 0; i < done; i++) {
			check_filled(&rx.m[i], got + i, 200);
			if (BIO_ADDR_family(rx.local[i]) == AF_UNSPEC)
				cleared++;
			else
				ck_assert_msg(same_addr(rx.local[i], &l.b),
					      "datagram %zu: local address %s port %u, not the socket's",
					      got + i, BIO_ADDR_hostname_string(rx.local[i], 1),
					      ntohs(BIO_ADDR_rawport(rx.local[i])));
		}
	}
	fprintf(stderr,
		"local addresses crowded out (family %d, option %d, mode %d, gro %d): %zu of %zu\n",
		family, opt, mode, DGB_get_gro(l.bb), cleared, n);
	if (truncates && !DGB_get_gro(l.bb))
		ck_assert_uint_gt(cleared, 0);
	else
		ck_assert_uint_eq(cleared, 0);
	batch_free(&tx);
	batch_free(&rx);
	link_close(&l);
}

START_TEST(test_local_crowded_out)
{
	recv_local_crowded(AF_INET, _i, SO_TIMESTAMPING, TS_SOFTWARE, 1, 0);
	recv_local_crowded(AF_INET, _i, SO_TIMESTAMPING, TS_SOFTWARE, 1, 1);
}
END_TEST

START_TEST(test_local_crowded_out_ipv6)
{
	recv_local_crowded(AF_INET6, _i, SO_TIMESTAMPING, TS_SOFTWARE, 1, 0);
	recv_local_crowded(AF_INET6, _i, SO_TIMESTAMPING, TS_SOFTWARE, 1, 1);
}
END_TEST

START_TEST(test_local_room_left)
{
	recv_local_crowded(AF_INET, _i, SO_TIMESTAMPNS, 1, 0, 1);
}
END_TEST

START_TEST(test_local_room_left_ipv6)
{
	recv_local_crowded(AF_INET6, _i, SO_TIMESTAMPNS, 1, 0, 1);
}
END_TEST

/* --- arguments --------------------------------------------------------------- */

struct wide_msg {
	DGB_MSG msg;
	uint64_t canary[3];
};

/* A stride larger than DGB_MSG is honoured and the rest left alone. */
START_TEST(test_stride_larger)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba, *bb;
	BIO_ADDR *to = addr_of(&b);
	struct wide_msg w[4];
	char in[4][16];
	size_t done = 5;

	ck_assert_ptr_nonnull(m);
	ba = bio_on(fa);
	bb = bio_on(fb);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < 4; i++) {
		w[i].msg.data = "wide";
		w[i].msg.data_len = 4;
		w[i].msg.peer = to;
		w[i].canary[0] = w[i].canary[1] = w[i].canary[2] = 0x5a5a5a5a5a5a5a5aULL;
	}
	ck_assert_int_eq(DGB_sendmmsg(ba, &w[0].msg, sizeof(w[0]), 4, 0, &done), 1);
	ck_assert_uint_eq(done, 4);
	for (int i = 0; i < 4; i++) {
		w[i].msg.data = in[i];
		w[i].msg.data_len = sizeof(in[i]);
		w[i].msg.peer = NULL;
	}
	for (size_t got = 0; got < 4; got += done)
		ck_assert_int_eq(DGB_recvmmsg(bb, &w[got].msg, sizeof(w[0]), 4 - got, 0, &done), 1);
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_eq(w[i].msg.data_len, 4);
		ck_assert_mem_eq(in[i], "wide", 4);
		ck_assert_uint_eq(w[i].canary[0] & w[i].canary[1] & w[i].canary[2],
				  0x5a5a5a5a5a5a5a5aULL);
	}
	BIO_ADDR_free(to);
	BIO_free(ba);
	BIO_free(bb);
}
END_TEST

/*
 * Bad arguments: an error, *msgs_processed 0, and nothing sent or taken
 * off the socket.
 */
START_TEST(test_bad_arguments)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba, *bb;
	BIO_ADDR *to = addr_of(&b);
	DGB_MSG msg[2] = { { "a", 1, NULL, NULL, 0 }, { "b", 1, NULL, NULL, 0 } };
	size_t done;
	char buf[8];

	ck_assert_ptr_nonnull(m);
	ba = bio_on(fa);
	bb = bio_on(fb);
	msg[0].peer = msg[1].peer = to;

	/* A stride below sizeof(BIO_MSG). */
	ERR_clear_error();
	done = 9;
	ck_assert_int_eq(DGB_sendmmsg(ba, msg, sizeof(DGB_MSG) - 1, 2, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	expect_error(ERR_LIB_BIO, ERR_R_PASSED_INVALID_ARGUMENT);
	/* A NULL array, and a NULL payload with a length. */
	ERR_clear_error();
	done = 9;
	ck_assert_int_eq(DGB_sendmmsg(ba, NULL, sizeof(DGB_MSG), 2, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	expect_error(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
	ERR_clear_error();
	done = 9;
	msg[0].data = NULL;
	ck_assert_int_eq(DGB_sendmmsg(ba, msg, sizeof(DGB_MSG), 2, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	expect_error(ERR_LIB_BIO, ERR_R_PASSED_NULL_PARAMETER);
	msg[0].data = "a";
	/* A NULL BIO. */
	ERR_clear_error();
	done = 9;
	ck_assert_int_eq(DGB_sendmmsg(NULL, msg, sizeof(DGB_MSG), 2, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	ck_assert_uint_ne(ERR_peek_last_error(), 0);
	/* Nothing went out. */
	ck_assert_int_lt(recv(fb, buf, sizeof(buf), MSG_DONTWAIT), 0);

	/* Receiving: a datagram waits; bad arguments leave it there. */
	ck_assert_int_eq(sendto(fa, "kept", 4, 0, &b.sa, sizeof(b.sin)), 4);
	msg[0].data = buf;
	msg[0].data_len = sizeof(buf);
	ERR_clear_error();
	done = 9;
	ck_assert_int_eq(DGB_recvmmsg(bb, msg, 8, 1, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	expect_error(ERR_LIB_BIO, ERR_R_PASSED_INVALID_ARGUMENT);
	ck_assert_int_eq(raw_recv(fb, buf, sizeof(buf)), 4);

	/* Zero messages: success, nothing processed. */
	done = 9;
	ck_assert_int_eq(DGB_sendmmsg(ba, msg, sizeof(DGB_MSG), 0, 0, &done), 1);
	ck_assert_uint_eq(done, 0);
	ERR_clear_error();
	BIO_ADDR_free(to);
	BIO_free(ba);
	BIO_free(bb);
}
END_TEST

/* --- errors ---------------------------------------------------------------- */

/* The module's BIO, in capability mode `mode`, on an empty non-blocking socket. */
static BIO *bio_empty_nonblocking(int mode)
{
	const BIO_METHOD *m = method_in_mode(mode);
	union tu_addr b;
	BIO *bb;

	ck_assert_ptr_nonnull(m);
	bb = bio_on(tu_udp_loopback(AF_INET, &b));
	ck_assert_int_eq(BIO_set_nbio(bb, 1), 1);
	return bb;
}

/* Nothing to read on a non-blocking socket: a non-fatal error. */
START_TEST(test_eagain_non_fatal)
{
	BIO *bb = bio_empty_nonblocking(_i);
	char buf[8];
	DGB_MSG msg = { buf, sizeof(buf), NULL, NULL, 0 };
	size_t done = 3;
	unsigned long e;

	ERR_clear_error();
	ck_assert_int_eq(DGB_recvmmsg(bb, &msg, sizeof(msg), 1, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	e = expect_error(ERR_LIB_SYS, EAGAIN);
	ck_assert_int_eq(DGB_err_is_non_fatal((unsigned int)e), 1);
	/* Batched calls leave the retry flags alone. */
	ck_assert(!BIO_should_retry(bb));
	ERR_clear_error();
	BIO_free(bb);
}
END_TEST

#define EAGAIN_CALLS 1000

/* Pop an ERR_LIB_SYS EAGAIN, the only error on the stack, without text. */
static void pop_eagain(void)
{
	const char *data = NULL;
	int flags = 0;
	unsigned long e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);

	ck_assert_int_eq(ERR_GET_LIB(e), ERR_LIB_SYS);
	ck_assert_int_eq(ERR_GET_REASON(e), EAGAIN);
	ck_assert_msg((flags & ERR_TXT_STRING) == 0 || data == NULL || *data == '\0',
		      "EAGAIN raised with the text \"%s\"", data);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}

/*
 * OpenSSL's QUIC stack meets EAGAIN on every tick, so on an empty socket a
 * call must cost no more than OpenSSL's own ERR_raise(), which copies the
 * file and function names (two allocations, and two frees when popped):
 * no formatted text.  The first call sets up this thread's state (error
 * queue, batch space, counters).
 */
START_TEST(test_eagain_allocates_no_text)
{
	BIO *bb;
	char buf[8];
	DGB_MSG msg = { buf, sizeof(buf), NULL, NULL, 0 };
	size_t done = 3;
	unsigned long before, calls, bare;

	ck_assert_msg(tu_alloc_count_installed(),
		      "CRYPTO_set_mem_functions() failed in main(): OpenSSL allocated first, "
		      "so its allocations cannot be counted");
	bb = bio_empty_nonblocking(_i);
	ck_assert_int_eq(DGB_recvmmsg(bb, &msg, sizeof(msg), 1, 0, &done), 0);
	expect_error(ERR_LIB_SYS, EAGAIN);
	ERR_clear_error();
	before = tu_alloc_count();
	for (int k = 0; k < EAGAIN_CALLS; k++) {
		done = 3;
		ck_assert_int_eq(DGB_recvmmsg(bb, &msg, sizeof(msg), 1, 0, &done), 0);
		ck_assert_uint_eq(done, 0);
		pop_eagain();
	}
	calls = tu_alloc_count() - before;
	before = tu_alloc_count();
	for (int k = 0; k < EAGAIN_CALLS; k++) {
		ERR_raise(ERR_LIB_SYS, EAGAIN);
		pop_eagain();
	}
	bare = tu_alloc_count() - before;
	fprintf(stderr, "EAGAIN (mode %d): %lu allocator calls in %d receives, %lu in as many "
			"ERR_raise()\n",
		_i, calls, EAGAIN_CALLS, bare);
	ck_assert_msg(calls <= bare,
		      "%d receives on an empty socket made %lu allocator calls, as many "
		      "ERR_raise() %lu",
		      EAGAIN_CALLS, calls, bare);
	BIO_free(bb);
}
END_TEST

/*
 * A port unreachable (ICMP, which anyone on the path can forge) is reported
 * by the kernel on a later call; it must not look fatal, and it is counted.
 */
START_TEST(test_icmp_not_fatal)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, gone;
	int fa = tu_udp_loopback(AF_INET, &a), fg = tu_udp_loopback(AF_INET, &gone);
	BIO *ba;
	DGB_MSG msg = { "ping", 4, NULL, NULL, 0 };
	char buf[8];
	size_t done = 3;
	int r = 1;
	uint64_t icmp0;

	ck_assert_ptr_nonnull(m);
	icmp0 = module_counter(DGB_PARAM_ICMP_ERRORS);
	close(fg);
	ck_assert_int_eq(connect(fa, &gone.sa, sizeof(gone.sin)), 0);
	ba = bio_on(fa);
	ck_assert_int_eq(BIO_set_nbio(ba, 1), 1);
	ck_assert_int_eq(DGB_sendmmsg(ba, &msg, sizeof(msg), 1, 0, &done), 1);
	for (int tries = 0; tries < 100; tries++) {
		ERR_clear_error();
		msg.data = buf;
		msg.data_len = sizeof(buf);
		r = DGB_recvmmsg(ba, &msg, sizeof(msg), 1, 0, &done);
		if (r == 0 && ERR_GET_LIB(ERR_peek_last_error()) == ERR_LIB_SYS &&
		    ERR_GET_REASON(ERR_peek_last_error()) == EAGAIN) {
			usleep(10000);
			continue;
		}
		break;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(done, 0);
	ck_assert_int_eq(DGB_err_is_non_fatal(
				 (unsigned int)expect_error(ERR_LIB_BIO, BIO_R_NON_FATAL)),
			 1);
	ck_assert_uint_eq(module_counter(DGB_PARAM_ICMP_ERRORS) - icmp0, 1);
	ERR_clear_error();
	BIO_free(ba);
}
END_TEST

/* A socket error on a bad descriptor is a fatal ERR_LIB_SYS error. */
START_TEST(test_fatal_error)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a;
	int fa = tu_udp_loopback(AF_INET, &a);
	BIO *ba = BIO_new(m);
	DGB_MSG msg = { "x", 1, NULL, NULL, 0 };
	size_t done = 3;
	unsigned long e;

	close(fa);
	ck_assert_int_eq(BIO_set_fd(ba, fa, BIO_NOCLOSE), 1);
	ERR_clear_error();
	ck_assert_int_eq(DGB_sendmmsg(ba, &msg, sizeof(msg), 1, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	e = expect_error(ERR_LIB_SYS, EBADF);
	ck_assert_int_eq(DGB_err_is_non_fatal((unsigned int)e), 0);
	ERR_clear_error();
	BIO_free(ba);
}
END_TEST

/* A TCP socket that is not connected: an error to report, not a SIGPIPE. */
START_TEST(test_tcp_fd_no_sigpipe)
{
	const BIO_METHOD *m = method_in_mode(_i);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	BIO *b = BIO_new(m);
	DGB_MSG msg = { "x", 1, NULL, NULL, 0 };
	size_t done = 3;
	unsigned long e;

	signal(SIGPIPE, SIG_DFL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(BIO_set_fd(b, fd, BIO_CLOSE), 1);
	ERR_clear_error();
	ck_assert_int_eq(DGB_sendmmsg(b, &msg, sizeof(msg), 1, 0, &done), 0);
	ck_assert_uint_eq(done, 0);
	e = ERR_peek_last_error();
	ck_assert_int_eq(ERR_GET_LIB(e), ERR_LIB_SYS);
	ck_assert(ERR_GET_REASON(e) == EPIPE || ERR_GET_REASON(e) == ENOTCONN);
	ERR_clear_error();
	BIO_free(b);
}
END_TEST

/* --- peer, peek, truncation ------------------------------------------------- */

/* As with BIO_read, a receive on an unconnected socket learns the peer. */
START_TEST(test_recv_learns_peer)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b, c;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	int fc = tu_udp_loopback(AF_INET, &c);
	BIO *bb;
	struct batch rx;
	size_t done = 3;
	BIO_ADDR *peer = BIO_ADDR_new();
	char buf[8];

	ck_assert_ptr_nonnull(m);
	bb = bio_on(fb);
	set_nonblock(fb);
	sendto(fa, "1", 1, 0, &b.sa, sizeof(b.sin));
	sendto(fc, "2", 1, 0, &b.sa, sizeof(b.sin));
	batch_init(&rx, 4);
	ck_assert_int_eq(DGB_recvmmsg(bb, rx.m, sizeof(DGB_MSG), 4, 0, &done), 1);
	ck_assert_uint_eq(done, 2);
	ck_assert_int_gt(BIO_dgram_get_peer(bb, peer), 0);
	ck_assert(same_addr(peer, &c));
	/* The reply goes there. */
	ck_assert_int_eq(BIO_write(bb, "r", 1), 1);
	ck_assert_int_eq(raw_recv(fc, buf, sizeof(buf)), 1);
	BIO_ADDR_free(peer);
	batch_free(&rx);
	BIO_free(bb);
	close(fa);
	close(fc);
}
END_TEST

START_TEST(test_peek_mode)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *bb;
	struct batch rx;
	size_t done = 3;

	ck_assert_ptr_nonnull(m);
	bb = bio_on(fb);
	set_nonblock(fb);
	sendto(fa, "p1", 2, 0, &b.sa, sizeof(b.sin));
	sendto(fa, "p2", 2, 0, &b.sa, sizeof(b.sin));
	batch_init(&rx, 4);
	ck_assert_int_eq(BIO_ctrl(bb, BIO_CTRL_DGRAM_SET_PEEK_MODE, 1, NULL), 1);
	for (int k = 0; k < 2; k++) {
		batch_ready(&rx);
		ck_assert_int_eq(DGB_recvmmsg(bb, rx.m, sizeof(DGB_MSG), 4, 0, &done), 1);
		ck_assert_uint_eq(done, 1);
		ck_assert_mem_eq(rx.m[0].data, "p1", 2);
	}
	ck_assert_int_eq(BIO_ctrl(bb, BIO_CTRL_DGRAM_SET_PEEK_MODE, 0, NULL), 1);
	batch_ready(&rx);
	ck_assert_int_eq(DGB_recvmmsg(bb, rx.m, sizeof(DGB_MSG), 4, 0, &done), 1);
	ck_assert_uint_eq(done, 2);
	ck_assert_mem_eq(rx.m[1].data, "p2", 2);
	batch_free(&rx);
	BIO_free(bb);
	close(fa);
}
END_TEST

START_TEST(test_truncation)
{
	const BIO_METHOD *m = method_in_mode(_i);
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *bb;
	char small[4];
	DGB_MSG msg = { small, sizeof(small), NULL, NULL, 0 };
	size_t done = 3;

	ck_assert_ptr_nonnull(m);
	bb = bio_on(fb);
	sendto(fa, "truncated", 9, 0, &b.sa, sizeof(b.sin));
	ck_assert_int_eq(DGB_recvmmsg(bb, &msg, sizeof(msg), 1, 0, &done), 1);
	ck_assert_uint_eq(done, 1);
	ck_assert_uint_eq(msg.data_len, 4);
	ck_assert_mem_eq(small, "trun", 4);
	ck_assert_uint_eq(msg.flags, 0);
	BIO_free(bb);
	close(fa);
}
END_TEST

/* The header's identification of the module's BIO. */
/*
 * The header's path follows the running libcrypto: BIO_sendmmsg and
 * BIO_recvmmsg, found by name at run time, where it has them (the BIO's
 * callback sees BIO_CB_SENDMMSG/RECVMMSG), the private controls before
 * (BIO_CB_CTRL).  A lookup that missed would still move the datagrams, by
 * the private controls; only this tells.
 */
#define CB_CTRL 0x06
#define CB_RECVMMSG 0x07
#define CB_SENDMMSG 0x08

static long seen_opers;

static long note_oper(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
		      int ret, size_t *processed)
{
	if (oper == CB_SENDMMSG || oper == CB_RECVMMSG || oper == CB_CTRL)
		seen_opers |= 1L << oper;
	return ret;
}

START_TEST(test_header_path_follows_running_libcrypto)
{
	const BIO_METHOD *m = method_in_mode(0);
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *ba, *bb;
	BIO_ADDR *to = addr_of(&b);
	char buf[8];
	DGB_MSG msg = { "native", 6, NULL, NULL, 0 };
	size_t done = 0;
	int native = OpenSSL_version_num() >= 0x30200000L;

	ck_assert_ptr_nonnull(m);
	ba = bio_on(fa);
	bb = bio_on(fb);
	msg.peer = to;
	BIO_set_callback_ex(ba, note_oper);
	BIO_set_callback_ex(bb, note_oper);
	seen_opers = 0;
	ck_assert_int_eq(DGB_sendmmsg(ba, &msg, sizeof(msg), 1, 0, &done), 1);
	ck_assert_uint_eq(done, 1);
	ck_assert_int_eq(seen_opers, native ? 1L << CB_SENDMMSG : 1L << CB_CTRL);
	seen_opers = 0;
	msg.data = buf;
	msg.data_len = sizeof(buf);
	msg.peer = NULL;
	ck_assert_int_eq(DGB_recvmmsg(bb, &msg, sizeof(msg), 1, 0, &done), 1);
	ck_assert_uint_eq(done, 1);
	ck_assert_mem_eq(buf, "native", 6);
	ck_assert_int_eq(seen_opers, native ? 1L << CB_RECVMMSG : 1L << CB_CTRL);
	BIO_ADDR_free(to);
	BIO_free(ba);
	BIO_free(bb);
}
END_TEST

START_TEST(test_is_dgrambatch)
{
	BIO *mine = BIO_new(method_in_mode(0)), *theirs = BIO_new(BIO_s_datagram());
	BIO *mem = BIO_new(BIO_s_mem());

	ck_assert_int_eq(DGB_is_dgrambatch(mine), 1);
	ck_assert_int_eq(DGB_is_dgrambatch(theirs), 0);
	ck_assert_int_eq(DGB_is_dgrambatch(mem), 0);
	ck_assert_int_eq(DGB_is_dgrambatch(NULL), 0);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	BIO_free(mine);
	BIO_free(theirs);
	BIO_free(mem);
}
END_TEST

/*
 * The header's fallback raises an errno as the module does: its inline
 * copy of the table agrees with the core's for every errno.
 */
START_TEST(test_errno_tables_agree)
{
	for (int err = 0; err < 4096; err++)
		ck_assert_msg(!dgb_err_raise_non_fatal_(err) == !dgb_err_raise_non_fatal(err),
			      "errno %d (%s): non-fatal in the header %d, in the core %d", err,
			      strerror(err), dgb_err_raise_non_fatal_(err),
			      dgb_err_raise_non_fatal(err));
}
END_TEST

/* --- differential: the same batches through OpenSSL's own datagram BIO ---- */

/*
 * OpenSSL 3.5's BIO_sendmmsg/BIO_recvmmsg on its own datagram BIO (on 3.0,
 * the header's one-at-a-time loop over it) against the module's, on the
 * same inputs.  Kept within what both define alike: at most 64 messages
 * (OpenSSL's cap), non-blocking sockets (OpenSSL's blocking recvmmsg waits
 * for the whole batch), no peer read back on connected sockets.
 */
static void rec_batch(struct tr *t, const char *label, const struct env *e, int ok,
		      size_t done, const DGB_MSG *m, size_t n)
{
	char l[64];

	snprintf(l, sizeof(l), "%s: return", label);
	tr_long(t, l, ok);
	snprintf(l, sizeof(l), "%s: processed", label);
	tr_long(t, l, (long)done);
	for (size_t i = 0; i < n && i < done; i++) {
		snprintf(l, sizeof(l), "%s[%zu]", label, i);
		tr_mem(t, l, m[i].data, (long)m[i].data_len);
		snprintf(l, sizeof(l), "%s[%zu] flags", label, i);
		tr_long(t, l, (long)m[i].flags);
		if (m[i].peer != NULL) {
			snprintf(l, sizeof(l), "%s[%zu] peer", label, i);
			tr_addr(t, l, e, m[i].peer);
		}
		if (m[i].local != NULL) {
			snprintf(l, sizeof(l), "%s[%zu] local", label, i);
			tr_addr(t, l, e, m[i].local);
		}
	}
	tr_errors(t, label);
}

/*
 * Receive until `want` datagrams have come, however many calls that takes,
 * with the global `flags`:
 * the header's loop over OpenSSL 3.0's BIO takes one per call, the module
 * and OpenSSL 3.2+ as many as are waiting.  The datagrams are compared;
 * the per-call counts only from 3.2 on.
 */
static void recv_count(struct tr *t, const char *label, const struct env *e, BIO *b,
		       DGB_MSG *rx, size_t n, size_t want, uint64_t flags)
{
	size_t got = 0, done = 0;
	char l[64];
	int calls = 0;

	while (got < want && calls++ < 64) {
		int ok;

		for (size_t i = got; i < n; i++)
			rx[i].data_len = 64;
		ok = DGB_recvmmsg(b, rx + got, sizeof(DGB_MSG), n - got, flags, &done);
		TR_SINCE_32_BEGIN(t);
		snprintf(l, sizeof(l), "%s: call %d", label, calls);
		tr_long(t, l, ok ? (long)done : -1);
		TR_SINCE_32_END(t);
		if (!ok)
			break;
		got += done;
	}
	rec_batch(t, label, e, 1, got, rx, n);
	ck_assert_uint_eq(got, want);
}

/*
 * Messages to send, "<prefix> <i>" (the caller sets their peers), and as
 * many to receive into, each with a BIO_ADDR for its peer; the flags of
 * all set to `flags`.
 */
#define SET_MAX 16

struct msgset {
	DGB_MSG tx[SET_MAX], rx[SET_MAX];
	char out[SET_MAX][32], in[SET_MAX][64];
	BIO_ADDR *peers[SET_MAX];
};

static void msgset_init(struct msgset *m, int n, const char *prefix, uint64_t flags)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < n; i++) {
		m->tx[i].data = m->out[i];
		m->tx[i].data_len =
			(size_t)snprintf(m->out[i], sizeof(m->out[i]), "%s %d", prefix, i);
		m->tx[i].flags = flags;
		m->peers[i] = BIO_ADDR_new();
		m->rx[i].data = m->in[i];
		m->rx[i].data_len = sizeof(m->in[i]);
		m->rx[i].peer = m->peers[i];
		m->rx[i].flags = flags;
	}
}

static void msgset_free(struct msgset *m)
{
	for (int i = 0; i < SET_MAX; i++)
		BIO_ADDR_free(m->peers[i]);
}

static void sc_mmsg_basic(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET), fb = env_udp(e, AF_INET), fc = env_udp(e, AF_INET);
	BIO *ba = env_bio(e, fa, BIO_NOCLOSE), *bb = env_bio(e, fb, BIO_NOCLOSE);
	BIO_ADDR *pb = env_bio_addr(&e->addrs[1]), *pc = env_bio_addr(&e->addrs[2]);
	struct msgset m;
	DGB_MSG *tx = m.tx, *rx = m.rx;
	size_t done = 99;
	int ok;

	set_nonblock(fb);
	set_nonblock(fc);
	msgset_init(&m, 16, "datagram", 0);
	for (int i = 0; i < 16; i++)
		tx[i].peer = i % 4 == 3 ? pc : pb;
	ok = DGB_sendmmsg(ba, tx, sizeof(DGB_MSG), 16, 0, &done);
	rec_batch(t, "send 16", e, ok, done, tx, 16);
	ck_assert_int_eq(ok, 1);
	ck_assert_uint_eq(done, 16);

	recv_count(t, "recv at b", e, bb, rx, 16, 12, 0);
	recv_count(t, "recv at c", e, env_bio(e, fc, BIO_NOCLOSE), rx, 16, 4, 0);
	ok = DGB_recvmmsg(bb, rx, sizeof(DGB_MSG), 16, 0, &done);
	rec_batch(t, "recv at b, empty", e, ok, done, rx, 16);

	/* Zero messages, and a short buffer that truncates. */
	ok = DGB_sendmmsg(ba, tx, sizeof(DGB_MSG), 0, 0, &done);
	rec_batch(t, "send 0", e, ok, done, tx, 0);
	ok = DGB_sendmmsg(ba, tx, sizeof(DGB_MSG), 1, 0, &done);
	rx[0].data_len = 3;
	ok = DGB_recvmmsg(bb, rx, sizeof(DGB_MSG), 1, 0, &done);
	rec_batch(t, "recv truncated", e, ok, done, rx, 1);

	msgset_free(&m);
	BIO_ADDR_free(pb);
	BIO_ADDR_free(pc);
}

static void sc_mmsg_local(struct env *e, struct tr *t)
{
	union tu_addr any;
	int fa = env_udp(e, AF_INET);
	int fb = tu_udp_wildcard(AF_INET, &any);
	BIO *ba, *bb;
	BIO_ADDR *loc = BIO_ADDR_new(), *to, *lrx = BIO_ADDR_new(), *prx = BIO_ADDR_new();
	union tu_addr dst = any, five;
	DGB_MSG m = { "local", 5, NULL, NULL, 0 };
	char in[16];
	size_t done = 99;
	int ok;

	env_add_fd(e, fb, &any);
	set_nonblock(fb);
	ba = env_bio(e, fa, BIO_NOCLOSE);
	bb = env_bio(e, fb, BIO_NOCLOSE);
	tr_long(t, "enable a", BIO_dgram_set_local_addr_enable(ba, 1));
	tr_long(t, "enable b", BIO_dgram_set_local_addr_enable(bb, 1));
	dst.sin.sin_addr.s_addr = htonl(0x7f000006);
	to = env_bio_addr(&dst);
	five = e->addrs[0];
	five.sin.sin_port = 0;
	ck_assert(BIO_ADDR_rawmake(loc, AF_INET, &five.sin.sin_addr, 4, 0));
	m.peer = to;
	m.local = loc;
	ok = DGB_sendmmsg(ba, &m, sizeof(m), 1, 0, &done);
	rec_batch(t, "send with local", e, ok, done, &m, 1);
	m.data = in;
	m.data_len = sizeof(in);
	m.peer = prx;
	m.local = lrx;
	ok = DGB_recvmmsg(bb, &m, sizeof(m), 1, 0, &done);
	rec_batch(t, "recv with local", e, ok, done, &m, 1);
	if (ok && done == 1) {
		unsigned char raw[4];
		size_t len = sizeof(raw);

		ck_assert(BIO_ADDR_rawaddress(lrx, raw, &len));
		tr_long(t, "local is 127.0.0.6", raw[3] == 6 && raw[0] == 127);
	}
	/* A local port other than the socket's is refused. */
	ck_assert(BIO_ADDR_rawmake(loc, AF_INET, &five.sin.sin_addr, 4, htons(9)));
	m.data = "p";
	m.data_len = 1;
	m.peer = to;
	m.local = loc;
	ok = DGB_sendmmsg(ba, &m, sizeof(m), 1, 0, &done);
	rec_batch(t, "send with another port", e, ok, done, &m, 1);
	BIO_ADDR_free(loc);
	BIO_ADDR_free(to);
	BIO_ADDR_free(lrx);
	BIO_ADDR_free(prx);
}

static void sc_mmsg_errors(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET);
	BIO *ba = env_bio(e, fa, BIO_NOCLOSE);
	BIO_ADDR *self = env_bio_addr(&e->addrs[0]);
	char in[8];
	DGB_MSG m = { in, sizeof(in), NULL, NULL, 0 };
	size_t done = 99;
	int ok;

	set_nonblock(fa);
	ok = DGB_recvmmsg(ba, &m, sizeof(m), 1, 0, &done);
	rec_batch(t, "recv empty", e, ok, done, &m, 1);
	m.local = self;
	ok = DGB_recvmmsg(ba, &m, sizeof(m), 1, 0, &done);
	rec_batch(t, "recv local not enabled", e, ok, done, &m, 1);
	m.local = NULL;
	m.data = NULL;
	m.data_len = 0;
	m.peer = self;
	ok = DGB_sendmmsg(ba, &m, sizeof(m), 1, 0, &done);
	rec_batch(t, "send empty datagram to self", e, ok, done, &m, 1);
	m.data = in;
	m.data_len = sizeof(in);
	ok = DGB_recvmmsg(ba, &m, sizeof(m), 1, 0, &done);
	rec_batch(t, "recv empty datagram", e, ok, done, &m, 1);
	BIO_ADDR_free(self);
}

/*
 * Messages without a peer on an unconnected socket: the batch stops there
 * (EDESTADDRREQ when it is the first), and the BIO's own peer is left as
 * it was, whether it had one or not.
 */
static void sc_mmsg_null_peer(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET), fb = env_udp(e, AF_INET), fc = env_udp(e, AF_INET);
	BIO *ba = env_bio(e, fa, BIO_NOCLOSE);
	BIO_ADDR *pc = env_bio_addr(&e->addrs[2]), *pb = env_bio_addr(&e->addrs[1]);
	DGB_MSG tx[3] = { { "1", 1, NULL, NULL, 0 }, { "2", 1, NULL, NULL, 0 },
			  { "3", 1, NULL, NULL, 0 } };
	BIO_ADDR *got = BIO_ADDR_new();
	char buf[8];
	size_t done = 99;
	int ok;

	tx[0].peer = pc;
	ok = DGB_sendmmsg(ba, tx, sizeof(DGB_MSG), 3, 0, &done);
	rec_batch(t, "peer, then none", e, ok, done, tx, 3);
	tr_long(t, "c received", raw_recv(fc, buf, sizeof(buf)));
	tr_long(t, "c received again", recv(fc, buf, sizeof(buf), MSG_DONTWAIT));
	tr_long(t, "BIO peer after", BIO_dgram_get_peer(ba, got));
	tr_addr(t, "BIO peer after", e, got);

	ok = DGB_sendmmsg(ba, tx + 1, sizeof(DGB_MSG), 2, 0, &done);
	rec_batch(t, "none first", e, ok, done, tx + 1, 2);

	ck_assert_int_eq(BIO_dgram_set_peer(ba, pb), 1);
	ok = DGB_sendmmsg(ba, tx, sizeof(DGB_MSG), 2, 0, &done);
	rec_batch(t, "BIO has a peer", e, ok, done, tx, 2);
	tr_long(t, "BIO peer kept", BIO_dgram_get_peer(ba, got));
	tr_addr(t, "BIO peer kept", e, got);
	tr_long(t, "b received", recv(fb, buf, sizeof(buf), MSG_DONTWAIT));
	BIO_ADDR_free(pc);
	BIO_ADDR_free(pb);
	BIO_ADDR_free(got);
}

/*
 * Flags, global and per message, are accepted and ignored, and every
 * processed message's are set to 0, as OpenSSL's datagram BIO does: none
 * is defined yet, and programs reuse arrays without clearing them.
 */
#define JUNK_FLAGS 0xdeadbeefULL
#define GLOBAL_FLAGS 0x5

static void sc_mmsg_flags(struct env *e, struct tr *t)
{
	int fa = env_udp(e, AF_INET), fb = env_udp(e, AF_INET);
	BIO *ba = env_bio(e, fa, BIO_NOCLOSE), *bb = env_bio(e, fb, BIO_NOCLOSE);
	BIO_ADDR *pb = env_bio_addr(&e->addrs[1]);
	struct msgset m;
	DGB_MSG *tx = m.tx, *rx = m.rx;
	size_t done = 99;
	int ok;

	set_nonblock(fb);
	msgset_init(&m, 4, "flagged", JUNK_FLAGS);
	for (int i = 0; i < 4; i++)
		tx[i].peer = pb;
	ok = DGB_sendmmsg(ba, tx, sizeof(DGB_MSG), 4, GLOBAL_FLAGS, &done);
	rec_batch(t, "send, flags set", e, ok, done, tx, 4);
	ck_assert_int_eq(ok, 1);
	ck_assert_uint_eq(done, 4);
	recv_count(t, "recv, flags set", e, bb, rx, 4, 4, GLOBAL_FLAGS);
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_eq(tx[i].flags, 0);
		ck_assert_uint_eq(rx[i].flags, 0);
	}
	/* Nothing waiting: the error is the socket's, not the flags'. */
	rx[0].flags = JUNK_FLAGS;
	ok = DGB_recvmmsg(bb, rx, sizeof(DGB_MSG), 1, GLOBAL_FLAGS, &done);
	rec_batch(t, "recv empty, flags set", e, ok, done, rx, 1);
	msgset_free(&m);
	BIO_ADDR_free(pb);
}

/*
 * A filter BIO over the module's passes unknown controls down its chain;
 * the batched calls must not reach the module through it (they would skip
 * the filter), and the filter is not taken for the module's BIO.
 */
START_TEST(test_filter_bio_not_bypassed)
{
	const BIO_METHOD *m = method_in_mode(0);
	union tu_addr a, b;
	int fa = tu_udp_loopback(AF_INET, &a), fb = tu_udp_loopback(AF_INET, &b);
	BIO *sock = bio_on(fa), *filter = BIO_new(BIO_f_buffer());
	BIO_ADDR *to = addr_of(&b);
	DGB_MSG msg = { "clear", 5, NULL, NULL, 0 };
	size_t done = 9;
	char buf[8];
	int ok;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(filter);
	BIO_push(filter, sock);
	ck_assert_int_eq(DGB_is_dgrambatch(sock), 1);
	ck_assert_int_eq(DGB_is_dgrambatch(filter), 0);
	msg.peer = to;
	ERR_clear_error();
	ok = DGB_sendmmsg(filter, &msg, sizeof(msg), 1, 0, &done);
	/* Whatever the filter made of it, nothing went out unbuffered. */
	ck_assert_int_lt(recv(fb, buf, sizeof(buf), MSG_DONTWAIT), 0);
	(void)ok;
	ERR_clear_error();
	BIO_ADDR_free(to);
	BIO_free_all(filter);
	close(fb);
}
END_TEST

DIFF_TEST(sc_mmsg_basic, 0)
DIFF_TEST(sc_mmsg_local, DIFF_SINCE_32)
DIFF_TEST(sc_mmsg_errors, 0)
DIFF_TEST(sc_mmsg_null_peer, 0)
DIFF_TEST(sc_mmsg_flags, 0)

Suite *suite_mmsg(void)
{
	Suite *s = suite_create("mmsg");
	TCase *tc = tcase_create("batched");
	TCase *diff = tcase_create("differential");
	const char *why;
	int v6 = tu_ipv6_available(&why);

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_batch_1, 0, 2);
	tcase_add_loop_test(tc, test_batch_64, 0, 2);
	tcase_add_loop_test(tc, test_batch_1024, 0, 2);
	tcase_add_loop_test(tc, test_batch_1500_capped, 0, 2);
	tcase_add_loop_test(tc, test_many_destinations, 0, 2);
	tcase_add_loop_test(tc, test_connected_leaves_out_destination, 0, 2);
	tcase_add_loop_test(tc, test_local_not_enabled, 0, 2);
	tcase_add_loop_test(tc, test_local_send_wildcard, 0, 2);
	tcase_add_loop_test(tc, test_local_after_bind, 0, 2);
	tcase_add_loop_test(tc, test_local_recv_wildcard, 0, 2);
	tcase_add_loop_test(tc, test_local_cleared_when_not_reported, 0, 2);
	tcase_add_loop_test(tc, test_local_crowded_out, 0, 2);
	tcase_add_loop_test(tc, test_local_room_left, 0, 2);
	tcase_add_loop_test(tc, test_stride_larger, 0, 2);
	tcase_add_loop_test(tc, test_bad_arguments, 0, 2);
	tcase_add_loop_test(tc, test_eagain_non_fatal, 0, 2);
	tcase_add_loop_test(tc, test_eagain_allocates_no_text, 0, 2);
	tcase_add_loop_test(tc, test_icmp_not_fatal, 0, 2);
	tcase_add_loop_test(tc, test_fatal_error, 0, 2);
	tcase_add_loop_test(tc, test_recv_learns_peer, 0, 2);
	tcase_add_loop_test(tc, test_peek_mode, 0, 2);
	tcase_add_loop_test(tc, test_truncation, 0, 2);
	tcase_add_test(tc, test_is_dgrambatch);
	tcase_add_test(tc, test_header_path_follows_running_libcrypto);
	tcase_add_test(tc, test_errno_tables_agree);
	tcase_add_test(tc, test_filter_bio_not_bypassed);
	tcase_add_loop_test(tc, test_tcp_fd_no_sigpipe, 0, 2);
	if (v6) {
		tcase_add_loop_test(tc, test_batch_64_ipv6, 0, 2);
		tcase_add_loop_test(tc, test_local_send_wildcard_ipv6, 0, 2);
		tcase_add_loop_test(tc, test_local_recv_wildcard_ipv6, 0, 2);
		tcase_add_loop_test(tc, test_local_crowded_out_ipv6, 0, 2);
		tcase_add_loop_test(tc, test_local_room_left_ipv6, 0, 2);
	} else {
		fprintf(stderr, "SKIP IPv6 batched tests: %s\n", why);
	}
	suite_add_tcase(s, tc);

	tcase_add_test(diff, test_sc_mmsg_basic);
	tcase_add_test(diff, test_sc_mmsg_local);
	tcase_add_test(diff, test_sc_mmsg_errors);
	tcase_add_test(diff, test_sc_mmsg_null_peer);
	tcase_add_test(diff, test_sc_mmsg_flags);
	suite_add_tcase(s, diff);
	return s;
}
