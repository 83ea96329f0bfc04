/*
 * test_threads.c - several threads sending and receiving on one BIO.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * One module BIO on one non-blocking UDP socket bound to 127.0.0.1 that
 * sends to its own address, so the same BIO both sends and receives.  Four
 * threads send with DGB_sendmmsg() and four receive with DGB_recvmmsg(), in
 * batches, at the same time.  Every datagram carries its sender, its
 * sequence number and a checksum of its payload, and every one must be
 * accounted for: none duplicated, none corrupted, none from elsewhere, and
 * received + dropped == sent, where dropped is the kernel's drop counter of
 * the socket (the "drops" column of /proc/net/udp).  The receive buffer is
 * made large and the senders stay within a window of it, so normally
 * nothing is dropped at all.
 *
 * The second case runs the same with DGRAMBATCH_CAPS_DISABLE=sendmmsg,
 * recvmmsg, so that the module's sendmsg/recvmsg fallback runs in all
 * eight threads.  The module keeps its own probe cache, apart from the
 * copy of the core linked into this program: the variable is set before
 * the module is first loaded in this (forked) test process, and the
 * module's counters must show that the fallback really ran.
 *
 * Both keep UDP GRO off (DGB_set_gro): they check the plain batched path,
 * one system call per receive call.
 *
 * The third case is the header's own fallback (dgb_mmsg_loop_()) on one of
 * OpenSSL's datagram BIOs, shared by two sending threads with a receiver
 * each: no datagram may reach the other thread's receiver.
 *
 * The fourth has GRO on: segmented trains from four raw GSO senders, split
 * by the module for four receiving threads on one BIO; every datagram is
 * accounted for by sender and sequence, every train received whole or
 * counted in the kernel's drops, and the receive calls checked for one
 * order that agrees with every sender's and with real time (see "UDP GRO"
 * below).
 *
 * Run under ThreadSanitizer by scripts/check-all.sh.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "dgrambatch.h"
#include "testutil.h"
#include "probe/probe.h"

#define N_SENDERS 4
#define N_RECEIVERS 4
#define PER_SENDER 20000
#define BATCH 32

/* Datagram: sender, sequence number, checksum (32 bits each), payload. */
#define HDR_LEN 12
#define MIN_LEN 64
#define MAX_LEN 140

/* The whole case must end within this; normally it takes about a second. */
#define DEADLINE_S 40

/* Asked of the kernel for the receive buffer (it doubles the value). */
#define RCVBUF_WANT (8 * 1024 * 1024)

/* The first failure in any thread; the main thread reports it. */
struct failure {
	atomic_int failed;
	char why[512];
};

struct run {
	BIO *bio;
	int fd;
	BIO_ADDR *self;
	const union tu_addr *self_addr;
	/* How many datagrams may be sent and not yet received or dropped. */
	int64_t window;
	struct timespec deadline;

	atomic_uint_fast64_t sent;
	atomic_uint_fast64_t received;
	atomic_uint_fast64_t duplicates;
	atomic_uint_fast64_t corrupt;
	atomic_uint_fast64_t send_calls;
	atomic_uint_fast64_t recv_calls;
	atomic_uint_fast64_t send_retries;
	atomic_uint_fast64_t recv_empty;
	atomic_int stop;

	struct failure fail;

	_Atomic unsigned char seen[N_SENDERS][PER_SENDER];
};

struct worker {
	struct run *r;
	unsigned int id;
};

static void run_fail(struct failure *f, const char *fmt, ...)
{
	int expected = 0;
	va_list ap;

	if (!atomic_compare_exchange_strong(&f->failed, &expected, 1))
		return;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

/* The last error of this thread's OpenSSL error queue, as text. */
static const char *err_text(unsigned long e, char *buf, size_t len)
{
	ERR_error_string_n(e, buf, len);
	return buf;
}

static int past(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void pause_us(long us)
{
	struct timespec t = { 0, us * 1000 };

	nanosleep(&t, NULL);
}

/* --- datagram contents ---------------------------------------------------- */

static uint32_t dg_seed(uint32_t sender, uint32_t seq)
{
	uint32_t x = (sender + 1) * 0x9e3779b1u ^ seq * 0x85ebca77u;

	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 13;
	return x;
}

static size_t dg_len(uint32_t sender, uint32_t seq)
{
	return MIN_LEN + dg_seed(sender, seq) % (MAX_LEN - MIN_LEN + 1);
}

static void dg_payload(uint32_t sender, uint32_t seq, unsigned char *p, size_t n)
{
	uint32_t x = dg_seed(sender, seq);

	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		p[i] = (unsigned char)(x >> 24);
	}
}

static uint32_t dg_checksum(const unsigned char *p, size_t n)
{
	uint32_t a = 1, b = 0;

	for (size_t i = 0; i < n; i++) {
		a = (a + p[i]) % 65521u;
		b = (b + a) % 65521u;
	}
	return b << 16 | a;
}

/* Whether p[0..n) is the payload of datagram (sender, seq). */
static int dg_payload_is(uint32_t sender, uint32_t seq, const unsigned char *p, size_t n)
{
	uint32_t x = dg_seed(sender, seq);

	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		if (p[i] != (unsigned char)(x >> 24))
			return 0;
	}
	return 1;
}

/* Fill buf with datagram (sender, seq) of len >= HDR_LEN bytes. */
static void dg_fill(uint32_t sender, uint32_t seq, unsigned char *buf, size_t len)
{
	uint32_t sum;

	dg_payload(sender, seq, buf + HDR_LEN, len - HDR_LEN);
	sum = dg_checksum(buf + HDR_LEN, len - HDR_LEN);
	memcpy(buf, &sender, 4);
	memcpy(buf + 4, &seq, 4);
	memcpy(buf + 8, &sum, 4);
}

/* Fill buf with datagram (sender, seq); returns its length. */
static size_t dg_build(uint32_t sender, uint32_t seq, unsigned char *buf)
{
	size_t len = dg_len(sender, seq);

	dg_fill(sender, seq, buf, len);
	return len;
}

/* The sender and seq a datagram names; 0 if it is shorter than the header. */
static int dg_header(const unsigned char *buf, size_t len, uint32_t *sender, uint32_t *seq,
		     char *why, size_t whylen)
{
	if (len < HDR_LEN) {
		snprintf(why, whylen, "%zu bytes, shorter than the header", len);
		return 0;
	}
	memcpy(sender, buf, 4);
	memcpy(seq, buf + 4, 4);
	return 1;
}

/* Whether buf[0..len) is datagram (sender, seq) as sent, want bytes long. */
static int dg_intact(const unsigned char *buf, size_t len, size_t want, uint32_t sender,
		     uint32_t seq, char *why, size_t whylen)
{
	uint32_t sum;

	if (len != want) {
		snprintf(why, whylen, "sender %u seq %u: %zu bytes, sent %zu", sender, seq, len,
			 want);
		return 0;
	}
	memcpy(&sum, buf + 8, 4);
	if (dg_checksum(buf + HDR_LEN, len - HDR_LEN) != sum) {
		snprintf(why, whylen, "sender %u seq %u: checksum mismatch", sender, seq);
		return 0;
	}
	if (!dg_payload_is(sender, seq, buf + HDR_LEN, len - HDR_LEN)) {
		snprintf(why, whylen, "sender %u seq %u: payload differs", sender, seq);
		return 0;
	}
	return 1;
}

/* Whether buf[0..len) is an intact datagram; its sender and seq if so. */
static int dg_check(const unsigned char *buf, size_t len, uint32_t per_sender,
		    uint32_t *sender, uint32_t *seq, char *why, size_t whylen)
{
	if (!dg_header(buf, len, sender, seq, why, whylen))
		return 0;
	if (*sender >= N_SENDERS || *seq >= per_sender) {
		snprintf(why, whylen, "no such datagram: sender %u seq %u", *sender, *seq);
		return 0;
	}
	return dg_intact(buf, len, dg_len(*sender, *seq), *sender, *seq, why, whylen);
}

/* --- the kernel's drop counter ---------------------------------------------- */

/*
 * Datagrams the kernel dropped on their way into this socket (receive
 * buffer full, mostly), from /proc/net/udp: the line whose inode is the
 * socket's, last column.  -1 when it cannot be read.
 */
static long long socket_drops(int fd)
{
	struct stat st;
	char line[512];
	long long drops = -1;
	FILE *f;

	if (fstat(fd, &st) != 0 || (f = fopen("/proc/net/udp", "r")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long ino, d;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %*s %*s %llu", &ino,
			   &d) == 2 &&
		    ino == (unsigned long long)st.st_ino) {
			drops = (long long)d;
			break;
		}
	}
	fclose(f);
	return drops;
}

/* --- the threads --------------------------------------------------------------- */

static int64_t outstanding(struct run *r, long long drops)
{
	return (int64_t)atomic_load(&r->sent) - (int64_t)atomic_load(&r->received) -
	       (drops > 0 ? drops : 0);
}

/* Wait while the receivers are more than a window behind. */
static void stay_in_window(struct run *r)
{
	long long drops = 0;

	for (unsigned int spins = 1; outstanding(r, drops) > r->window; spins++) {
		if (atomic_load(&r->fail.failed) || past(&r->deadline))
			return;
		pause_us(100);
		/* Whatever the kernel dropped will never be received. */
		if (spins % 20 == 0)
			drops = socket_drops(r->fd);
	}
}

static void *sender(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	unsigned char (*buf)[MAX_LEN] = calloc(BATCH, MAX_LEN);
	DGB_MSG msg[BATCH];
	uint32_t seq = 0;
	char e[256];

	if (buf == NULL) {
		run_fail(&r->fail, "sender %u: out of memory", w->id);
		return NULL;
	}
	ERR_clear_error();
	while (seq < PER_SENDER && !atomic_load(&r->fail.failed)) {
		size_t n = PER_SENDER - seq < BATCH ? PER_SENDER - seq : BATCH, done = 0;
		size_t len[BATCH];

		if (past(&r->deadline)) {
			run_fail(&r->fail, "sender %u: deadline passed at seq %u", w->id, seq);
			break;
		}
		stay_in_window(r);
		memset(msg, 0, sizeof(msg));
		for (size_t i = 0; i < n; i++) {
			len[i] = dg_build(w->id, seq + (uint32_t)i, buf[i]);
			msg[i].data = buf[i];
			msg[i].data_len = len[i];
			msg[i].peer = r->self;
		}
		atomic_fetch_add(&r->send_calls, 1);
		if (!DGB_sendmmsg(r->bio, msg, sizeof(DGB_MSG), n, 0, &done)) {
			unsigned long err = ERR_peek_last_error();

			if (!DGB_err_is_non_fatal((unsigned int)err)) {
				run_fail(&r->fail, "sender %u: DGB_sendmmsg: %s", w->id,
					 err_text(err, e, sizeof(e)));
				break;
			}
			/* The socket's send buffer is full (EAGAIN) or ENOBUFS: wait. */
			ERR_clear_error();
			atomic_fetch_add(&r->send_retries, 1);
			{
				struct pollfd p = { r->fd, POLLOUT, 0 };

				(void)poll(&p, 1, 10);
			}
			continue;
		}
		if (done > n) {
			run_fail(&r->fail, "sender %u: %zu of %zu processed", w->id, done, n);
			break;
		}
		for (size_t i = 0; i < done; i++)
			if (msg[i].data_len != len[i]) {
				run_fail(&r->fail, "sender %u seq %u: %zu of %zu bytes sent", w->id,
					 seq + (uint32_t)i, msg[i].data_len, len[i]);
				break;
			}
		if (done == 0)
			atomic_fetch_add(&r->send_retries, 1);
		seq += (uint32_t)done;
		atomic_fetch_add(&r->sent, done);
	}
	free(buf);
	OPENSSL_thread_stop();
	return NULL;
}

