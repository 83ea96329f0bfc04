/*
 * test_core.c - the batched-syscall core on real loopback sockets.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Batch tests run as loop tests: index 0 uses sendmmsg/recvmmsg, index 1
 * forces the sendmsg/recvmsg fallback, and both must give the same results.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "testutil.h"
#include "core/core.h"
#include "probe/probe.h"

static const char *const modes[] = { NULL, "sendmmsg,recvmmsg" };

struct batch {
	unsigned int n;
	struct mmsghdr *m;
	struct iovec *iov;
	char (*buf)[64];
	union tu_addr *names;
};

static void batch_init(struct batch *b, unsigned int n)
{
	b->n = n;
	b->m = calloc(n, sizeof(*b->m));
	b->iov = calloc(n, sizeof(*b->iov));
	b->buf = calloc(n, sizeof(*b->buf));
	b->names = calloc(n, sizeof(*b->names));
	ck_assert(b->m && b->iov && b->buf && b->names);
	for (unsigned int i = 0; i < n; i++) {
		b->iov[i].iov_base = b->buf[i];
		b->iov[i].iov_len = sizeof(b->buf[i]);
		b->m[i].msg_hdr.msg_iov = &b->iov[i];
		b->m[i].msg_hdr.msg_iovlen = 1;
	}
}

/* Message i carries "msg <i>" to `to` (NULL: no destination, connected). */
static void batch_fill(struct batch *b, const union tu_addr *to)
{
	for (unsigned int i = 0; i < b->n; i++) {
		int len = snprintf(b->buf[i], sizeof(b->buf[i]), "msg %u", i);

		b->iov[i].iov_len = (size_t)len;
		if (to != NULL) {
			b->names[i] = *to;
			b->m[i].msg_hdr.msg_name = &b->names[i];
			b->m[i].msg_hdr.msg_namelen = tu_addr_len(to);
		}
	}
}

/* Ready to receive: full buffers, room for a source address. */
static void batch_ready(struct batch *b)
{
	for (unsigned int i = 0; i < b->n; i++) {
		b->iov[i].iov_len = sizeof(b->buf[i]);
		b->m[i].msg_hdr.msg_name = &b->names[i];
		b->m[i].msg_hdr.msg_namelen = sizeof(b->names[i]);
		b->m[i].msg_len = 0;
	}
}

static void batch_free(struct batch *b)
{
	free(b->m);
	free(b->iov);
	free(b->buf);
	free(b->names);
}

static uint64_t count(enum dgb_counter c)
{
	return dgb_counter(c);
}

START_TEST(test_errclass)
{
	ck_assert_int_eq(dgb_errclass(EAGAIN), DGB_ERR_TRANSIENT);
	ck_assert_int_eq(dgb_errclass(EWOULDBLOCK), DGB_ERR_TRANSIENT);
	ck_assert_int_eq(dgb_errclass(EINTR), DGB_ERR_TRANSIENT);
	ck_assert_int_eq(dgb_errclass(ENOBUFS), DGB_ERR_TRANSIENT);
	ck_assert_int_eq(dgb_errclass(ECONNREFUSED), DGB_ERR_ICMP);
	ck_assert_int_eq(dgb_errclass(EHOSTUNREACH), DGB_ERR_ICMP);
	ck_assert_int_eq(dgb_errclass(ENETUNREACH), DGB_ERR_ICMP);
	ck_assert_int_eq(dgb_errclass(EBADF), DGB_ERR_FATAL);
	ck_assert_int_eq(dgb_errclass(ENOTSOCK), DGB_ERR_FATAL);
	ck_assert_int_eq(dgb_errclass(EINVAL), DGB_ERR_FATAL);
}
END_TEST

