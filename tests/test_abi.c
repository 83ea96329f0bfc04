/*
 * test_abi.c - the private interface between dgrambatch.h and the module,
 * as programs built with an older header use it.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * DGB_MMSG_ARGS and the private controls are compiled into programs, so
 * the module must keep serving every header released.  This file is built
 * with 0.1.0's dgrambatch.h (tests/legacy/, verbatim) and no other
 * dgrambatch header: a program of 0.1.0 still moves datagrams through
 * today's module, and a structure of a version the module does not know is
 * refused with an error, nothing written to it but handled and result.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "testutil.h"
#include "legacy/dgrambatch-0.1.0.h"

#define N_MSGS 16
#define BUF_LEN 64

/*
 * The versioned structure and its controls, as headers after 0.1.0 compile
 * them into programs.  Written out here rather than taken from today's
 * header, so that a change to that header cannot change what is tested.
 */
#define CTRL_SENDMMSG_V1 0x44474204
#define CTRL_RECVMMSG_V1 0x44474205

struct mmsg_args_v1 {
	uint32_t abi;
	uint32_t size;
	int handled;
	int result;
	BIO *bio;
	DGB_MSG *msg;
	size_t stride;
	size_t num_msg;
	uint64_t flags;
	size_t *msgs_processed;
};

/* Two module BIOs on two loopback sockets, a sending to b. */
struct pair {
	OSSL_PROVIDER *prov;
	union tu_addr aa, ab;
	int fa, fb;
	BIO *a, *b;
	BIO_ADDR *to_b;
};

static BIO *module_bio(const BIO_METHOD *m, int fd)
{
	BIO *b = BIO_new(m);

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(BIO_set_fd(b, fd, BIO_NOCLOSE), 1);
	ck_assert_int_eq(DGB_is_dgrambatch(b), 1);
	return b;
}

static void pair_open(struct pair *p)
{
	const BIO_METHOD *m;

	p->prov = OSSL_PROVIDER_load(NULL, DGB_PROVIDER_NAME);
	if (p->prov == NULL)
		ERR_print_errors_fp(stderr);
	ck_assert_ptr_nonnull(p->prov);
	m = DGB_provider_bio_method(p->prov);
	ck_assert_ptr_nonnull(m);
	p->fa = tu_udp_loopback(AF_INET, &p->aa);
	p->fb = tu_udp_loopback(AF_INET, &p->ab);
	p->a = module_bio(m, p->fa);
	p->b = module_bio(m, p->fb);
	p->to_b = BIO_ADDR_new();
	ck_assert_ptr_nonnull(p->to_b);
	ck_assert(BIO_ADDR_rawmake(p->to_b, AF_INET, &p->ab.sin.sin_addr,
				   sizeof(p->ab.sin.sin_addr), p->ab.sin.sin_port));
	ERR_clear_error();
}

static void pair_close(struct pair *p)
{
	BIO_free(p->a);
	BIO_free(p->b);
	BIO_ADDR_free(p->to_b);
	close(p->fa);
	close(p->fb);
	ck_assert_int_eq(OSSL_PROVIDER_unload(p->prov), 1);
	ERR_clear_error();
}

/* Whether a datagram waits at fd (within 200 ms). */
static int datagram_waiting(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 200) == 1;
}

/* Message i of a round: its length and bytes. */
static size_t payload(int round, size_t i, unsigned char *p)
{
	size_t len = 8 + (i * 5) % (BUF_LEN - 8);

	for (size_t j = 0; j < len; j++)
		p[j] = (unsigned char)(round * 97 + i * 31 + j);
	return len;
}

typedef int mmsg_call(BIO *b, int send, DGB_MSG *msg, size_t n, size_t *done);

/*
 * What 0.1.0's DGB_sendmmsg()/DGB_recvmmsg() ask of the module on OpenSSL
 * 3.0 and 3.1, built by hand as its dgb_mmsg_() builds it (with 3.2+
 * headers the same header calls BIO_sendmmsg() instead, and the control
 * would go untested).  The module must take it.
 */