/* Whether a is the IPv4 address want. */
static int addr_is(const BIO_ADDR *a, const union tu_addr *want)
{
	struct in_addr ip;
	size_t iplen = 0;

	return BIO_ADDR_family(a) == AF_INET && BIO_ADDR_rawport(a) == want->sin.sin_port &&
	       BIO_ADDR_rawaddress(a, NULL, &iplen) && iplen == sizeof(ip) &&
	       BIO_ADDR_rawaddress(a, &ip, &iplen) && ip.s_addr == want->sin.sin_addr.s_addr;
}

static int from_self(const struct run *r, const BIO_ADDR *a)
{
	return addr_is(a, r->self_addr);
}

static void *receiver(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	/* Room for more than the longest datagram, so truncation would show. */
	unsigned char (*buf)[MAX_LEN + 64] = calloc(BATCH, MAX_LEN + 64);
	BIO_ADDR *peer[BATCH] = { NULL };
	DGB_MSG msg[BATCH];
	char e[256], why[256];
	int ok = buf != NULL;

	for (size_t i = 0; i < BATCH; i++)
		if ((peer[i] = BIO_ADDR_new()) == NULL)
			ok = 0;
	if (!ok) {
		run_fail(&r->fail, "receiver %u: out of memory", w->id);
		goto done;
	}
	ERR_clear_error();
	while (!atomic_load(&r->fail.failed)) {
		size_t done = 0;

		memset(msg, 0, sizeof(msg));
		for (size_t i = 0; i < BATCH; i++) {
			msg[i].data = buf[i];
			msg[i].data_len = MAX_LEN + 64;
			msg[i].peer = peer[i];
			BIO_ADDR_clear(peer[i]);
		}
		atomic_fetch_add(&r->recv_calls, 1);
		if (!DGB_recvmmsg(r->bio, msg, sizeof(DGB_MSG), BATCH, 0, &done)) {
			unsigned long err = ERR_peek_last_error();

			if (!DGB_err_is_non_fatal((unsigned int)err)) {
				run_fail(&r->fail, "receiver %u: DGB_recvmmsg: %s", w->id,
					 err_text(err, e, sizeof(e)));
				break;
			}
			ERR_clear_error();
		}
		if (done == 0) {
			struct pollfd p = { r->fd, POLLIN, 0 };

			/* Nothing queued: stop when told to, else wait for more. */
			atomic_fetch_add(&r->recv_empty, 1);
			if (atomic_load(&r->stop))
				break;
			(void)poll(&p, 1, 10);
			continue;
		}
		if (done > BATCH) {
			run_fail(&r->fail, "receiver %u: %zu of %d processed", w->id, done, BATCH);
			break;
		}
		for (size_t i = 0; i < done; i++) {
			uint32_t s, q;

			if (!from_self(r, msg[i].peer)) {
				atomic_fetch_add(&r->corrupt, 1);
				run_fail(&r->fail, "receiver %u: a datagram not from the socket itself",
					 w->id);
			} else if (!dg_check(buf[i], msg[i].data_len, PER_SENDER, &s, &q, why,
					   sizeof(why))) {
				atomic_fetch_add(&r->corrupt, 1);
				run_fail(&r->fail, "receiver %u: corrupt datagram: %s", w->id, why);
			} else if (atomic_exchange(&r->seen[s][q], 1) != 0) {
				atomic_fetch_add(&r->duplicates, 1);
				run_fail(&r->fail, "receiver %u: sender %u seq %u received twice", w->id,
					 s, q);
			}
		}
		atomic_fetch_add(&r->received, done);
	}
done:
	for (size_t i = 0; i < BATCH; i++)
		BIO_ADDR_free(peer[i]);
	free(buf);
	OPENSSL_thread_stop();
	return NULL;
}

/* --- the case ------------------------------------------------------------------- */

enum { C_TX, C_RX, C_TXSYS, C_RXSYS, C_FALLBACK, C_N };
static const char *const counter_keys[C_N] = {
	DGB_PARAM_TX_DATAGRAMS, DGB_PARAM_RX_DATAGRAMS, DGB_PARAM_TX_SYSCALLS,
	DGB_PARAM_RX_SYSCALLS, DGB_PARAM_FALLBACK_BATCHES,
};

static void counters(OSSL_PROVIDER *prov, uint64_t *c)
{
	for (int i = 0; i < C_N; i++)
		c[i] = tu_provider_counter(prov, counter_keys[i]);
}

/* Whether the module is mapped in this process already. */
static int module_loaded(void)
{
	const char *path = getenv("DGB_MODULE");
	void *h;

	ck_assert_msg(path != NULL, "run through make check (DGB_MODULE)");
	h = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
	if (h == NULL)
		return 0;
	dlclose(h);
	return 1;
}