static void roundtrip(int family, int mode)
{
	enum { N = 64 };
	union tu_addr a, b;
	int fa, fb;
	struct batch tx, rx;
	unsigned int got = 0;
	uint64_t tx0 = count(DGB_TX_DATAGRAMS), rx0 = count(DGB_RX_DATAGRAMS);
	uint64_t txc0 = count(DGB_TX_SYSCALLS);

	tu_caps_disable(modes[mode]);
	fa = tu_udp_loopback(family, &a);
	fb = tu_udp_loopback(family, &b);
	batch_init(&tx, N);
	batch_init(&rx, N);
	batch_fill(&tx, &b);

	ck_assert_int_eq(dgb_sock_sendmmsg(fa, tx.m, N, 0), N);
	for (unsigned int i = 0; i < N; i++)
		ck_assert_uint_eq(tx.m[i].msg_len, tx.iov[i].iov_len);
	ck_assert_uint_eq(count(DGB_TX_DATAGRAMS) - tx0, N);
	/* One syscall for the batch, or one per message in the fallback. */
	ck_assert_uint_eq(count(DGB_TX_SYSCALLS) - txc0, mode == 0 ? 1 : N);

	while (got < N) {
		int r;

		batch_ready(&rx);
		r = dgb_sock_recvmmsg(fb, rx.m, N - got, 0);
		ck_assert_int_gt(r, 0);
		for (int i = 0; i < r; i++) {
			char want[64];
			union tu_addr *from = &rx.names[i];

			snprintf(want, sizeof(want), "msg %u", got + (unsigned int)i);
			ck_assert_uint_eq(rx.m[i].msg_len, strlen(want));
			ck_assert_mem_eq(rx.buf[i], want, strlen(want));
			ck_assert_int_eq(from->sa.sa_family, family);
			ck_assert_uint_eq(rx.m[i].msg_hdr.msg_namelen, tu_addr_len(&a));
			ck_assert_mem_eq(from, &a, tu_addr_len(&a));
		}
		got += (unsigned int)r;
	}
	ck_assert_uint_eq(count(DGB_RX_DATAGRAMS) - rx0, N);
	batch_free(&tx);
	batch_free(&rx);
	close(fa);
	close(fb);
}

START_TEST(test_roundtrip_ipv4)
{
	roundtrip(AF_INET, _i);
}
END_TEST

START_TEST(test_roundtrip_ipv6)
{
	roundtrip(AF_INET6, _i);
}
END_TEST

/* A connected socket sends with no destination in the messages. */
START_TEST(test_connected)
{
	union tu_addr a, b;
	int fa, fb;
	struct batch tx, rx;

	tu_caps_disable(modes[_i]);
	fa = tu_udp_loopback(AF_INET, &a);
	fb = tu_udp_loopback(AF_INET, &b);
	ck_assert_int_eq(connect(fa, &b.sa, tu_addr_len(&b)), 0);
	batch_init(&tx, 4);
	batch_init(&rx, 4);
	batch_fill(&tx, NULL);
	ck_assert_int_eq(dgb_sock_sendmmsg(fa, tx.m, 4, 0), 4);
	batch_ready(&rx);
	ck_assert_int_ge(dgb_sock_recvmmsg(fb, rx.m, 4, 0), 1);
	ck_assert_mem_eq(rx.buf[0], "msg 0", 5);
	batch_free(&tx);
	batch_free(&rx);
	close(fa);
	close(fb);
}
END_TEST

/* More than UIO_MAXIOV messages: the first 1024 go, the rest wait. */
START_TEST(test_batch_capped)
{
	union tu_addr a, b;
	int fa, fb;
	struct batch tx;

	tu_caps_disable(modes[_i]);
	fa = tu_udp_loopback(AF_INET, &a);
	fb = tu_udp_loopback(AF_INET, &b);
	batch_init(&tx, 1500);
	batch_fill(&tx, &b);
	ck_assert_int_eq(dgb_sock_sendmmsg(fa, tx.m, 1500, 0), DGB_MAX_BATCH);
	ck_assert_int_eq(dgb_sock_sendmmsg(fa, tx.m + DGB_MAX_BATCH, 1500 - DGB_MAX_BATCH, 0),
			 1500 - DGB_MAX_BATCH);
	batch_free(&tx);
	close(fa);
	close(fb);
}
END_TEST