static int legacy_ctrl(BIO *b, int send, DGB_MSG *msg, size_t n, size_t *done)
{
	DGB_MMSG_ARGS a;
	long r;

	memset(&a, 0, sizeof(a));
	a.bio = b;
	a.msg = msg;
	a.stride = sizeof(DGB_MSG);
	a.num_msg = n;
	a.flags = 0;
	a.msgs_processed = done;
	r = BIO_ctrl(b, send ? DGB_CTRL_SENDMMSG : DGB_CTRL_RECVMMSG, 0, &a);
	ck_assert_msg(a.handled == 1, "the module did not take 0.1.0's control 0x%x",
		      (unsigned int)(send ? DGB_CTRL_SENDMMSG : DGB_CTRL_RECVMMSG));
	ck_assert_int_eq(r, a.result);
	return a.result;
}

#if OPENSSL_VERSION_NUMBER < 0x30200000L
/* 0.1.0's own functions, which on these headers issue the same control. */
static int legacy_functions(BIO *b, int send, DGB_MSG *msg, size_t n, size_t *done)
{
	return send ? DGB_sendmmsg(b, msg, sizeof(DGB_MSG), n, 0, done)
		    : DGB_recvmmsg(b, msg, sizeof(DGB_MSG), n, 0, done);
}
#endif

/*
 * N_MSGS datagrams from a to b in one call, received in as many as it
 * takes; every one arrives, in order, byte for byte, from a.  The module
 * sent them as one batch (one sendmmsg, or one fallback batch).
 */
static void roundtrip(struct pair *p, int round, mmsg_call *call)
{
	unsigned char out[N_MSGS][BUF_LEN], in[N_MSGS][BUF_LEN], want[BUF_LEN];
	DGB_MSG tx[N_MSGS], rx[N_MSGS];
	BIO_ADDR *from[N_MSGS];
	size_t len[N_MSGS], done = 99, got = 0;
	uint64_t sys0 = tu_provider_counter(p->prov, DGB_PARAM_TX_SYSCALLS);
	uint64_t fb0 = tu_provider_counter(p->prov, DGB_PARAM_FALLBACK_BATCHES);
	uint64_t sys, fb;

	memset(tx, 0, sizeof(tx));
	memset(rx, 0, sizeof(rx));
	for (size_t i = 0; i < N_MSGS; i++) {
		len[i] = payload(round, i, out[i]);
		tx[i].data = out[i];
		tx[i].data_len = len[i];
		tx[i].peer = p->to_b;
		from[i] = BIO_ADDR_new();
		ck_assert_ptr_nonnull(from[i]);
		rx[i].data = in[i];
		rx[i].data_len = BUF_LEN;
		rx[i].peer = from[i];
	}
	ck_assert_int_eq(call(p->a, 1, tx, N_MSGS, &done), 1);
	ck_assert_uint_eq(done, N_MSGS);
	sys = tu_provider_counter(p->prov, DGB_PARAM_TX_SYSCALLS) - sys0;
	fb = tu_provider_counter(p->prov, DGB_PARAM_FALLBACK_BATCHES) - fb0;
	ck_assert_msg(sys == 1 || fb == 1,
		      "%d datagrams took %llu send calls and %llu fallback batches, not one batch",
		      N_MSGS, (unsigned long long)sys, (unsigned long long)fb);
	for (size_t i = 0; i < N_MSGS; i++) {
		ck_assert_uint_eq(tx[i].data_len, len[i]);
		ck_assert_uint_eq(tx[i].flags, 0);
	}
	for (int calls = 0; got < N_MSGS; calls++) {
		ck_assert_int_lt(calls, N_MSGS);
		ck_assert_int_eq(call(p->b, 0, rx + got, N_MSGS - got, &done), 1);
		got += done;
	}
	for (size_t i = 0; i < N_MSGS; i++) {
		ck_assert_uint_eq(payload(round, i, want), rx[i].data_len);
		ck_assert_mem_eq(rx[i].data, want, rx[i].data_len);
		ck_assert_uint_eq(rx[i].flags, 0);
		ck_assert_int_eq(BIO_ADDR_family(rx[i].peer), AF_INET);
		ck_assert_uint_eq(BIO_ADDR_rawport(rx[i].peer), p->aa.sin.sin_port);
		BIO_ADDR_free(from[i]);
	}
	ck_assert_int_eq(datagram_waiting(p->fb), 0);
}