/* A receive buffer as large as the kernel allows; its size in bytes. */
static int big_rcvbuf(int fd, int want, const char **how)
{
	int got = 0;
	socklen_t len = sizeof(got);

	*how = "SO_RCVBUFFORCE";
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0) {
		*how = "SO_RCVBUF";
		ck_assert_msg(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) == 0,
			      "SO_RCVBUF: %s", strerror(errno));
	}
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len), 0);
	return got;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void threads_on_one_bio(int fallback)
{
	const char *mode = fallback ? "sendmsg/recvmsg fallback" : "sendmmsg/recvmmsg";
	struct run *r;
	struct worker ws[N_SENDERS], wr[N_RECEIVERS];
	pthread_t ts[N_SENDERS], tr[N_RECEIVERS];
	union tu_addr self;
	OSSL_LIB_CTX *ctx;
	OSSL_PROVIDER *prov;
	const BIO_METHOD *meth;
	BIO_ADDR *peer;
	uint64_t c0[C_N], c1[C_N], sent, received, send_calls, recv_calls;
	long long drops;
	int rcvbuf, native;
	const char *how;
	struct timespec t0;
	char leftover[8];

	/*
	 * The module reads DGRAMBATCH_CAPS_DISABLE when it first probes, so
	 * the variable must be in place before the module is loaded; Check
	 * runs each test in a fresh child, where the runner has not loaded it.
	 */
	tu_caps_disable(NULL);
	native = dgb_cap_usable(DGB_CAP_SENDMMSG | DGB_CAP_RECVMMSG);
	if (fallback) {
		ck_assert_msg(!module_loaded(),
			      "the module was loaded before this test; its capability probe "
			      "cannot see DGRAMBATCH_CAPS_DISABLE (run in fork mode)");
		tu_caps_disable("sendmmsg,recvmmsg,udp_segment");
	}
	ctx = OSSL_LIB_CTX_new();
	ck_assert_ptr_nonnull(ctx);
	prov = OSSL_PROVIDER_load(ctx, DGB_PROVIDER_NAME);
	if (prov == NULL)
		ERR_print_errors_fp(stderr);
	ck_assert_ptr_nonnull(prov);
	meth = DGB_provider_bio_method(prov);
	ck_assert_ptr_nonnull(meth);

	r = calloc(1, sizeof(*r));
	ck_assert_ptr_nonnull(r);
	r->fd = tu_udp_loopback(AF_INET, &self);
	r->self_addr = &self;
	rcvbuf = big_rcvbuf(r->fd, RCVBUF_WANT, &how);
	r->window = rcvbuf / 2048;
	if (r->window < 2 * BATCH)
		r->window = 2 * BATCH;
	if (r->window > 4096)
		r->window = 4096;
	ck_assert_int_eq(socket_drops(r->fd) <= 0, 1);
	r->self = BIO_ADDR_new();
	ck_assert_ptr_nonnull(r->self);
	ck_assert_int_eq(BIO_ADDR_rawmake(r->self, AF_INET, &self.sin.sin_addr,
					  sizeof(self.sin.sin_addr), self.sin.sin_port), 1);
	r->bio = BIO_new(meth);
	ck_assert_ptr_nonnull(r->bio);
	ck_assert_int_eq(BIO_set_fd(r->bio, r->fd, BIO_CLOSE), 1);
	ck_assert_int_eq(BIO_set_nbio(r->bio, 1), 1);
	ck_assert_int_ne(fcntl(r->fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_eq(DGB_is_dgrambatch(r->bio), 1);
	/*
	 * This case is about the plain batched path, one system call per
	 * receive call, which the counters below check exactly.  Left on, GRO
	 * would go on at the first batched receive, and a GRO receive may
	 * make several system calls (list the queue, take the trains, remove
	 * one kept from an earlier call) or none; test_threads_gro covers it.
	 */
	ck_assert_int_eq(DGB_set_gro(r->bio, 0), 1);
	ck_assert_int_eq(DGB_get_gro(r->bio), 0);

	counters(prov, c0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r->deadline = t0;
	r->deadline.tv_sec += DEADLINE_S;
	for (unsigned int i = 0; i < N_RECEIVERS; i++) {
		wr[i].r = r;
		wr[i].id = i;
		ck_assert_int_eq(pthread_create(&tr[i], NULL, receiver, &wr[i]), 0);
	}
	for (unsigned int i = 0; i < N_SENDERS; i++) {
		ws[i].r = r;
		ws[i].id = i;
		ck_assert_int_eq(pthread_create(&ts[i], NULL, sender, &ws[i]), 0);
	}
	for (unsigned int i = 0; i < N_SENDERS; i++)
		ck_assert_int_eq(pthread_join(ts[i], NULL), 0);

	/* Everything sent is received or dropped: then the socket is empty. */
	for (;;) {
		drops = socket_drops(r->fd);
		if (atomic_load(&r->fail.failed) ||
		    (int64_t)atomic_load(&r->received) + (drops > 0 ? drops : 0) >=
			    (int64_t)atomic_load(&r->sent))
			break;
		if (past(&r->deadline)) {
			run_fail(&r->fail, "deadline passed: sent %llu, received %llu, dropped %lld",
				 (unsigned long long)atomic_load(&r->sent),
				 (unsigned long long)atomic_load(&r->received), drops);
			break;
		}
		pause_us(1000);
	}
	atomic_store(&r->stop, 1);
	for (unsigned int i = 0; i < N_RECEIVERS; i++)
		ck_assert_int_eq(pthread_join(tr[i], NULL), 0);
	counters(prov, c1);

	sent = atomic_load(&r->sent);
	received = atomic_load(&r->received);
	send_calls = atomic_load(&r->send_calls);
	recv_calls = atomic_load(&r->recv_calls);
	drops = socket_drops(r->fd);
	fprintf(stderr,
		"threads (%s): %d senders, %d receivers, batches of %d: sent %llu, received "
		"%llu, dropped %lld; %llu send calls (%llu retried), %llu receive calls "
		"(%llu empty); %s %d bytes, window %lld; %.2fs\n",
		mode, N_SENDERS, N_RECEIVERS, BATCH, (unsigned long long)sent,
		(unsigned long long)received, drops, (unsigned long long)send_calls,
		(unsigned long long)atomic_load(&r->send_retries),
		(unsigned long long)recv_calls, (unsigned long long)atomic_load(&r->recv_empty),
		how, rcvbuf, (long long)r->window, seconds_since(&t0));

	ck_assert_msg(!atomic_load(&r->fail.failed), "%s: %s", mode, r->fail.why);
	ck_assert_uint_eq(atomic_load(&r->duplicates), 0);
	ck_assert_uint_eq(atomic_load(&r->corrupt), 0);
	ck_assert_uint_eq(sent, (uint64_t)N_SENDERS * PER_SENDER);
	/* Each datagram is either received exactly once or counted dropped. */
	{
		uint64_t seen = 0;

		for (int s = 0; s < N_SENDERS; s++)
			for (int q = 0; q < PER_SENDER; q++)
				seen += atomic_load(&r->seen[s][q]);
		ck_assert_uint_eq(seen, received);
	}
	if (drops < 0) {
		fprintf(stderr, "threads: no drop counter in /proc/net/udp; none may be lost\n");
		drops = 0;
	}
	ck_assert_msg(received + (uint64_t)drops == sent,
		      "%s: sent %llu, received %llu, dropped %lld", mode,
		      (unsigned long long)sent, (unsigned long long)received, drops);
	/* Nothing is left over in the socket. */
	ck_assert_int_eq(recv(r->fd, leftover, sizeof(leftover), MSG_DONTWAIT), -1);
	ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK, "recv: %s", strerror(errno));

	/* The BIO learnt the peer from the receives: the socket itself. */
	peer = BIO_ADDR_new();
	ck_assert_ptr_nonnull(peer);
	ck_assert_int_gt(BIO_dgram_get_peer(r->bio, peer), 0);
	ck_assert_msg(from_self(r, peer), "the peer the BIO learnt is not the socket itself");
	BIO_ADDR_free(peer);

	/* The module counted what moved, and moved it the way asked. */
	ck_assert_uint_eq(c1[C_TX] - c0[C_TX], sent);
	ck_assert_uint_eq(c1[C_RX] - c0[C_RX], received);
	if (fallback) {
		/* Every batch that reached the core went one datagram at a time. */
		ck_assert_msg(c1[C_FALLBACK] - c0[C_FALLBACK] == send_calls + recv_calls,
			      "the module made %llu fallback batches of %llu calls: "
			      "DGRAMBATCH_CAPS_DISABLE did not reach its probe",
			      (unsigned long long)(c1[C_FALLBACK] - c0[C_FALLBACK]),
			      (unsigned long long)(send_calls + recv_calls));
		ck_assert_uint_ge(c1[C_TXSYS] - c0[C_TXSYS], sent);
		ck_assert_uint_ge(c1[C_RXSYS] - c0[C_RXSYS], received);
	} else if (native) {
		ck_assert_uint_eq(c1[C_FALLBACK] - c0[C_FALLBACK], 0);
		ck_assert_uint_eq(c1[C_TXSYS] - c0[C_TXSYS], send_calls);
		ck_assert_uint_eq(c1[C_RXSYS] - c0[C_RXSYS], recv_calls);
	} else {
		fprintf(stderr, "threads: this kernel has no sendmmsg/recvmmsg; the module "
				"used its fallback in the native case too\n");
	}

	BIO_free(r->bio);
	BIO_ADDR_free(r->self);
	free(r);
	ck_assert_int_eq(OSSL_PROVIDER_unload(prov), 1);
	OSSL_LIB_CTX_free(ctx);
	tu_caps_disable(NULL);
}

/* --- the header's fallback: two senders on one of OpenSSL's own BIOs ------- */

#define SHARED_SENDERS 2
#define SHARED_PER_SENDER 32000
/* Enough that the kernel drops nothing even when the receivers lag. */
#define SHARED_RCVBUF_WANT (32 * 1024 * 1024)
/* A sender gives up after this many failed calls. */
#define SHARED_MAX_ERRORS 1000

struct shared {
	BIO *bio;
	int send_fd;
	int rx_fd[SHARED_SENDERS];
	BIO_ADDR *to[SHARED_SENDERS];
	struct timespec deadline;
	/* The senders start together, so that their calls overlap. */
	pthread_barrier_t start;

	atomic_uint_fast64_t sent[SHARED_SENDERS];
	/* By receiver: all it took off its socket, and what was wrong with it. */
	atomic_uint_fast64_t arrived[SHARED_SENDERS];
	atomic_uint_fast64_t received[SHARED_SENDERS];
	atomic_uint_fast64_t misdirected[SHARED_SENDERS];
	atomic_uint_fast64_t out_of_order[SHARED_SENDERS];
	atomic_uint_fast64_t corrupt[SHARED_SENDERS];
	atomic_uint_fast64_t send_errors;
	atomic_int stop;
	struct failure fail;
	char first_error[256];
};

struct shared_worker {
	struct shared *s;
	uint32_t id;
};

/*
 * Sender id: its datagrams, in batches, to receiver id, through
 * dgb_mmsg_loop_() on the shared BIO.
 */
static void *shared_sender(void *arg)
{
	struct shared_worker *w = arg;
	struct shared *s = w->s;
	unsigned char buf[BATCH][MAX_LEN];
	DGB_MSG msg[BATCH];
	size_t len[BATCH];
	uint32_t seq = 0;

	(void)pthread_barrier_wait(&s->start);
	while (seq < SHARED_PER_SENDER && !atomic_load(&s->fail.failed)) {
		size_t n = SHARED_PER_SENDER - seq < BATCH ? SHARED_PER_SENDER - seq : BATCH;
		size_t done = 0;

		if (past(&s->deadline)) {
			run_fail(&s->fail, "sender %u: deadline passed at seq %u", w->id, seq);
			break;
		}
		memset(msg, 0, sizeof(msg));
		for (size_t i = 0; i < n; i++) {
			len[i] = dg_build(w->id, seq + (uint32_t)i, buf[i]);
			msg[i].data = buf[i];
			msg[i].data_len = len[i];
			msg[i].peer = s->to[w->id];
		}
		if (!dgb_mmsg_loop_(s->bio, msg, sizeof(DGB_MSG), n, &done, 1)) {
			unsigned long err = ERR_peek_last_error();
			struct pollfd p = { s->send_fd, POLLOUT, 0 };

			if (!DGB_err_is_non_fatal((unsigned int)err) &&
			    atomic_fetch_add(&s->send_errors, 1) == 0)
				err_text(err, s->first_error, sizeof(s->first_error));
			ERR_clear_error();
			if (atomic_load(&s->send_errors) >= SHARED_MAX_ERRORS) {
				run_fail(&s->fail, "sender %u: %d failed calls", w->id,
					 SHARED_MAX_ERRORS);
				break;
			}
			(void)poll(&p, 1, 10);
			continue;
		}
		for (size_t i = 0; i < done; i++)
			if (msg[i].data_len != len[i] || msg[i].flags != 0)
				run_fail(&s->fail, "sender %u seq %u: %zu of %zu bytes sent, flags %llu",
					 w->id, seq + (uint32_t)i, msg[i].data_len, len[i],
					 (unsigned long long)msg[i].flags);
		seq += (uint32_t)done;
		atomic_fetch_add(&s->sent[w->id], done);
	}
	OPENSSL_thread_stop();
	return NULL;
}

/*
 * Receiver id: everything that reaches its socket, until told to stop and
 * the socket is empty.  It must be sender id's, intact, in order.
 */
static void *shared_receiver(void *arg)
{
	struct shared_worker *w = arg;
	struct shared *s = w->s;
	unsigned char buf[MAX_LEN + 64];
	int64_t last = -1;
	char why[256];

	for (;;) {
		ssize_t n = recv(s->rx_fd[w->id], buf, sizeof(buf), MSG_DONTWAIT);
		uint32_t from, seq;

		if (n < 0) {
			struct pollfd p = { s->rx_fd[w->id], POLLIN, 0 };

			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				run_fail(&s->fail, "receiver %u: recv: %s", w->id, strerror(errno));
				break;
			}
			if (atomic_load(&s->stop))
				break;
			(void)poll(&p, 1, 10);
			continue;
		}
		atomic_fetch_add(&s->arrived[w->id], 1);
		if (!dg_check(buf, (size_t)n, SHARED_PER_SENDER, &from, &seq, why, sizeof(why))) {
			atomic_fetch_add(&s->corrupt[w->id], 1);
			run_fail(&s->fail, "receiver %u: corrupt datagram: %s", w->id, why);
		} else if (from != w->id) {
			/* Counted, not failed at once: the total is the finding. */
			atomic_fetch_add(&s->misdirected[w->id], 1);
		} else if ((int64_t)seq <= last) {
			atomic_fetch_add(&s->out_of_order[w->id], 1);
			run_fail(&s->fail, "receiver %u: seq %u after seq %lld", w->id, seq,
				 (long long)last);
		} else {
			last = seq;
			atomic_fetch_add(&s->received[w->id], 1);
		}
	}
	return NULL;
}

/* Everything sent has arrived somewhere or was dropped. */
static int shared_settled(struct shared *s, long long *drops)
{
	uint64_t sent = 0, arrived = 0;

	for (int k = 0; k < SHARED_SENDERS; k++) {
		drops[k] = socket_drops(s->rx_fd[k]);
		sent += atomic_load(&s->sent[k]);
		arrived += atomic_load(&s->arrived[k]) + (drops[k] > 0 ? (uint64_t)drops[k] : 0);
	}
	return arrived >= sent;
}

/*
 * dgb_mmsg_loop_() is what DGB_sendmmsg() does with a datagram BIO that is
 * not the module's where libcrypto has no BIO_sendmmsg() (3.0, 3.1); it is
 * called directly here, so it runs whatever the OpenSSL.  Two threads share
 * one BIO_s_datagram on an unconnected socket, each sending SHARED_PER_SENDER
 * datagrams to its own receiver.  BIO_sendmmsg() allows that, and so must
 * the fallback: on a socket it passes each message's peer to sendmsg() and
 * never sets the BIO's (setting it around each BIO_write() sent some of
 * each thread's datagrams to the other thread's receiver).  Every datagram
 * is accounted for: received by its own receiver, once, in order, intact,
 * or counted in the receiver socket's drops.
 */
START_TEST(test_threads_fallback_shared_bio)
{
	struct shared *s = calloc(1, sizeof(*s));
	struct shared_worker ws[SHARED_SENDERS], wr[SHARED_SENDERS];
	pthread_t ts[SHARED_SENDERS], tr[SHARED_SENDERS];
	union tu_addr src, dst;
	long long drops[SHARED_SENDERS];
	BIO_ADDR *peer;
	const char *how = "";
	int rcvbuf = 0;
	struct timespec t0;

	ck_assert_ptr_nonnull(s);
	s->send_fd = tu_udp_loopback(AF_INET, &src);
	s->bio = BIO_new_dgram(s->send_fd, BIO_CLOSE);
	ck_assert_ptr_nonnull(s->bio);
	ck_assert_int_eq(DGB_is_dgrambatch(s->bio), 0);
	ck_assert_int_eq(pthread_barrier_init(&s->start, NULL, SHARED_SENDERS), 0);
	for (int k = 0; k < SHARED_SENDERS; k++) {
		s->rx_fd[k] = tu_udp_loopback(AF_INET, &dst);
		rcvbuf = big_rcvbuf(s->rx_fd[k], SHARED_RCVBUF_WANT, &how);
		s->to[k] = BIO_ADDR_new();
		ck_assert_ptr_nonnull(s->to[k]);
		ck_assert(BIO_ADDR_rawmake(s->to[k], AF_INET, &dst.sin.sin_addr,
					   sizeof(dst.sin.sin_addr), dst.sin.sin_port));
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	s->deadline = t0;
	s->deadline.tv_sec += DEADLINE_S;
	for (uint32_t k = 0; k < SHARED_SENDERS; k++) {
		wr[k].s = ws[k].s = s;
		wr[k].id = ws[k].id = k;
		ck_assert_int_eq(pthread_create(&tr[k], NULL, shared_receiver, &wr[k]), 0);
	}
	for (int k = 0; k < SHARED_SENDERS; k++)
		ck_assert_int_eq(pthread_create(&ts[k], NULL, shared_sender, &ws[k]), 0);
	for (int k = 0; k < SHARED_SENDERS; k++)
		ck_assert_int_eq(pthread_join(ts[k], NULL), 0);
	while (!shared_settled(s, drops) && !atomic_load(&s->fail.failed)) {
		if (past(&s->deadline)) {
			run_fail(&s->fail, "deadline passed before every datagram arrived");
			break;
		}
		pause_us(1000);
	}
	atomic_store(&s->stop, 1);
	for (int k = 0; k < SHARED_SENDERS; k++)
		ck_assert_int_eq(pthread_join(tr[k], NULL), 0);
	(void)shared_settled(s, drops);

	for (int k = 0; k < SHARED_SENDERS; k++)
		fprintf(stderr,
			"threads (fallback, shared BIO): sender %d sent %llu; its receiver took %llu: "
			"%llu its own, %llu misdirected, %llu out of order, %llu corrupt; "
			"dropped %lld\n",
			k, (unsigned long long)atomic_load(&s->sent[k]),
			(unsigned long long)atomic_load(&s->arrived[k]),
			(unsigned long long)atomic_load(&s->received[k]),
			(unsigned long long)atomic_load(&s->misdirected[k]),
			(unsigned long long)atomic_load(&s->out_of_order[k]),
			(unsigned long long)atomic_load(&s->corrupt[k]), drops[k]);
	fprintf(stderr, "threads (fallback, shared BIO): %llu failed send calls%s%s; %s %d bytes; "
			"%.2fs\n",
		(unsigned long long)atomic_load(&s->send_errors), s->send_errors ? ", first: " : "",
		s->first_error, how, rcvbuf, seconds_since(&t0));

	for (int k = 0; k < SHARED_SENDERS; k++)
		ck_assert_msg(atomic_load(&s->misdirected[k]) == 0,
			      "receiver %d got %llu datagrams of the other sender", k,
			      (unsigned long long)atomic_load(&s->misdirected[k]));
	ck_assert_msg(atomic_load(&s->send_errors) == 0, "%llu failed send calls, first: %s",
		      (unsigned long long)atomic_load(&s->send_errors), s->first_error);
	ck_assert_msg(!atomic_load(&s->fail.failed), "%s", s->fail.why);
	for (int k = 0; k < SHARED_SENDERS; k++) {
		uint64_t sent = atomic_load(&s->sent[k]), got = atomic_load(&s->received[k]);

		ck_assert_uint_eq(sent, SHARED_PER_SENDER);
		ck_assert_uint_eq(atomic_load(&s->arrived[k]), got);
		if (drops[k] < 0) {
			fprintf(stderr, "threads: no drop counter in /proc/net/udp; none may be lost\n");
			drops[k] = 0;
		}
		ck_assert_msg(got + (uint64_t)drops[k] == sent,
			      "receiver %d: sent %llu, received %llu, dropped %lld", k,
			      (unsigned long long)sent, (unsigned long long)got, drops[k]);
	}
	/* The BIO's own peer was never set. */
	peer = BIO_ADDR_new();
	ck_assert_ptr_nonnull(peer);
	(void)BIO_dgram_get_peer(s->bio, peer);
	ck_assert_int_eq(BIO_ADDR_family(peer), AF_UNSPEC);
	BIO_ADDR_free(peer);

	BIO_free(s->bio);
	pthread_barrier_destroy(&s->start);
	for (int k = 0; k < SHARED_SENDERS; k++) {
		BIO_ADDR_free(s->to[k]);
		close(s->rx_fd[k]);
	}
	free(s);
}
END_TEST

/* --- UDP GRO: segmented trains from several senders, split on one BIO ------ */

/*
 * The offload's promise, under concurrency: GSO senders (raw sendmsg with
 * UDP_SEGMENT) send trains of 1 to GRO_MAX_SEGS datagrams, some with a
 * short last one, to one module BIO whose four receiving threads take them
 * in arrays of 32 (OpenSSL's QUIC stack) and of other sizes, from 1 up.
 *
 * What can "in order" mean with four receivers?  The module takes every
 * receive of a socket with GRO on through one lock, and each locked section
 * takes the next stretch of the socket's queue: first what is left of a
 * train an earlier call could not hold, then whole trains, then as much of
 * one more as fits.  So there is one order of the receive calls (that of
 * the lock) in which every sender's datagrams come out exactly in the
 * order sent, less the trains the kernel dropped; each call's datagrams are
 * a stretch of it; the rest of a split train goes to the very next call,
 * first; and that order agrees with real time: a call that returned before
 * another began is earlier.  The receivers cannot see the lock, so they
 * note a ticket before and after each call, and every datagram's call; the
 * analysis afterwards checks that such an order exists (gro_analyse).
 *
 * Loss: with UDP_GRO on, a train sent over loopback reaches the socket
 * whole (the kernel cuts it up only for a socket that does not take
 * trains), and the kernel counts a
 * train it drops as one drop, whatever its length.  So every train is
 * received whole or not at all, and the trains missing are the socket's
 * drop count (/proc/net/udp) -- in trains, not datagrams -- which the
 * module's rx-kernel-drops counter (SO_RXQ_OVFL) must match.  The receive
 * buffer is large and the senders stay within a window of it, so drops
 * are rare; so that they are checked all the same, the senders first
 * flood the socket until the kernel drops some, before the receivers take
 * anything.
 *
 * The counters must agree with what the receivers saw: gro-receives and
 * gro-segments the trains of two or more received and their datagrams,
 * gro-carried the datagrams a call delivered from a train an earlier call
 * split, rx-truncated nothing.
 */

#define GRO_SENDERS 4
#define GRO_RECEIVERS 4
#define GRO_PER_SENDER 40000
#define GRO_MAX_SEGS 64
#define GRO_MIN_SEG 16
#define GRO_MAX_SEG 1000
/* The most one UDP send over IPv4 can carry. */
#define GRO_MAX_TRAIN 65507
/* Room for more than the longest datagram, so truncation would show. */
#define GRO_BUF (GRO_MAX_SEG + 64)
#define GRO_DEADLINE_S 60
/* The sender field of the last datagram sent, alone, after everything else. */
#define GRO_FENCE GRO_SENDERS

_Static_assert(GRO_MAX_SEGS * GRO_MAX_SEG <= GRO_MAX_TRAIN, "a train must fit one send");
_Static_assert(GRO_MIN_SEG > HDR_LEN, "a short last datagram must hold the header");

/*
 * The array sizes each receiver passes, in turn: 32, as OpenSSL's QUIC
 * stack does; sizes that split trains elsewhere, down to one datagram a
 * call; and arrays that hold many trains.
 */
#define GRO_ROUND 6
static const unsigned int gro_arrays[GRO_RECEIVERS][GRO_ROUND] = {
	{ 32, 32, 32, 32, 32, 32 },
	{ 32, 32, 32, 32, 32, 32 },
	{ 1, 5, 31, 33, 64, 2 },
	{ 256, 100, 256, 7, 256, 48 },
};
#define GRO_MAX_ARRAY 256

struct gro_train {
	uint32_t first; /* seq of its first datagram */
	uint16_t nseg;	/* datagrams */
	uint16_t seg;	/* bytes of each but the last */
	uint16_t last;	/* bytes of the last */
	/* Sent with UDP_SEGMENT: always for two or more, for some single ones. */
	uint8_t cmsg;
};

/* What one sender sends: fixed before the threads start. */
struct gro_plan {
	uint32_t ntrains;
	struct gro_train train[GRO_PER_SENDER];
	uint32_t train_of[GRO_PER_SENDER];
};

/* One receive call that delivered datagrams. */
struct gro_call {
	/* Tickets taken just before and just after the call. */
	uint64_t start, end;
	/* Its datagrams: deliveries [first, first + count) of the log. */
	uint32_t first, count;
	/* Messages passed. */
	uint32_t room;
};

struct gro_delivery {
	uint32_t sender, seq;
};

/* One receiver's record; only it writes it, until it is joined. */
struct gro_log {
	struct gro_call *call;
	size_t ncalls, callcap;
	struct gro_delivery *dl;
	size_t ndl, dlcap;
};

struct gro_run {
	BIO *bio;
	int fd;
	union tu_addr self;
	int tx_fd[GRO_SENDERS];
	union tu_addr from[GRO_SENDERS];
	/* Receivers 1 and 3 ask for the local address where the BIO gives it. */
	int local_enabled;
	/* How many trains may be sent and not yet received or dropped. */
	int64_t window;
	struct timespec deadline;
	pthread_barrier_t start;

	/* Receivers past their first receive; they then wait for the gate. */
	atomic_int first_done;
	atomic_int gate;
	/* Senders done flooding the socket. */
	atomic_int flooded;
	atomic_int stop;
	atomic_int fence_seen;
	atomic_uint_fast64_t ticket;
	atomic_uint_fast64_t sent, sent_trains, flood_trains, completed_trains, received;
	atomic_uint_fast64_t recv_calls, recv_empty, send_retries;

	struct failure fail;
	struct gro_log log[GRO_RECEIVERS];
	struct gro_plan plan[GRO_SENDERS];
	_Atomic unsigned char seen[GRO_SENDERS][GRO_PER_SENDER];
};

struct gro_worker {
	struct gro_run *r;
	unsigned int id;
};

static uint32_t gro_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Sender id's trains: a quarter each of 1, 2-16, 17-32 and 33-64 datagrams. */
static void gro_plan_make(struct gro_plan *p, uint32_t id)
{
	uint32_t x = dg_seed(id, UINT32_MAX) | 1;

	p->ntrains = 0;
	for (uint32_t seq = 0; seq < GRO_PER_SENDER;) {
		struct gro_train *t = &p->train[p->ntrains];
		uint32_t nseg;

		switch (gro_rand(&x) % 4) {
		case 0:
			nseg = 1;
			break;
		case 1:
			nseg = 2 + gro_rand(&x) % 15;
			break;
		case 2:
			nseg = 17 + gro_rand(&x) % 16;
			break;
		default:
			nseg = 33 + gro_rand(&x) % (GRO_MAX_SEGS - 32);
			break;
		}
		if (nseg > GRO_PER_SENDER - seq)
			nseg = GRO_PER_SENDER - seq;
		t->first = seq;
		t->nseg = (uint16_t)nseg;
		t->seg = (uint16_t)(GRO_MIN_SEG + gro_rand(&x) % (GRO_MAX_SEG - GRO_MIN_SEG + 1));
		t->last = t->seg;
		if (nseg > 1 && gro_rand(&x) % 3 == 0)
			t->last = (uint16_t)(HDR_LEN + gro_rand(&x) % (t->seg - HDR_LEN));
		t->cmsg = nseg > 1 || gro_rand(&x) % 2;
		for (uint32_t k = 0; k < nseg; k++)
			p->train_of[seq + k] = p->ntrains;
		seq += nseg;
		p->ntrains++;
	}
}

static const struct gro_train *gro_train_of(const struct gro_run *r, uint32_t sender, uint32_t seq)
{
	return &r->plan[sender].train[r->plan[sender].train_of[seq]];
}

static uint32_t gro_last_seq(const struct gro_train *t)
{
	return t->first + t->nseg - 1;
}

static size_t gro_len(const struct gro_run *r, uint32_t sender, uint32_t seq)
{
	const struct gro_train *t = gro_train_of(r, sender, seq);

	return seq == gro_last_seq(t) ? t->last : t->seg;
}

/* Send train t of sender id in one sendmsg; 0 on failure (recorded). */
static int gro_send_train(struct gro_run *r, unsigned int id, const struct gro_train *t,
			  unsigned char *buf)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh;
	size_t len = 0;

	for (uint32_t k = 0; k < t->nseg; k++) {
		size_t n = k == t->nseg - 1u ? t->last : t->seg;

		dg_fill(id, t->first + k, buf + len, n);
		len += n;
	}
	iov.iov_base = buf;
	iov.iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (t->cmsg) {
		uint16_t size = t->seg;
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(size));
		memcpy(CMSG_DATA(c), &size, sizeof(size));
	}
	for (;;) {
		ssize_t n = sendmsg(r->tx_fd[id], &mh, 0);
		struct pollfd p = { r->tx_fd[id], POLLOUT, 0 };

		if (n == (ssize_t)len)
			break;
		if (n >= 0) {
			run_fail(&r->fail, "sender %u seq %u: sent %zd of %zu bytes", id, t->first, n,
				 len);
			return 0;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			run_fail(&r->fail, "sender %u: sendmsg of %u datagrams of %u bytes: %s", id,
				 t->nseg, t->seg, strerror(errno));
			return 0;
		}
		if (past(&r->deadline)) {
			run_fail(&r->fail, "sender %u: deadline passed at seq %u", id, t->first);
			return 0;
		}
		atomic_fetch_add(&r->send_retries, 1);
		(void)poll(&p, 1, 10);
	}
	/* A receiver may have it already: outstanding() can dip below 0 a moment. */
	atomic_fetch_add(&r->sent, t->nseg);
	atomic_fetch_add(&r->sent_trains, 1);
	return 1;
}