START_TEST(test_eagain)
{
	union tu_addr a;
	int fa;
	struct batch rx;
	char buf[8];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	tu_caps_disable(modes[_i]);
	fa = tu_udp_loopback(AF_INET, &a);
	batch_init(&rx, 8);
	batch_ready(&rx);
	ck_assert_int_eq(dgb_sock_recvmmsg(fa, rx.m, 8, MSG_DONTWAIT), -EAGAIN);
	ck_assert_int_eq(dgb_sock_recvmsg(fa, &mh, MSG_DONTWAIT), -EAGAIN);
	ck_assert_int_eq(fcntl(fa, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(dgb_sock_recvmmsg(fa, rx.m, 8, 0), -EAGAIN);
	ck_assert_int_eq(dgb_errclass(EAGAIN), DGB_ERR_TRANSIENT);
	batch_free(&rx);
	close(fa);
}
END_TEST

/*
 * An error after the first message ends the batch and is not reported;
 * resuming at the failed message reports it.
 */
START_TEST(test_partial)
{
	union tu_addr a, b, bad;
	int fa, fb;
	struct batch tx;

	tu_caps_disable(modes[_i]);
	fa = tu_udp_loopback(AF_INET, &a);
	fb = tu_udp_loopback(AF_INET, &b);
	batch_init(&tx, 4);
	batch_fill(&tx, &b);
	memset(&bad, 0, sizeof(bad));
	bad.sin6.sin6_family = AF_INET6;
	bad.sin6.sin6_addr = in6addr_loopback;
	bad.sin6.sin6_port = b.sin.sin_port;
	tx.names[2] = bad;
	tx.m[2].msg_hdr.msg_namelen = sizeof(bad.sin6);

	ck_assert_int_eq(dgb_sock_sendmmsg(fa, tx.m, 4, 0), 2);
	ck_assert_int_eq(dgb_sock_sendmmsg(fa, tx.m + 2, 2, 0), -EAFNOSUPPORT);
	ck_assert_int_eq(dgb_errclass(EAFNOSUPPORT), DGB_ERR_FATAL);
	ck_assert_int_eq(dgb_sock_sendmmsg(fa, tx.m + 3, 1, 0), 1);
	batch_free(&tx);
	close(fa);
	close(fb);
}
END_TEST

/* A bad descriptor is an error of its own, not a transient one. */
START_TEST(test_bad_fd)
{
	struct batch tx;
	union tu_addr b;
	int fb = tu_udp_loopback(AF_INET, &b);

	tu_caps_disable(modes[_i]);
	batch_init(&tx, 2);
	batch_fill(&tx, &b);
	ck_assert_int_eq(dgb_sock_sendmmsg(-1, tx.m, 2, 0), -EBADF);
	ck_assert_int_eq(dgb_sock_recvmmsg(-1, tx.m, 2, 0), -EBADF);
	batch_free(&tx);
	close(fb);
}
END_TEST

/*
 * An ICMP port unreachable from the loopback stack is reported on a later
 * call as ECONNREFUSED, classed as ICMP and counted.
 */
START_TEST(test_icmp_refused)
{
	union tu_addr a, gone;
	int fa, fg;
	struct batch tx, rx;
	uint64_t icmp0 = count(DGB_ICMP_ERRORS);
	int r = 0;

	tu_caps_disable(modes[_i]);
	fa = tu_udp_loopback(AF_INET, &a);
	fg = tu_udp_loopback(AF_INET, &gone);
	close(fg);
	ck_assert_int_eq(connect(fa, &gone.sa, tu_addr_len(&gone)), 0);
	batch_init(&tx, 1);
	batch_init(&rx, 1);
	batch_fill(&tx, NULL);
	ck_assert_int_eq(dgb_sock_sendmmsg(fa, tx.m, 1, 0), 1);
	/* The ICMP error arrives asynchronously; poll for it briefly. */
	for (int tries = 0; tries < 100; tries++) {
		batch_ready(&rx);
		rx.m[0].msg_hdr.msg_name = NULL;
		rx.m[0].msg_hdr.msg_namelen = 0;
		r = dgb_sock_recvmmsg(fa, rx.m, 1, MSG_DONTWAIT);
		if (r != -EAGAIN)
			break;
		usleep(10000);
	}
	ck_assert_int_eq(r, -ECONNREFUSED);
	ck_assert_int_eq(dgb_errclass(ECONNREFUSED), DGB_ERR_ICMP);
	ck_assert_uint_eq(count(DGB_ICMP_ERRORS) - icmp0, 1);
	batch_free(&tx);
	batch_free(&rx);
	close(fa);
}
END_TEST

/*
 * errno is read at the system call.  A thread's first counted call
 * allocates the thread's counters, and an allocation may change errno even
 * when it succeeds (glibc leaves ENOMEM behind when it cannot map a new
 * arena and falls back to another): a receive on an empty non-blocking
 * socket must still be EAGAIN, in the return value and in errno.  The
 * test program's calloc() leaves ENOMEM while armed, whatever the C
 * library does (test_dgram.c has the real thing, under RLIMIT_AS).
 */
struct first_call {
	int fd;
	struct batch *rx; /* dgb_sock_recvmmsg on it; NULL: dgb_sock_recvmsg */
	long r;
	int err;
	unsigned int allocs;
};

static void *first_call_thread(void *arg)
{
	struct first_call *c = arg;
	char buf[8];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	tu_calloc_leaves_enomem(1);
	errno = ENOMEM;
	if (c->rx != NULL)
		c->r = dgb_sock_recvmmsg(c->fd, c->rx->m, c->rx->n, MSG_DONTWAIT);
	else
		c->r = dgb_sock_recvmsg(c->fd, &mh, MSG_DONTWAIT);
	c->err = errno;
	c->allocs = tu_calloc_calls();
	tu_calloc_leaves_enomem(0);
	return NULL;
}

/* The first call of a new thread on an empty socket: EAGAIN, errno EAGAIN. */
static void first_call_eagain(struct batch *rx)
{
	union tu_addr a;
	struct first_call c = { .fd = tu_udp_loopback(AF_INET, &a), .rx = rx };
	pthread_t t;

	if (rx != NULL)
		batch_ready(rx);
	(void)dgb_caps();
	ck_assert_int_eq(pthread_create(&t, NULL, first_call_thread, &c), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(c.allocs >= 1, "the thread's counters were not allocated by its first call");
	ck_assert_msg(c.r == -EAGAIN, "first call of a thread: %ld (%s), expected -EAGAIN", c.r,
		      strerror((int)-c.r));
	ck_assert_msg(c.err == EAGAIN, "errno %d (%s) after the first call, expected EAGAIN",
		      c.err, strerror(c.err));
	close(c.fd);
}

START_TEST(test_errno_first_recvmsg)
{
	first_call_eagain(NULL);
}
END_TEST

/* recvmmsg itself: the one-at-a-time fallback counts the batch before its first call. */
START_TEST(test_errno_first_recvmmsg)
{
	struct batch rx;

	tu_caps_disable(NULL);
	batch_init(&rx, 4);
	first_call_eagain(&rx);
	batch_free(&rx);
}
END_TEST

#if defined(__x86_64__)
/*
 * A kernel or sandbox without sendmmsg and recvmmsg, made with a seccomp
 * filter: installed after the first probe, answering ENOSYS (the core must
 * notice at run time and revoke the calls), or before it, answering ENOSYS
 * or EPERM (seccomp's usual RET_ERRNO; the probe must find them missing).
 * Either way the batch goes through sendmsg/recvmsg, whole.
 */
static const struct {
	int err;
	int probe_first;
} sandboxes[] = {
	{ ENOSYS, 1 },
	{ ENOSYS, 0 },
	{ EPERM, 0 },
};

START_TEST(test_sandbox_fallback)
{
	static const int mmsg[] = { __NR_sendmmsg, __NR_recvmmsg };
	const unsigned int both = DGB_CAP_SENDMMSG | DGB_CAP_RECVMMSG;
	union tu_addr a, b;
	int fa, fb;
	struct batch tx, rx;

	tu_caps_disable(NULL);
	if (sandboxes[_i].probe_first)
		ck_assert_uint_eq(dgb_caps() & both, both);
	ck_assert_msg(tu_forbid_syscalls(mmsg, 2, -1, sandboxes[_i].err), "seccomp filter: %s",
		      strerror(errno));
	if (!sandboxes[_i].probe_first)
		ck_assert_uint_eq(dgb_caps() & both, 0);
	fa = tu_udp_loopback(AF_INET, &a);
	fb = tu_udp_loopback(AF_INET, &b);
	batch_init(&tx, 8);
	batch_init(&rx, 8);
	batch_fill(&tx, &b);
	ck_assert_int_eq(dgb_sock_sendmmsg(fa, tx.m, 8, 0), 8);
	batch_ready(&rx);
	ck_assert_int_eq(dgb_sock_recvmmsg(fb, rx.m, 8, 0), 8);
	ck_assert_uint_eq(dgb_caps() & both, 0);
	for (unsigned int i = 0; i < 8; i++) {
		char want[16];

		snprintf(want, sizeof(want), "msg %u", i);
		ck_assert_uint_eq(rx.m[i].msg_len, strlen(want));
		ck_assert_mem_eq(rx.buf[i], want, strlen(want));
	}
	batch_free(&tx);
	batch_free(&rx);
	close(fa);
	close(fb);
}
END_TEST
#endif

Suite *suite_core(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("errors");
	TCase *batch = tcase_create("batch");

	tcase_add_test(tc, test_errclass);
	suite_add_tcase(s, tc);

	tcase_add_loop_test(batch, test_roundtrip_ipv4, 0, 2);
	{
		const char *why;

		if (tu_ipv6_available(&why))
			tcase_add_loop_test(batch, test_roundtrip_ipv6, 0, 2);
		else
			fprintf(stderr, "SKIP test_roundtrip_ipv6: %s\n", why);
	}
	tcase_add_loop_test(batch, test_connected, 0, 2);
	tcase_add_loop_test(batch, test_batch_capped, 0, 2);
	tcase_add_loop_test(batch, test_eagain, 0, 2);
	tcase_add_loop_test(batch, test_partial, 0, 2);
	tcase_add_loop_test(batch, test_bad_fd, 0, 2);
	tcase_add_loop_test(batch, test_icmp_refused, 0, 2);
	tcase_add_test(batch, test_errno_first_recvmsg);
	tcase_add_test(batch, test_errno_first_recvmmsg);
#if defined(__x86_64__)
	tu_caps_disable(NULL);
	if ((dgb_caps() & (DGB_CAP_SENDMMSG | DGB_CAP_RECVMMSG)) ==
	    (DGB_CAP_SENDMMSG | DGB_CAP_RECVMMSG))
		tcase_add_loop_test(batch, test_sandbox_fallback, 0,
				    (int)(sizeof(sandboxes) / sizeof(sandboxes[0])));
	else
		fprintf(stderr, "SKIP test_sandbox_fallback: no sendmmsg/recvmmsg to take away\n");
#else
	fprintf(stderr, "SKIP test_sandbox_fallback: the seccomp filter is written for x86_64\n");
#endif
	suite_add_tcase(s, batch);
	return s;
}
