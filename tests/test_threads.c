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
 * The third case is the header's own fallback (dgb_mmsg_loop_()) on one of
 * OpenSSL's datagram BIOs, shared by two sending threads with a receiver
 * each: no datagram may reach the other thread's receiver.
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

/* Fill buf with datagram (sender, seq); returns its length. */
static size_t dg_build(uint32_t sender, uint32_t seq, unsigned char *buf)
{
	size_t len = dg_len(sender, seq);
	uint32_t sum;

	dg_payload(sender, seq, buf + HDR_LEN, len - HDR_LEN);
	sum = dg_checksum(buf + HDR_LEN, len - HDR_LEN);
	memcpy(buf, &sender, 4);
	memcpy(buf + 4, &seq, 4);
	memcpy(buf + 8, &sum, 4);
	return len;
}

/* Whether buf[0..len) is an intact datagram; its sender and seq if so. */
static int dg_check(const unsigned char *buf, size_t len, uint32_t per_sender,
		    uint32_t *sender, uint32_t *seq, char *why, size_t whylen)
{
	unsigned char want[MAX_LEN];
	uint32_t sum;

	if (len < HDR_LEN) {
		snprintf(why, whylen, "%zu bytes, shorter than the header", len);
		return 0;
	}
	memcpy(sender, buf, 4);
	memcpy(seq, buf + 4, 4);
	memcpy(&sum, buf + 8, 4);
	if (*sender >= N_SENDERS || *seq >= per_sender) {
		snprintf(why, whylen, "no such datagram: sender %u seq %u", *sender, *seq);
		return 0;
	}
	if (len != dg_len(*sender, *seq)) {
		snprintf(why, whylen, "sender %u seq %u: %zu bytes, sent %zu", *sender, *seq, len,
			 dg_len(*sender, *seq));
		return 0;
	}
	if (dg_checksum(buf + HDR_LEN, len - HDR_LEN) != sum) {
		snprintf(why, whylen, "sender %u seq %u: checksum mismatch", *sender, *seq);
		return 0;
	}
	dg_payload(*sender, *seq, want, len - HDR_LEN);
	if (memcmp(want, buf + HDR_LEN, len - HDR_LEN) != 0) {
		snprintf(why, whylen, "sender %u seq %u: payload differs", *sender, *seq);
		return 0;
	}
	return 1;
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

static int from_self(const struct run *r, const BIO_ADDR *a)
{
	struct in_addr ip;
	size_t iplen = 0;

	return BIO_ADDR_family(a) == AF_INET && BIO_ADDR_rawport(a) == r->self_addr->sin.sin_port &&
	       BIO_ADDR_rawaddress(a, NULL, &iplen) && iplen == sizeof(ip) &&
	       BIO_ADDR_rawaddress(a, &ip, &iplen) &&
	       ip.s_addr == r->self_addr->sin.sin_addr.s_addr;
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
	return s;
}