/* Trains sent and not yet received whole or dropped (drops count trains). */
static int64_t gro_outstanding(struct gro_run *r, long long drops)
{
	return (int64_t)atomic_load(&r->sent_trains) - (int64_t)atomic_load(&r->completed_trains) -
	       (drops > 0 ? drops : 0);
}

static void gro_stay_in_window(struct gro_run *r)
{
	long long drops = socket_drops(r->fd);

	for (unsigned int spins = 1; gro_outstanding(r, drops) > r->window; spins++) {
		if (atomic_load(&r->fail.failed) || past(&r->deadline))
			return;
		pause_us(100);
		if (spins % 20 == 0)
			drops = socket_drops(r->fd);
	}
}

/*
 * Sender id: its trains in order on its own socket.  The first half at
 * most as fast as it can, until the kernel drops one; the rest within the
 * window.
 */
static void *gro_sender(void *arg)
{
	struct gro_worker *w = arg;
	struct gro_run *r = w->r;
	const struct gro_plan *p = &r->plan[w->id];
	unsigned char *buf = malloc(GRO_MAX_TRAIN);
	uint32_t t = 0;

	if (buf == NULL) {
		run_fail(&r->fail, "sender %u: out of memory", w->id);
		atomic_fetch_add(&r->flooded, 1);
		return NULL;
	}
	for (; t < p->ntrains / 2 && !atomic_load(&r->fail.failed); t++) {
		if (socket_drops(r->fd) > 0 || !gro_send_train(r, w->id, &p->train[t], buf))
			break;
		atomic_fetch_add(&r->flood_trains, 1);
	}
	atomic_fetch_add(&r->flooded, 1);
	for (; t < p->ntrains && !atomic_load(&r->fail.failed); t++) {
		if (past(&r->deadline)) {
			run_fail(&r->fail, "sender %u: deadline passed at train %u", w->id, t);
			break;
		}
		gro_stay_in_window(r);
		if (!gro_send_train(r, w->id, &p->train[t], buf))
			break;
	}
	free(buf);
	return NULL;
}