/* A program built with 0.1.0's header, on today's module. */
START_TEST(test_legacy_roundtrip)
{
	struct pair p;

	pair_open(&p);
	roundtrip(&p, 0, legacy_ctrl);
#if OPENSSL_VERSION_NUMBER < 0x30200000L
	roundtrip(&p, 1, legacy_functions);
#endif
	pair_close(&p);
}
END_TEST

/*
 * A versioned structure the module must refuse, in both directions: the
 * control fails, handled is 1 and result 0, nothing else in the structure
 * or the messages changes, the error's text names `mention`, and nothing
 * moves (no datagram sent; the one waiting stays).
 */
static void refused(uint32_t abi, uint32_t size, unsigned long mention)
{
	struct pair p;
	char text[32], buf[8];

	pair_open(&p);
	snprintf(text, sizeof(text), "%lu", mention);
	for (int send = 1; send >= 0; send--) {
		struct mmsg_args_v1 a, want;
		DGB_MSG m, m0;
		size_t done = 77;
		const char *data = NULL;
		int flags = 0;
		unsigned long e;

		memset(&m, 0, sizeof(m));
		m.data = send ? (void *)"never" : (void *)buf;
		m.data_len = send ? 5 : sizeof(buf);
		m.peer = send ? p.to_b : NULL;
		m0 = m;
		if (!send)
			ck_assert_int_eq(sendto(p.fa, "kept", 4, 0, &p.ab.sa, sizeof(p.ab.sin)), 4);
		memset(&a, 0, sizeof(a));
		a.abi = abi;
		a.size = size;
		a.result = 42;
		a.bio = send ? p.a : p.b;
		a.msg = &m;
		a.stride = sizeof(m);
		a.num_msg = 1;
		a.msgs_processed = &done;
		want = a;
		want.handled = 1;
		want.result = 0;

		ERR_clear_error();
		ck_assert_int_eq(BIO_ctrl(a.bio, send ? CTRL_SENDMMSG_V1 : CTRL_RECVMMSG_V1, 0, &a),
				 0);
		ck_assert_int_eq(a.handled, 1);
		ck_assert_int_eq(a.result, 0);
		ck_assert_msg(memcmp(&a, &want, sizeof(a)) == 0,
			      "the module wrote more than handled and result");
		ck_assert_uint_eq(done, 77);
		ck_assert_mem_eq(&m, &m0, sizeof(m));
		e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
		ck_assert_msg(e != 0, "refused without an error");
		ck_assert_msg((flags & ERR_TXT_STRING) != 0 && strstr(data, text) != NULL,
			      "the error's text \"%s\" does not name %s", data, text);
		if (send) {
			ck_assert_int_eq(datagram_waiting(p.fb), 0);
		} else {
			ck_assert_int_eq(recv(p.fb, buf, sizeof(buf), MSG_DONTWAIT), 4);
			ck_assert_mem_eq(buf, "kept", 4);
		}
	}
	pair_close(&p);
}

/* A version from the future. */
START_TEST(test_unknown_version_refused)
{
	refused(99, sizeof(struct mmsg_args_v1), 99);
}
END_TEST

/* Version 1, but shorter than version 1's structure. */
START_TEST(test_short_structure_refused)
{
	uint32_t size = (uint32_t)offsetof(struct mmsg_args_v1, msgs_processed);

	refused(1, size, size);
}
END_TEST

Suite *suite_abi(void)
{
	Suite *s = suite_create("abi");
	TCase *tc = tcase_create("private-controls");

	tcase_add_test(tc, test_legacy_roundtrip);
	tcase_add_test(tc, test_unknown_version_refused);
	tcase_add_test(tc, test_short_structure_refused);
	suite_add_tcase(s, tc);
	return s;
}