static int gro_log_call(struct gro_log *g, const struct gro_call *c)
{
	if (g->ncalls == g->callcap) {
		size_t cap = g->callcap ? 2 * g->callcap : 1024;
		struct gro_call *n = realloc(g->call, cap * sizeof(*n));

		if (n == NULL)
			return 0;
		g->call = n;
		g->callcap = cap;
	}
	g->call[g->ncalls++] = *c;
	return 1;
}

static int gro_log_delivery(struct gro_log *g, uint32_t sender, uint32_t seq)
{
	if (g->ndl == g->dlcap) {
		size_t cap = g->dlcap ? 2 * g->dlcap : 16384;
		struct gro_delivery *n = realloc(g->dl, cap * sizeof(*n));

		if (n == NULL)
			return 0;
		g->dl = n;
		g->dlcap = cap;
	}
	g->dl[g->ndl].sender = sender;
	g->dl[g->ndl].seq = seq;
	g->ndl++;
	return 1;
}

/*
 * One datagram a receiver took: from its sender's socket, to the BIO's
 * address, intact, not seen before; logged.  Returns 0 when it is wrong
 * (recorded as the failure).
 */
static int gro_take(struct gro_run *r, struct gro_worker *w, const DGB_MSG *m,
		    const unsigned char *buf)
{
	struct gro_log *g = &r->log[w->id];
	uint32_t s, q;
	char why[256];

	if (!dg_header(buf, m->data_len, &s, &q, why, sizeof(why))) {
		run_fail(&r->fail, "receiver %u: corrupt datagram: %s", w->id, why);
		return 0;
	}
	if (s == GRO_FENCE && q == 0 && m->data_len == HDR_LEN && addr_is(m->peer, &r->from[0])) {
		atomic_store(&r->fence_seen, 1);
		return 1;
	}
	if (s >= GRO_SENDERS || q >= GRO_PER_SENDER) {
		run_fail(&r->fail, "receiver %u: no such datagram: sender %u seq %u (%zu bytes)",
			 w->id, s, q, m->data_len);
		return 0;
	}
	if (!addr_is(m->peer, &r->from[s])) {
		run_fail(&r->fail, "receiver %u: sender %u seq %u: not from that sender's socket",
			 w->id, s, q);
		return 0;
	}
	if (m->local != NULL && !addr_is(m->local, &r->self)) {
		run_fail(&r->fail, "receiver %u: sender %u seq %u: local address is not the BIO's",
			 w->id, s, q);
		return 0;
	}
	if (!dg_intact(buf, m->data_len, gro_len(r, s, q), s, q, why, sizeof(why))) {
		run_fail(&r->fail, "receiver %u: corrupt datagram: %s", w->id, why);
		return 0;
	}
	if (atomic_exchange(&r->seen[s][q], 1) != 0) {
		run_fail(&r->fail, "receiver %u: sender %u seq %u received twice", w->id, s, q);
		return 0;
	}
	if (!gro_log_delivery(g, s, q)) {
		run_fail(&r->fail, "receiver %u: out of memory", w->id);
		return 0;
	}
	if (q == gro_last_seq(gro_train_of(r, s, q)))
		atomic_fetch_add(&r->completed_trains, 1);
	return 1;
}

/* A receiver's arrays, of GRO_MAX_ARRAY messages. */
struct gro_arrays {
	unsigned char (*buf)[GRO_BUF];
	BIO_ADDR *peer[GRO_MAX_ARRAY], *local[GRO_MAX_ARRAY];
	DGB_MSG msg[GRO_MAX_ARRAY];
};

/*
 * One receive call of room messages, its datagrams checked and logged.
 * Returns the datagrams it delivered, or -1 when the receiver must stop
 * (the failure is recorded).
 */
static long gro_call_once(struct gro_run *r, struct gro_worker *w, struct gro_arrays *a,
			  unsigned int room, int want_local)
{
	struct gro_log *g = &r->log[w->id];
	struct gro_call c = { 0 };
	size_t done = 0;
	char e[256];

	memset(a->msg, 0, sizeof(a->msg));
	for (size_t i = 0; i < room; i++) {
		a->msg[i].data = a->buf[i];
		a->msg[i].data_len = GRO_BUF;
		a->msg[i].peer = a->peer[i];
		a->msg[i].local = want_local ? a->local[i] : NULL;
		BIO_ADDR_clear(a->peer[i]);
		BIO_ADDR_clear(a->local[i]);
	}
	atomic_fetch_add(&r->recv_calls, 1);
	c.start = atomic_fetch_add(&r->ticket, 1);
	if (!DGB_recvmmsg(r->bio, a->msg, sizeof(DGB_MSG), room, 0, &done)) {
		unsigned long err = ERR_peek_last_error();

		if (!DGB_err_is_non_fatal((unsigned int)err)) {
			run_fail(&r->fail, "receiver %u: DGB_recvmmsg: %s", w->id,
				 err_text(err, e, sizeof(e)));
			return -1;
		}
		ERR_clear_error();
	}
	c.end = atomic_fetch_add(&r->ticket, 1);
	if (done > room) {
		run_fail(&r->fail, "receiver %u: %zu of %u processed", w->id, done, room);
		return -1;
	}
	if (done == 0) {
		atomic_fetch_add(&r->recv_empty, 1);
		return 0;
	}
	c.first = (uint32_t)g->ndl;
	c.room = room;
	for (size_t i = 0; i < done; i++)
		if (!gro_take(r, w, &a->msg[i], a->buf[i]))
			return -1;
	c.count = (uint32_t)(g->ndl - c.first);
	atomic_fetch_add(&r->received, c.count);
	/* A call that brought only the fence is no part of the order. */
	if (c.count > 0 && !gro_log_call(g, &c)) {
		run_fail(&r->fail, "receiver %u: out of memory", w->id);
		return -1;
	}
	return (long)done;
}

static void *gro_receiver(void *arg)
{
	struct gro_worker *w = arg;
	struct gro_run *r = w->r;
	struct gro_arrays *a = calloc(1, sizeof(*a));
	int want_local = r->local_enabled && w->id % 2 == 1, ok = a != NULL;
	long got = -1;

	if (ok && (a->buf = calloc(GRO_MAX_ARRAY, GRO_BUF)) == NULL)
		ok = 0;
	for (size_t i = 0; ok && i < GRO_MAX_ARRAY; i++)
		if ((a->peer[i] = BIO_ADDR_new()) == NULL || (a->local[i] = BIO_ADDR_new()) == NULL)
			ok = 0;
	if (!ok)
		run_fail(&r->fail, "receiver %u: out of memory", w->id);
	ERR_clear_error();
	/* The four make their first receive at once: one of them turns GRO on. */
	(void)pthread_barrier_wait(&r->start);
	if (ok)
		got = gro_call_once(r, w, a, gro_arrays[w->id][0], want_local);
	if (got > 0)
		run_fail(&r->fail, "receiver %u: %ld datagrams before any was sent", w->id, got);
	/* Then the senders flood the socket, and only then do the receivers go on. */
	atomic_fetch_add(&r->first_done, 1);
	while (!atomic_load(&r->gate) && !atomic_load(&r->fail.failed) && !past(&r->deadline))
		pause_us(200);
	for (unsigned int call = 1; got == 0 && !atomic_load(&r->fail.failed); call++) {
		struct pollfd p = { r->fd, POLLIN, 0 };

		got = gro_call_once(r, w, a, gro_arrays[w->id][call % GRO_ROUND], want_local);
		if (got > 0) {
			got = 0;
			continue;
		}
		if (got < 0 || atomic_load(&r->stop))
			break;
		(void)poll(&p, 1, 10);
	}
	if (a != NULL) {
		for (size_t i = 0; i < GRO_MAX_ARRAY; i++) {
			BIO_ADDR_free(a->peer[i]);
			BIO_ADDR_free(a->local[i]);
		}
		free(a->buf);
	}
	free(a);
	OPENSSL_thread_stop();
	return NULL;
}

/* --- the analysis ------------------------------------------------------------- */

#define GRO_NONE UINT32_MAX

/* What the analysis found, for the counters and the report. */
struct gro_tally {
	uint64_t calls, groups;
	uint64_t trains_received, trains_lost, datagrams_lost;
	/* Trains of two or more received, and their datagrams. */
	uint64_t gro_trains, gro_datagrams;
	/* Trains split between two calls; datagrams the later ones delivered. */
	uint64_t split, carried;
};

struct gro_span {
	uint64_t start, end;
};

struct gro_event {
	uint64_t ticket;
	uint32_t group;
	int is_end;
};

static int gro_span_cmp(const void *a, const void *b)
{
	const struct gro_span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int gro_event_cmp(const void *a, const void *b)
{
	const struct gro_event *x = a, *y = b;

	return x->ticket < y->ticket ? -1 : x->ticket > y->ticket;
}

#define GRO_IDX(s, q) ((size_t)(s) * GRO_PER_SENDER + (q))
#define GRO_FAIL(...)                                     \
	do {                                              \
		snprintf(why, whylen, __VA_ARGS__);       \
		goto out;                                 \
	} while (0)

/*
 * Whether what the receivers logged can have come off the socket through
 * the module as core.h describes it; why not in why.  Checked, in turn:
 * every datagram delivered once, and every train whole or not at all;
 * within a call, a train's datagrams together and in order, and a call
 * that ends inside a train full; the rest of a split train first in a
 * later call, and no call wholly between the two.  A split train's calls
 * then make one group, whose datagrams, call after call, must come in
 * each sender's order.  Last, one order of the groups must exist in which
 * every sender's datagrams come in the order sent and no group comes
 * before one that returned before it began: a directed graph of the
 * groups (sender order) and of the tickets (real time) without a cycle.
 */
static int gro_analyse(const struct gro_run *r, struct gro_tally *tl, char *why, size_t whylen)
{
	size_t ncalls = 0, ndl = 0, nedges = 0, nnodes = 0, done = 0, base = 0, k = 0;
	uint32_t ngroups = 0;
	struct gro_call *call = NULL;
	struct gro_delivery *dl = NULL;
	uint32_t *call_of = NULL, *next = NULL, *prev = NULL, *group_of = NULL, *visited = NULL;
	uint32_t *lastq = NULL, *outdeg = NULL, *indeg = NULL, *adj = NULL, *queue = NULL;
	uint32_t(*edge)[2] = NULL;
	struct gro_span *gspan = NULL, *sp = NULL;
	struct gro_event *ev = NULL;
	uint64_t *minend = NULL;
	int ok = 0;

	memset(tl, 0, sizeof(*tl));
	for (int i = 0; i < GRO_RECEIVERS; i++) {
		ncalls += r->log[i].ncalls;
		ndl += r->log[i].ndl;
	}
	call = calloc(ncalls + 1, sizeof(*call));
	dl = calloc(ndl + 1, sizeof(*dl));
	call_of = malloc((size_t)GRO_SENDERS * GRO_PER_SENDER * sizeof(*call_of));
	next = malloc((ncalls + 1) * sizeof(*next));
	prev = malloc((ncalls + 1) * sizeof(*prev));
	group_of = malloc((ncalls + 1) * sizeof(*group_of));
	sp = calloc(ncalls + 1, sizeof(*sp));
	minend = calloc(ncalls + 2, sizeof(*minend));
	if (call == NULL || dl == NULL || call_of == NULL || next == NULL || prev == NULL ||
	    group_of == NULL || sp == NULL || minend == NULL)
		GRO_FAIL("out of memory");

	/* All the receivers' calls in one list, their datagrams in one log. */
	for (int i = 0; i < GRO_RECEIVERS; i++) {
		const struct gro_log *g = &r->log[i];

		for (size_t c = 0; c < g->ncalls; c++) {
			call[k] = g->call[c];
			call[k++].first += (uint32_t)base;
		}
		if (g->ndl > 0)
			memcpy(dl + base, g->dl, g->ndl * sizeof(*dl));
		base += g->ndl;
	}
	for (size_t i = 0; i < (size_t)GRO_SENDERS * GRO_PER_SENDER; i++)
		call_of[i] = GRO_NONE;
	for (size_t c = 0; c < ncalls; c++) {
		next[c] = prev[c] = group_of[c] = GRO_NONE;
		for (uint32_t i = 0; i < call[c].count; i++) {
			const struct gro_delivery *d = &dl[call[c].first + i];

			if (call_of[GRO_IDX(d->sender, d->seq)] != GRO_NONE)
				GRO_FAIL("sender %u seq %u delivered twice", d->sender, d->seq);
			call_of[GRO_IDX(d->sender, d->seq)] = (uint32_t)c;
		}
	}

	/* Every train whole or not at all: a train is one skb, dropped whole. */
	for (uint32_t s = 0; s < GRO_SENDERS; s++)
		for (uint32_t t = 0; t < r->plan[s].ntrains; t++) {
			const struct gro_train *tr = &r->plan[s].train[t];
			uint32_t got = 0;

			for (uint32_t q = tr->first; q <= gro_last_seq(tr); q++)
				got += call_of[GRO_IDX(s, q)] != GRO_NONE;
			if (got == 0) {
				tl->trains_lost++;
				tl->datagrams_lost += tr->nseg;
			} else if (got != tr->nseg) {
				GRO_FAIL("sender %u: %u of the %u datagrams of the train of seq %u-%u "
					 "(%u bytes each, the last %u) delivered",
					 s, got, tr->nseg, tr->first, gro_last_seq(tr), tr->seg, tr->last);
			} else {
				tl->trains_received++;
				if (tr->nseg > 1) {
					tl->gro_trains++;
					tl->gro_datagrams += tr->nseg;
				}
			}
		}

	/* Within each call; and which call finished a train another split. */
	for (size_t c = 0; c < ncalls; c++) {
		const struct gro_call *cc = &call[c];

		for (uint32_t i = 0; i < cc->count; i++) {
			const struct gro_delivery *d = &dl[cc->first + i];
			const struct gro_train *tr = gro_train_of(r, d->sender, d->seq);

			if (d->seq != tr->first && i > 0) {
				const struct gro_delivery *p = d - 1;

				if (p->sender != d->sender || p->seq + 1 != d->seq)
					GRO_FAIL("a call delivered sender %u seq %u, inside its train "
						 "(seq %u-%u), after sender %u seq %u",
						 d->sender, d->seq, tr->first, gro_last_seq(tr), p->sender,
						 p->seq);
			} else if (d->seq != tr->first) {
				uint32_t a = call_of[GRO_IDX(d->sender, d->seq - 1)];
				const struct gro_delivery *last = &dl[call[a].first + call[a].count - 1];

				if (a == c || last->sender != d->sender || last->seq + 1 != d->seq)
					GRO_FAIL("a call began with sender %u seq %u, inside its train "
						 "(seq %u-%u), but seq %u was not the last datagram of "
						 "its call",
						 d->sender, d->seq, tr->first, gro_last_seq(tr), d->seq - 1);
				next[a] = (uint32_t)c;
				prev[c] = a;
				tl->split++;
				for (uint32_t j = i; j < cc->count && dl[cc->first + j].sender == d->sender &&
						     dl[cc->first + j].seq <= gro_last_seq(tr);
				     j++)
					tl->carried++;
			}
			if (i == cc->count - 1 && d->seq != gro_last_seq(tr) && cc->count != cc->room)
				GRO_FAIL("a call of %u messages delivered %u and ended inside a train, "
					 "at sender %u seq %u of %u-%u",
					 cc->room, cc->count, d->sender, d->seq, tr->first,
					 gro_last_seq(tr));
		}
	}

	/* Groups: a call and those that finished the trains it split. */
	gspan = calloc(ncalls + 1, sizeof(*gspan));
	if (gspan == NULL)
		GRO_FAIL("out of memory");
	for (size_t c = 0; c < ncalls; c++) {
		uint32_t x = (uint32_t)c, tail = x;
		int64_t last[GRO_SENDERS];

		if (prev[c] != GRO_NONE)
			continue;
		for (int s = 0; s < GRO_SENDERS; s++)
			last[s] = -1;
		for (; x != GRO_NONE; x = next[x]) {
			group_of[x] = ngroups;
			tail = x;
			for (uint32_t i = 0; i < call[x].count; i++) {
				const struct gro_delivery *d = &dl[call[x].first + i];

				if ((int64_t)d->seq <= last[d->sender])
					GRO_FAIL("sender %u seq %u delivered after its seq %lld, in one "
						 "call or the call before",
						 d->sender, d->seq, (long long)last[d->sender]);
				last[d->sender] = d->seq;
			}
		}
		gspan[ngroups].start = call[c].start;
		gspan[ngroups].end = call[tail].end;
		ngroups++;
	}
	for (size_t c = 0; c < ncalls; c++)
		if (group_of[c] == GRO_NONE)
			GRO_FAIL("calls that finish each other's trains in a ring");

	/* Nothing between a call that split a train and the one that finished it. */
	for (size_t c = 0; c < ncalls; c++) {
		sp[c].start = call[c].start;
		sp[c].end = call[c].end;
	}
	qsort(sp, ncalls, sizeof(*sp), gro_span_cmp);
	minend[ncalls] = UINT64_MAX;
	for (size_t i = ncalls; i-- > 0;)
		minend[i] = sp[i].end < minend[i + 1] ? sp[i].end : minend[i + 1];
	for (size_t c = 0; c < ncalls; c++) {
		size_t lo = 0, hi = ncalls;

		if (next[c] == GRO_NONE)
			continue;
		/* The first call to begin after call c returned. */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (sp[mid].start > call[c].end)
				hi = mid;
			else
				lo = mid + 1;
		}
		if (minend[lo] < call[next[c]].start)
			GRO_FAIL("a call ran wholly after the call that split sender %u's train at "
				 "seq %u and before the call that delivered the rest",
				 dl[call[c].first + call[c].count - 1].sender,
				 dl[call[c].first + call[c].count - 1].seq);
	}

	/*
	 * The graph: groups 0..ngroups-1, then the groups' first and last
	 * tickets in ticket order.  A sender's edges join the groups its
	 * datagrams come in, in the order sent; a sender that comes back to a
	 * group it left is reported at once, as the clearest case.
	 */
	nnodes = 3 * (size_t)ngroups;
	visited = calloc(ngroups + 1, sizeof(*visited));
	lastq = calloc(ngroups + 1, sizeof(*lastq));
	edge = malloc((ndl + 4 * (size_t)ngroups + 1) * sizeof(*edge));
	ev = malloc((2 * (size_t)ngroups + 1) * sizeof(*ev));
	if (visited == NULL || lastq == NULL || edge == NULL || ev == NULL)
		GRO_FAIL("out of memory");
	for (uint32_t s = 0; s < GRO_SENDERS; s++) {
		uint32_t pg = GRO_NONE, pq = 0;

		for (uint32_t q = 0; q < GRO_PER_SENDER; q++) {
			uint32_t c = call_of[GRO_IDX(s, q)], g;

			if (c == GRO_NONE)
				continue;
			g = group_of[c];
			if (g != pg) {
				if (visited[g] == s + 1)
					GRO_FAIL("sender %u: seq %u and seq %u came in one call (or a "
						 "call and the one that finished its split train), "
						 "but seq %u between them in another",
						 s, lastq[g], q, pq);
				visited[g] = s + 1;
				if (pg != GRO_NONE) {
					edge[nedges][0] = pg;
					edge[nedges++][1] = g;
				}
				pg = g;
			}
			lastq[g] = pq = q;
		}
	}
	for (uint32_t g = 0; g < ngroups; g++) {
		ev[2 * g] = (struct gro_event){ gspan[g].start, g, 0 };
		ev[2 * g + 1] = (struct gro_event){ gspan[g].end, g, 1 };
	}
	qsort(ev, 2 * (size_t)ngroups, sizeof(*ev), gro_event_cmp);
	for (size_t i = 0; i < 2 * (size_t)ngroups; i++) {
		uint32_t node = ngroups + (uint32_t)i;

		if (i + 1 < 2 * (size_t)ngroups) {
			edge[nedges][0] = node;
			edge[nedges++][1] = node + 1;
		}
		edge[nedges][0] = ev[i].is_end ? ev[i].group : node;
		edge[nedges++][1] = ev[i].is_end ? node : ev[i].group;
	}

	/* Kahn's algorithm: every node taken in some order, or there is a cycle. */
	outdeg = calloc(nnodes + 1, sizeof(*outdeg));
	indeg = calloc(nnodes + 1, sizeof(*indeg));
	adj = malloc((nedges + 1) * sizeof(*adj));
	queue = malloc((nnodes + 1) * sizeof(*queue));
	if (outdeg == NULL || indeg == NULL || adj == NULL || queue == NULL)
		GRO_FAIL("out of memory");
	for (size_t i = 0; i < nedges; i++) {
		outdeg[edge[i][0]]++;
		indeg[edge[i][1]]++;
	}
	/* outdeg becomes each node's end in adj, then its start as adj fills. */
	for (size_t i = 1; i <= nnodes; i++)
		outdeg[i] += outdeg[i - 1];
	for (size_t i = nedges; i-- > 0;)
		adj[--outdeg[edge[i][0]]] = edge[i][1];
	/* Now outdeg[v] is where v's edges start; outdeg[nnodes] == nedges. */
	outdeg[nnodes] = (uint32_t)nedges;
	{
		size_t head = 0, tail = 0;

		for (uint32_t v = 0; v < nnodes; v++)
			if (indeg[v] == 0)
				queue[tail++] = v;
		while (head < tail) {
			uint32_t v = queue[head++];

			done++;
			for (uint32_t e = outdeg[v]; e < outdeg[v + 1]; e++)
				if (--indeg[adj[e]] == 0)
					queue[tail++] = adj[e];
		}
	}
	if (done != nnodes)
		GRO_FAIL("no one order of the %zu receive calls (%u groups) agrees with every "
			 "sender's order and with real time; %zu of %zu nodes in or behind a cycle",
			 ncalls, ngroups, nnodes - done, nnodes);
	tl->calls = ncalls;
	tl->groups = ngroups;
	ok = 1;
out:
	free(call);
	free(dl);
	free(call_of);
	free(next);
	free(prev);
	free(group_of);
	free(visited);
	free(lastq);
	free(outdeg);
	free(indeg);
	free(adj);
	free(queue);
	free(edge);
	free(gspan);
	free(sp);
	free(ev);
	free(minend);
	return ok;
}
#undef GRO_FAIL

/* --- the case ------------------------------------------------------------------- */

enum { G_RX, G_RXSYS, G_GRO_RECEIVES, G_GRO_SEGMENTS, G_GRO_CARRIED, G_KDROPS, G_TRUNC, G_N };
static const char *const gro_keys[G_N] = {
	DGB_PARAM_RX_DATAGRAMS,	 DGB_PARAM_RX_SYSCALLS,	      DGB_PARAM_GRO_RECEIVES,
	DGB_PARAM_GRO_SEGMENTS,	 DGB_PARAM_GRO_CARRIED,	      DGB_PARAM_RX_KERNEL_DROPS,
	DGB_PARAM_RX_TRUNCATED,
};

/*
 * Packets the kernel's per-CPU input queues dropped (the second column of
 * /proc/net/softnet_stat), or -1.  Loopback traffic passes through them,
 * and a drop there is not the socket's: it explains a loss the socket's
 * drop count does not.
 */
static long long softnet_drops(void)
{
	FILE *f = fopen("/proc/net/softnet_stat", "r");
	unsigned int processed, dropped;
	long long sum = 0;

	if (f == NULL)
		return -1;
	while (fscanf(f, "%x %x%*[^\n]", &processed, &dropped) == 2)
		sum += dropped;
	fclose(f);
	return sum;
}

/* Wait until done() or a failure or the deadline; 0 if not done(). */
static int gro_wait(struct gro_run *r, int (*done)(struct gro_run *), const char *what)
{
	while (!done(r)) {
		if (atomic_load(&r->fail.failed))
			return 0;
		if (past(&r->deadline)) {
			run_fail(&r->fail, "deadline passed waiting for %s: sent %llu trains, %llu "
					   "received whole, kernel drop count %lld",
				 what, (unsigned long long)atomic_load(&r->sent_trains),
				 (unsigned long long)atomic_load(&r->completed_trains),
				 socket_drops(r->fd));
			return 0;
		}
		pause_us(1000);
	}
	return 1;
}

/*
 * Join a thread of the case, waiting until grace seconds past the deadline
 * at most: a thread stuck in the module fails the test with its name
 * rather than running into Check's timeout.
 */
static void gro_join(struct gro_run *r, pthread_t t, const char *what, unsigned int id,
		     int grace)
{
	struct timespec now, by;
	int e;

	clock_gettime(CLOCK_MONOTONIC, &now);
	clock_gettime(CLOCK_REALTIME, &by);
	by.tv_sec += r->deadline.tv_sec - now.tv_sec + grace;
	e = pthread_timedjoin_np(t, NULL, &by);
	ck_assert_msg(e == 0, "GRO: %s %u still running %d s after the deadline (%s); %s", what,
		      id, grace, strerror(e),
		      atomic_load(&r->fail.failed) ? r->fail.why : "no failure seen");
}

static int gro_first_done(struct gro_run *r)
{
	return atomic_load(&r->first_done) == GRO_RECEIVERS;
}

static int gro_flooded(struct gro_run *r)
{
	return atomic_load(&r->flooded) == GRO_SENDERS;
}

/* Every train sent is received whole or was dropped. */
static int gro_settled(struct gro_run *r)
{
	long long drops = socket_drops(r->fd);

	return (int64_t)atomic_load(&r->completed_trains) + (drops > 0 ? drops : 0) >=
	       (int64_t)atomic_load(&r->sent_trains);
}

static int gro_fenced(struct gro_run *r)
{
	return atomic_load(&r->fence_seen);
}

START_TEST(test_threads_gro)
{
	struct gro_run *r = calloc(1, sizeof(*r));
	struct gro_worker ws[GRO_SENDERS], wr[GRO_RECEIVERS];
	pthread_t ts[GRO_SENDERS], tr[GRO_RECEIVERS];
	OSSL_LIB_CTX *ctx;
	OSSL_PROVIDER *prov;
	const BIO_METHOD *meth;
	uint64_t c0[G_N], c1[G_N], sent, received, planned = 0, trains = 0;
	long long drops, flood_drops = -1, sn0, sn1;
	struct gro_tally tl;
	int rcvbuf, gro = -1, analysed = 0, senders = 0;
	const char *how;
	struct timespec t0;
	char why[512] = "", leftover[8];
	unsigned char fence[HDR_LEN];

	ck_assert_ptr_nonnull(r);
	memset(&tl, 0, sizeof(tl));
	tu_caps_disable(NULL);
	ctx = OSSL_LIB_CTX_new();
	ck_assert_ptr_nonnull(ctx);
	prov = OSSL_PROVIDER_load(ctx, DGB_PROVIDER_NAME);
	if (prov == NULL)
		ERR_print_errors_fp(stderr);
	ck_assert_ptr_nonnull(prov);
	meth = DGB_provider_bio_method(prov);
	ck_assert_ptr_nonnull(meth);
	for (uint32_t s = 0; s < GRO_SENDERS; s++) {
		gro_plan_make(&r->plan[s], s);
		trains += r->plan[s].ntrains;
		planned += GRO_PER_SENDER;
	}

	r->fd = tu_udp_loopback(AF_INET, &r->self);
	rcvbuf = big_rcvbuf(r->fd, RCVBUF_WANT, &how);
	/* A train of 64 KB takes about twice that of the buffer. */
	r->window = rcvbuf / (4 * 65536);
	if (r->window < 4)
		r->window = 4;
	if (r->window > 256)
		r->window = 256;
	ck_assert_int_eq(socket_drops(r->fd) <= 0, 1);
	r->bio = BIO_new(meth);
	ck_assert_ptr_nonnull(r->bio);
	ck_assert_int_eq(BIO_set_fd(r->bio, r->fd, BIO_CLOSE), 1);
	ck_assert_int_eq(BIO_set_nbio(r->bio, 1), 1);
	ck_assert_int_eq(DGB_is_dgrambatch(r->bio), 1);
	/* Not before the BIO's first batched receive. */
	ck_assert_int_eq(DGB_get_gro(r->bio), 0);
	/* Each datagram of a train gets the train's control messages too. */
	r->local_enabled = BIO_dgram_set_local_addr_enable(r->bio, 1) == 1;
	ERR_clear_error();
	for (int k = 0; k < GRO_SENDERS; k++) {
		r->tx_fd[k] = tu_udp_loopback(AF_INET, &r->from[k]);
		ck_assert_msg(connect(r->tx_fd[k], &r->self.sa, sizeof(r->self.sin)) == 0,
			      "connect: %s", strerror(errno));
		ck_assert_int_eq(fcntl(r->tx_fd[k], F_SETFL, fcntl(r->tx_fd[k], F_GETFL) | O_NONBLOCK),
				 0);
	}
	ck_assert_int_eq(pthread_barrier_init(&r->start, NULL, GRO_RECEIVERS + 1), 0);

	for (int i = 0; i < G_N; i++)
		c0[i] = tu_provider_counter(prov, gro_keys[i]);
	sn0 = softnet_drops();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r->deadline = t0;
	r->deadline.tv_sec += GRO_DEADLINE_S;
	for (unsigned int i = 0; i < GRO_RECEIVERS; i++) {
		wr[i].r = r;
		wr[i].id = i;
		ck_assert_int_eq(pthread_create(&tr[i], NULL, gro_receiver, &wr[i]), 0);
	}
	(void)pthread_barrier_wait(&r->start);
	if (gro_wait(r, gro_first_done, "the first receives"))
		gro = DGB_get_gro(r->bio);
	if (gro != 1 && !atomic_load(&r->fail.failed))
		run_fail(&r->fail, "DGB_get_gro is %d after the first batched receives, not 1, "
				   "although the kernel has UDP_GRO",
			 gro);
	for (unsigned int i = 0; i < GRO_SENDERS && gro == 1; i++, senders++) {
		ws[i].r = r;
		ws[i].id = i;
		ck_assert_int_eq(pthread_create(&ts[i], NULL, gro_sender, &ws[i]), 0);
	}
	if (gro_wait(r, gro_flooded, "the flood"))
		flood_drops = socket_drops(r->fd);
	atomic_store(&r->gate, 1);
	for (int i = 0; i < senders; i++)
		gro_join(r, ts[i], "sender", (unsigned int)i, 10);
	/*
	 * Then one datagram more, alone: it carries the socket's final drop
	 * count (SO_RXQ_OVFL) to the module.
	 */
	if (senders > 0 && gro_wait(r, gro_settled, "every train")) {
		uint32_t who = GRO_FENCE, seq = 0, sum = dg_checksum(fence, 0);

		memcpy(fence, &who, 4);
		memcpy(fence + 4, &seq, 4);
		memcpy(fence + 8, &sum, 4);
		if (send(r->tx_fd[0], fence, sizeof(fence), 0) != (ssize_t)sizeof(fence))
			run_fail(&r->fail, "send of the last datagram: %s", strerror(errno));
		else
			(void)gro_wait(r, gro_fenced, "the last datagram");
	}
	atomic_store(&r->stop, 1);
	for (unsigned int i = 0; i < GRO_RECEIVERS; i++)
		gro_join(r, tr[i], "receiver", i, 10);
	for (int i = 0; i < G_N; i++)
		c1[i] = tu_provider_counter(prov, gro_keys[i]);
	drops = socket_drops(r->fd);
	sn1 = softnet_drops();
	if (!atomic_load(&r->fail.failed))
		analysed = gro_analyse(r, &tl, why, sizeof(why));

	sent = atomic_load(&r->sent);
	received = atomic_load(&r->received);
	fprintf(stderr,
		"threads (GRO): %d senders, %d receivers (arrays of 32, 32, 1-64, 7-256%s): sent "
		"%llu datagrams in %llu trains (%llu trains in the first flood), received %llu "
		"in %llu receive calls (%llu empty, %llu that delivered the rest of a split "
		"train); lost %llu trains of %llu datagrams, kernel drop count %lld (%lld after "
		"the flood), module rx-kernel-drops %llu; gro-receives %llu, gro-segments %llu, "
		"gro-carried %llu; %llu receive syscalls; %llu send retries; %s %d bytes, window "
		"%lld trains; %.2fs\n",
		GRO_SENDERS, GRO_RECEIVERS, r->local_enabled ? ", 2 with local addresses" : "",
		(unsigned long long)sent, (unsigned long long)atomic_load(&r->sent_trains),
		(unsigned long long)atomic_load(&r->flood_trains), (unsigned long long)received,
		(unsigned long long)atomic_load(&r->recv_calls),
		(unsigned long long)atomic_load(&r->recv_empty), (unsigned long long)tl.split,
		(unsigned long long)tl.trains_lost, (unsigned long long)tl.datagrams_lost, drops,
		flood_drops, (unsigned long long)(c1[G_KDROPS] - c0[G_KDROPS]),
		(unsigned long long)(c1[G_GRO_RECEIVES] - c0[G_GRO_RECEIVES]),
		(unsigned long long)(c1[G_GRO_SEGMENTS] - c0[G_GRO_SEGMENTS]),
		(unsigned long long)(c1[G_GRO_CARRIED] - c0[G_GRO_CARRIED]),
		(unsigned long long)(c1[G_RXSYS] - c0[G_RXSYS]),
		(unsigned long long)atomic_load(&r->send_retries), how, rcvbuf,
		(long long)r->window, seconds_since(&t0));

	ck_assert_msg(!atomic_load(&r->fail.failed), "GRO: %s", r->fail.why);
	ck_assert_msg(analysed, "GRO: %s", why);
	ck_assert_uint_eq(sent, planned);
	ck_assert_uint_eq(atomic_load(&r->sent_trains), trains);
	ck_assert_uint_eq(tl.trains_received + tl.trains_lost, trains);
	ck_assert_uint_eq(received + tl.datagrams_lost, sent);
	if (drops < 0) {
		fprintf(stderr, "threads: no drop counter in /proc/net/udp; none may be lost\n");
		drops = 0;
	}
	/* The kernel counts a train it drops as one drop. */
	ck_assert_msg(tl.trains_lost == (uint64_t)drops,
		      "GRO: %llu trains (%llu datagrams) lost, the kernel dropped %lld; its input "
		      "queues dropped %lld packets meanwhile",
		      (unsigned long long)tl.trains_lost, (unsigned long long)tl.datagrams_lost,
		      drops, sn0 >= 0 && sn1 >= 0 ? sn1 - sn0 : -1);
	/* The module saw the last drop count, on the last datagram. */
	ck_assert_int_eq(atomic_load(&r->fence_seen), 1);
	ck_assert_uint_eq(c1[G_KDROPS] - c0[G_KDROPS], (uint64_t)drops);

	/*
	 * The module counted what the receivers saw, exactly: on loopback each
	 * train reaches the socket as the one skb it was sent as, and with
	 * nothing else reading the socket and no empty datagram sent, the
	 * module keeps a train for a later call only when it split it.
	 */
	ck_assert_uint_eq(c1[G_RX] - c0[G_RX], received + 1);
	ck_assert_uint_eq(c1[G_GRO_RECEIVES] - c0[G_GRO_RECEIVES], tl.gro_trains);
	ck_assert_uint_eq(c1[G_GRO_SEGMENTS] - c0[G_GRO_SEGMENTS], tl.gro_datagrams);
	ck_assert_uint_eq(c1[G_GRO_CARRIED] - c0[G_GRO_CARRIED], tl.carried);
	ck_assert_uint_eq(c1[G_TRUNC] - c0[G_TRUNC], 0);
	/* Trains of 33 to 64 into arrays of 32 must have been split. */
	ck_assert_uint_gt(tl.split, 0);
	ck_assert_uint_gt(tl.carried, 0);

	/* Nothing is kept, nothing left in the socket, and GRO is still on. */
	ck_assert_int_eq(BIO_ctrl_pending(r->bio), 0);
	ck_assert_int_eq(recv(r->fd, leftover, sizeof(leftover), MSG_DONTWAIT | MSG_PEEK), -1);
	ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK, "recv: %s", strerror(errno));
	ck_assert_int_eq(DGB_get_gro(r->bio), 1);

	BIO_free(r->bio);
	for (int k = 0; k < GRO_SENDERS; k++)
		close(r->tx_fd[k]);
	for (int i = 0; i < GRO_RECEIVERS; i++) {
		free(r->log[i].call);
		free(r->log[i].dl);
	}
	pthread_barrier_destroy(&r->start);
	free(r);
	ck_assert_int_eq(OSSL_PROVIDER_unload(prov), 1);
	OSSL_LIB_CTX_free(ctx);
}
END_TEST

START_TEST(test_threads_mmsg)
{
	threads_on_one_bio(0);
}
END_TEST

START_TEST(test_threads_fallback)
{
	threads_on_one_bio(1);
}
END_TEST

Suite *suite_threads(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("one-bio");

	tcase_set_timeout(tc, DEADLINE_S + 20);
	tcase_add_test(tc, test_threads_mmsg);
	tcase_add_test(tc, test_threads_fallback);
	tcase_add_test(tc, test_threads_fallback_shared_bio);
	suite_add_tcase(s, tc);

	tc = tcase_create("gro");
	tcase_set_timeout(tc, GRO_DEADLINE_S + 30);
	if (dgb_cap_usable(DGB_CAP_UDP_GRO | DGB_CAP_UDP_SEGMENT))
		tcase_add_test(tc, test_threads_gro);
	else
		fprintf(stderr, "SKIP test_threads_gro: the kernel takes no UDP_GRO or no "
				"UDP_SEGMENT\n");
	suite_add_tcase(s, tc);
	return s;
}
