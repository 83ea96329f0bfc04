/*
 * bench.c - `dgrambatch bench`: datagrams per second on loopback through
 * three implementations, side by side in one run:
 *
 *   plugin   the module's BIO, from the provider a config file loads, with
 *            DGB_sendmmsg/DGB_recvmmsg (BIO_sendmmsg/BIO_recvmmsg on 3.2+);
 *   openssl  OpenSSL's BIO_s_datagram as it ships: BIO_sendmmsg/BIO_recvmmsg
 *            where the running libcrypto has them (3.2+), one
 *            BIO_write/BIO_read per datagram before;
 *   raw      sendmmsg(2)/recvmmsg(2) on the socket, the ceiling.
 *
 * The libcrypto the tool runs with decides, not the headers it was built
 * with: BIO_sendmmsg/BIO_recvmmsg are looked up by name at run time, so one
 * build measures what each libcrypto.so.3 from 3.0 to 3.5 does.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The send and the receive path are measured apart.
 *
 * Send: batches go to a bound loopback socket that nobody reads.  Its
 * buffer fills after a few datagrams and the rest are dropped on arrival,
 * but loopback delivers inside the sender's system call, so each send still
 * pays the whole way through both stacks.
 *
 * Receive: the receiving socket's buffer, enlarged to hold thousands of
 * datagrams, is filled with raw sendmmsg (not timed) and then drained in
 * batches through the implementation under test (timed), again and again
 * until the sample's time is up.  Every drain must return exactly what was
 * filled, each datagram at its full length, or the run fails.
 *
 * The send rounds come first, then the receive rounds.  Within each, the
 * implementations take turns (plugin, openssl, raw, plugin, ...) so that
 * noise on a shared machine falls on all of them alike, and each one's
 * median over the rounds is reported.  They share the same nonblocking
 * sockets and do the same work: every datagram sent names its destination,
 * every datagram received reports its sender.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "dgrambatch.h"
#include "bench.h"

#define ROUNDS 5
#define DEFAULT_SIZE 1200
#define DEFAULT_BATCH 32
#define DEFAULT_SECONDS 0.3
/* The largest UDP payload over IPv4. */
#define MAX_SIZE 65507
/* A number macro as a string. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define MIN_SECONDS 0.01
#define MAX_SECONDS 60.0
/*
 * The receive buffer asked for (the kernel doubles it).  Bigger buffers
 * mean longer timed drains between the untimed fills.
 */
#define RCVBUF_WANTED (16 << 20)
/* At most this many datagrams per fill, to bound the time a fill takes. */
#define MAX_QUEUED 65536
/* Datagrams per sendmmsg call while filling: fills are not timed. */
#define FILL_BATCH 256
/*
 * How long a fill or a drain may make no progress.  Loopback delivers
 * within the sending call, so a drain that waits this long for datagrams
 * that were sent has lost them.
 */
#define STALL_SECONDS 1.0

enum impl { PLUGIN, OPENSSL, RAW, NIMPL };
enum dir { SEND, RECV, NDIR };

/*
 * Each path starts with an unreported warm-up round, seconds per
 * implementation: it faults in buffers and code, and on the receive path
 * it gives the kernel's memory time to settle (see run_path).
 */
static const double warmup_seconds[] = { [SEND] = 0.05, [RECV] = 0.1 };

/* How one batched call went. */
enum outcome {
	MOVED,	/* at least one datagram */
	AGAIN,	/* none, for a passing reason; the call is repeated */
	FAILED, /* the implementation failed; the run stops */
};

struct options {
	const char *config;
	size_t size;
	size_t batch;
	double seconds;
	int json;
};

/* What one implementation did on one path over the whole run. */
struct tally {
	double rate[ROUNDS];   /* datagrams per second, per round */
	uint64_t datagrams;    /* moved, warm-up included */
	uint64_t transient;    /* calls that moved nothing and were repeated */
};

/* The module's counters that tell whether the plugin rows used it. */
struct module_counts {
	uint64_t tx, rx, txc, rxc, fallback;
};

struct bench {
	struct options o;
	OSSL_LIB_CTX *libctx;
	OSSL_PROVIDER *prov;
	int tx_fd;	/* sends, and fills rx_fd */
	int sink_fd;	/* the send path's destination, never read */
	int rx_fd;	/* the receive path's socket */
	struct sockaddr_in sink_addr, rx_addr;
	int rcvbuf;	/* rx_fd's SO_RCVBUF as the kernel reports it */
	int rcvbuf_forced;
	size_t queued;	/* datagrams per fill of rx_fd */
	BIO *bio[NIMPL][NDIR]; /* none for RAW */

	/* One batch per path, as BIO messages and as mmsghdr. */
	unsigned char *tx_data, *rx_data;
	BIO_ADDR *sink_peer;
	BIO_ADDR **rx_peer;
	DGB_MSG *tx_msg, *rx_msg;
	struct mmsghdr *tx_mh, *rx_mh;
	struct iovec *tx_iov, *rx_iov;
	struct sockaddr_in *rx_name;
	/* The fill's batch: every message carries tx_data[0..size) to rx_fd. */
	struct mmsghdr fill_mh[FILL_BATCH];
	struct iovec fill_iov;

	/* The running libcrypto's BIO_sendmmsg/BIO_recvmmsg, NULL before 3.2. */
	dgb_mmsg_fn_ *native[NDIR];

	struct tally tally[NIMPL][NDIR];
	struct module_counts before, after;
};

typedef enum outcome (*batch_fn)(struct bench *b, size_t n, size_t *done);

static const char *progname = "dgrambatch";

/* --- arguments ----------------------------------------------------------- */

static int usage_error(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "%s: bench: %s\n", progname, why);
	fprintf(stderr, "usage: %s " DGB_BENCH_SYNOPSIS "\n", progname);
	return 2;
}

/* A whole decimal number in [min, max]; no sign, space or suffix. */
static int parse_whole(const char *arg, unsigned long min, unsigned long max, size_t *out)
{
	char *end;
	unsigned long v;

	if (arg[0] < '0' || arg[0] > '9')
		return 0;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return 0;
	*out = (size_t)v;
	return 1;
}

/* A plain decimal number of seconds in [MIN_SECONDS, MAX_SECONDS]. */
static int parse_seconds(const char *arg, double *out)
{
	char *end;
	double v;

	/* strtod would also take hex, "inf", "nan" and leading space. */
	if (arg[strspn(arg, "0123456789.")] != '\0' || arg[0] == '\0')
		return 0;
	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v >= MIN_SECONDS && v <= MAX_SECONDS))
		return 0;
	*out = v;
	return 1;
}

/* Returns 0 or the usage error's exit status. */
static int parse_options(int argc, char **argv, struct options *o)
{
	o->config = getenv("OPENSSL_CONF");
	o->size = DEFAULT_SIZE;
	o->batch = DEFAULT_BATCH;
	o->seconds = DEFAULT_SECONDS;
	o->json = 0;

	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (strcmp(opt, "--config") != 0 && strcmp(opt, "--size") != 0 &&
		    strcmp(opt, "--batch") != 0 && strcmp(opt, "--seconds") != 0)
			return usage_error(NULL);
		if (val == NULL)
			return usage_error("an option lacks its value");
		i++;
		if (strcmp(opt, "--config") == 0)
			o->config = val;
		else if (strcmp(opt, "--size") == 0 && !parse_whole(val, 1, MAX_SIZE, &o->size))
			return usage_error("--size takes 1..65507");
		else if (strcmp(opt, "--batch") == 0 && !parse_whole(val, 1, DGB_MAX_MSGS, &o->batch))
			return usage_error("--batch takes 1.." STR(DGB_MAX_MSGS));
		else if (strcmp(opt, "--seconds") == 0 && !parse_seconds(val, &o->seconds))
			return usage_error("--seconds takes a decimal number from 0.01 to 60");
	}
	if (o->config == NULL)
		return usage_error("give --config FILE or set OPENSSL_CONF");
	return 0;
}

/* --- small helpers ------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux; a zero would show in the rates. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sys_failed(const char *what)
{
	fprintf(stderr, "%s: bench: %s: %s\n", progname, what, strerror(errno));
	return 0;
}

static int ssl_failed(const char *what)
{
	fprintf(stderr, "%s: bench: %s\n", progname, what);
	ERR_print_errors_fp(stderr);
	return 0;
}

static const char *const impl_key[NIMPL] = { "plugin", "openssl", "raw" };
static const char *const dir_key[NDIR] = { "send", "recv" };

/*
 * What each implementation calls, for the report: [1] where the running
 * libcrypto has the batched calls, [0] where it has not.
 */
static const char *const impl_calls[2][NIMPL][NDIR] = {
	{
		{ "DGB_sendmmsg via module ctrl", "DGB_recvmmsg via module ctrl" },
		{ "BIO_write loop, BIO_s_datagram", "BIO_read loop, BIO_s_datagram" },
		{ "sendmmsg(2)", "recvmmsg(2)" },
	},
	{
		{ "DGB_sendmmsg = BIO_sendmmsg, module BIO",
		  "DGB_recvmmsg = BIO_recvmmsg, module BIO" },
		{ "BIO_sendmmsg, BIO_s_datagram", "BIO_recvmmsg, BIO_s_datagram" },
		{ "sendmmsg(2)", "recvmmsg(2)" },
	},
};

static const char *impl_call(const struct bench *b, enum impl i, enum dir d)
{
	return impl_calls[b->native[d] != NULL][i][d];
}

static int impl_failed(const struct bench *b, enum impl i, enum dir d)
{
	fprintf(stderr, "%s: bench: %s %s (%s) failed\n", progname, impl_key[i], dir_key[d],
		impl_call(b, i, d));
	ERR_print_errors_fp(stderr);
	return 0;
}

/* --- set-up -------------------------------------------------------------- */

static int pick_dgrambatch(OSSL_PROVIDER *prov, void *arg)
{
	if (strcmp(OSSL_PROVIDER_get0_name(prov), DGB_PROVIDER_NAME) != 0)
		return 1;
	*(OSSL_PROVIDER **)arg = prov;
	return 0;
}

/* The config file goes into a library context of its own, as with demo. */
static int load_module(struct bench *b)
{
	b->libctx = OSSL_LIB_CTX_new();
	if (b->libctx == NULL || !OSSL_LIB_CTX_load_config(b->libctx, b->o.config))
		return ssl_failed("cannot load the OpenSSL config file");
	OSSL_PROVIDER_do_all(b->libctx, pick_dgrambatch, &b->prov);
	if (b->prov == NULL) {
		fprintf(stderr, "%s: bench: %s does not activate the %s provider\n", progname,
			b->o.config, DGB_PROVIDER_NAME);
		return 0;
	}
	return 1;
}

static int read_counts(OSSL_PROVIDER *prov, struct module_counts *c)
{
	OSSL_PARAM p[] = {
		OSSL_PARAM_uint64(DGB_PARAM_TX_DATAGRAMS, &c->tx),
		OSSL_PARAM_uint64(DGB_PARAM_RX_DATAGRAMS, &c->rx),
		OSSL_PARAM_uint64(DGB_PARAM_TX_SYSCALLS, &c->txc),
		OSSL_PARAM_uint64(DGB_PARAM_RX_SYSCALLS, &c->rxc),
		OSSL_PARAM_uint64(DGB_PARAM_FALLBACK_BATCHES, &c->fallback),
		OSSL_PARAM_END
	};

	if (!OSSL_PROVIDER_get_params(prov, p))
		return ssl_failed("the provider does not answer its counters");
	return 1;
}

/* A nonblocking UDP socket on 127.0.0.1, on a port the kernel picks. */
static int loopback_socket(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		sys_failed("socket()");
		return -1;
	}
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
		sys_failed("binding a socket to 127.0.0.1");
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * SO_RCVBUFFORCE passes net.core.rmem_max but needs CAP_NET_ADMIN;
 * without it SO_RCVBUF gives what rmem_max allows.
 */
static int grow_rcvbuf(struct bench *b)
{
	int want = RCVBUF_WANTED;
	socklen_t len = sizeof(b->rcvbuf);

	b->rcvbuf_forced =
		setsockopt(b->rx_fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) == 0;
	if (!b->rcvbuf_forced &&
	    setsockopt(b->rx_fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) != 0)
		return sys_failed("setsockopt(SO_RCVBUF)");
	if (getsockopt(b->rx_fd, SOL_SOCKET, SO_RCVBUF, &b->rcvbuf, &len) != 0)
		return sys_failed("getsockopt(SO_RCVBUF)");
	return 1;
}

static int open_sockets(struct bench *b)
{
	struct sockaddr_in tx_addr;

	b->tx_fd = loopback_socket(&tx_addr);
	b->sink_fd = loopback_socket(&b->sink_addr);
	b->rx_fd = loopback_socket(&b->rx_addr);
	return b->tx_fd >= 0 && b->sink_fd >= 0 && b->rx_fd >= 0 && grow_rcvbuf(b);
}

static int make_addr(BIO_ADDR **ap, const struct sockaddr_in *sin)
{
	*ap = BIO_ADDR_new();
	return *ap != NULL && BIO_ADDR_rawmake(*ap, AF_INET, &sin->sin_addr,
					       sizeof(sin->sin_addr), sin->sin_port);
}

/*
 * A BIO of method meth on fd, which stays ours to close.  Senders get the
 * sink as their peer: OpenSSL 3.0's BIO_write sends there, and the batched
 * calls name it in each message anyway.
 */
static BIO *bio_on(const BIO_METHOD *meth, int fd, const BIO_ADDR *peer)
{
	BIO *bio = BIO_new(meth);

	if (bio == NULL || BIO_set_fd(bio, fd, BIO_NOCLOSE) != 1 ||
	    (peer != NULL && BIO_dgram_set_peer(bio, peer) != 1)) {
		BIO_free(bio);
		return NULL;
	}
	return bio;
}

static int make_bios(struct bench *b)
{
	const BIO_METHOD *module = DGB_provider_bio_method(b->prov);

	if (module == NULL) {
		fprintf(stderr, "%s: bench: the provider hands out no BIO method\n", progname);
		return 0;
	}
	b->bio[PLUGIN][SEND] = bio_on(module, b->tx_fd, b->sink_peer);
	b->bio[PLUGIN][RECV] = bio_on(module, b->rx_fd, NULL);
	b->bio[OPENSSL][SEND] = bio_on(BIO_s_datagram(), b->tx_fd, b->sink_peer);
	b->bio[OPENSSL][RECV] = bio_on(BIO_s_datagram(), b->rx_fd, NULL);
	if (b->bio[PLUGIN][SEND] == NULL || b->bio[PLUGIN][RECV] == NULL ||
	    b->bio[OPENSSL][SEND] == NULL || b->bio[OPENSSL][RECV] == NULL)
		return ssl_failed("cannot make the datagram BIOs");
	if (!DGB_is_dgrambatch(b->bio[PLUGIN][SEND]) || DGB_is_dgrambatch(b->bio[OPENSSL][SEND])) {
		fprintf(stderr, "%s: bench: the BIOs are not what they should be\n", progname);
		return 0;
	}
	return 1;
}

static int alloc_batches(struct bench *b)
{
	size_t n = b->o.batch;

	b->tx_data = calloc(n, b->o.size);
	b->rx_data = calloc(n, b->o.size);
	b->rx_peer = calloc(n, sizeof(*b->rx_peer));
	b->tx_msg = calloc(n, sizeof(*b->tx_msg));
	b->rx_msg = calloc(n, sizeof(*b->rx_msg));
	b->tx_mh = calloc(n, sizeof(*b->tx_mh));
	b->rx_mh = calloc(n, sizeof(*b->rx_mh));
	b->tx_iov = calloc(n, sizeof(*b->tx_iov));
	b->rx_iov = calloc(n, sizeof(*b->rx_iov));
	b->rx_name = calloc(n, sizeof(*b->rx_name));
	if (b->tx_data == NULL || b->rx_data == NULL || b->rx_peer == NULL ||
	    b->tx_msg == NULL || b->rx_msg == NULL || b->tx_mh == NULL || b->rx_mh == NULL ||
	    b->tx_iov == NULL || b->rx_iov == NULL || b->rx_name == NULL) {
		fprintf(stderr, "%s: bench: out of memory\n", progname);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		b->rx_peer[i] = BIO_ADDR_new();
		if (b->rx_peer[i] == NULL)
			return ssl_failed("cannot allocate addresses");
	}
	return 1;
}

/* The messages every implementation uses; data_len is set before each call. */
static void fill_batches(struct bench *b)
{
	size_t size = b->o.size;

	for (size_t i = 0; i < b->o.batch * size; i++)
		b->tx_data[i] = (unsigned char)(i * 31 + 7);
	for (size_t i = 0; i < b->o.batch; i++) {
		struct msghdr *tx = &b->tx_mh[i].msg_hdr, *rx = &b->rx_mh[i].msg_hdr;

		b->tx_msg[i].data = b->tx_data + i * size;
		b->tx_msg[i].peer = b->sink_peer;
		b->rx_msg[i].data = b->rx_data + i * size;
		b->rx_msg[i].peer = b->rx_peer[i];

		b->tx_iov[i].iov_base = b->tx_data + i * size;
		b->tx_iov[i].iov_len = size;
		tx->msg_name = &b->sink_addr;
		tx->msg_namelen = sizeof(b->sink_addr);
		tx->msg_iov = &b->tx_iov[i];
		tx->msg_iovlen = 1;

		b->rx_iov[i].iov_base = b->rx_data + i * size;
		b->rx_iov[i].iov_len = size;
		rx->msg_name = &b->rx_name[i];
		rx->msg_iov = &b->rx_iov[i];
		rx->msg_iovlen = 1;
	}
	b->fill_iov.iov_base = b->tx_data;
	b->fill_iov.iov_len = size;
	for (size_t i = 0; i < FILL_BATCH; i++) {
		struct msghdr *f = &b->fill_mh[i].msg_hdr;

		f->msg_name = &b->rx_addr;
		f->msg_namelen = sizeof(b->rx_addr);
		f->msg_iov = &b->fill_iov;
		f->msg_iovlen = 1;
	}
}

static int set_up(struct bench *b)
{
	/*
	 * Both or neither: the OpenSSL rows must not mix a batched send with
	 * an unbatched receive.
	 */
	b->native[SEND] = dgb_native_mmsg_(1);
	b->native[RECV] = dgb_native_mmsg_(0);
	if (b->native[SEND] == NULL || b->native[RECV] == NULL)
		b->native[SEND] = b->native[RECV] = NULL;
	if (!load_module(b) || !open_sockets(b))
		return 0;
	if (!make_addr(&b->sink_peer, &b->sink_addr))
		return ssl_failed("cannot make the sink's address");
	if (!alloc_batches(b) || !make_bios(b))
		return 0;
	fill_batches(b);
	return 1;
}

static void tear_down(struct bench *b)
{
	for (int i = 0; i < NIMPL; i++)
		for (int d = 0; d < NDIR; d++)
			BIO_free(b->bio[i][d]);
	for (size_t i = 0; b->rx_peer != NULL && i < b->o.batch; i++)
		BIO_ADDR_free(b->rx_peer[i]);
	BIO_ADDR_free(b->sink_peer);
	free(b->tx_data);
	free(b->rx_data);
	free(b->rx_peer);
	free(b->tx_msg);
	free(b->rx_msg);
	free(b->tx_mh);
	free(b->rx_mh);
	free(b->tx_iov);
	free(b->rx_iov);
	free(b->rx_name);
	if (b->tx_fd >= 0)
		close(b->tx_fd);
	if (b->sink_fd >= 0)
		close(b->sink_fd);
	if (b->rx_fd >= 0)
		close(b->rx_fd);
	OSSL_LIB_CTX_free(b->libctx);
}

/* --- one batched call per implementation and path ------------------------ */

/*
 * EAGAIN: the send buffer was full or the receive queue empty for a
 * moment; ENOBUFS: a device queue was full.  Both pass.
 */
static int transient_errno(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

/*
 * A call that moved nothing: AGAIN for a transient error, by errno or by
 * the system error on OpenSSL's stack, else FAILED with the stack kept for
 * the report.  err is 0 when the call did not fail in a system call.
 */
static enum outcome classify(int err)
{
	unsigned long e = ERR_peek_last_error();

	if (transient_errno(err) ||
	    (e != 0 && ERR_SYSTEM_ERROR(e) && transient_errno(ERR_GET_REASON(e)))) {
		ERR_clear_error();
		return AGAIN;
	}
	return FAILED;
}

static enum outcome wrong_length(size_t i, size_t len, size_t size)
{
	fprintf(stderr, "%s: bench: datagram %zu of the batch moved %zu bytes, not %zu\n",
		progname, i, len, size);
	return FAILED;
}

static enum outcome check_msgs(const DGB_MSG *m, size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].data_len != size)
			return wrong_length(i, m[i].data_len, size);
	return MOVED;
}

static enum outcome check_mmsgs(const struct mmsghdr *mh, size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++)
		if (mh[i].msg_len != size)
			return wrong_length(i, mh[i].msg_len, size);
	return MOVED;
}

/* The batched calls overwrite data_len with what moved: reset it each time. */
static void reset_msgs(DGB_MSG *m, size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		m[i].data_len = size;
		m[i].flags = 0;
	}
}

static enum outcome plugin_send(struct bench *b, size_t n, size_t *done)
{
	int ok, err;

	reset_msgs(b->tx_msg, n, b->o.size);
	errno = 0;
	ok = DGB_sendmmsg(b->bio[PLUGIN][SEND], b->tx_msg, sizeof(DGB_MSG), n, 0, done);
	err = errno;
	return ok ? check_msgs(b->tx_msg, *done, b->o.size) : classify(err);
}

static enum outcome plugin_recv(struct bench *b, size_t n, size_t *done)
{
	int ok, err;

	reset_msgs(b->rx_msg, n, b->o.size);
	errno = 0;
	ok = DGB_recvmmsg(b->bio[PLUGIN][RECV], b->rx_msg, sizeof(DGB_MSG), n, 0, done);
	err = errno;
	return ok ? check_msgs(b->rx_msg, *done, b->o.size) : classify(err);
}

/*
 * OpenSSL before 3.2 has no batched calls: one BIO_write per datagram, to
 * the BIO's peer.  Like sendmmsg(2), a failure after the first datagram
 * ends the batch and is met again by the next call.
 */
static enum outcome openssl_send_loop(struct bench *b, size_t n, size_t *done)
{
	BIO *bio = b->bio[OPENSSL][SEND];
	size_t i;

	for (i = 0; i < n; i++) {
		int r, err;

		errno = 0;
		r = BIO_write(bio, b->tx_msg[i].data, (int)b->o.size);
		err = errno;
		if (r < 0 && i > 0)
			break;
		if (r < 0)
			return classify(err);
		if ((size_t)r != b->o.size)
			return wrong_length(i, (size_t)r, b->o.size);
	}
	*done = i;
	return MOVED;
}

/*
 * One BIO_read per datagram.  BIO_recvmmsg reports each datagram's sender;
 * here that takes BIO_dgram_get_peer, so both do the same work.
 */
static enum outcome openssl_recv_loop(struct bench *b, size_t n, size_t *done)
{
	BIO *bio = b->bio[OPENSSL][RECV];
	size_t i;

	for (i = 0; i < n; i++) {
		int r, err;

		errno = 0;
		r = BIO_read(bio, b->rx_msg[i].data, (int)b->o.size);
		err = errno;
		if (r < 0 && i > 0)
			break;
		if (r < 0)
			return classify(err);
		if ((size_t)r != b->o.size)
			return wrong_length(i, (size_t)r, b->o.size);
		if (BIO_dgram_get_peer(bio, b->rx_peer[i]) <= 0) {
			ERR_raise_data(ERR_LIB_BIO, ERR_R_INTERNAL_ERROR, "no peer after a read");
			return FAILED;
		}
	}
	*done = i;
	return MOVED;
}

/* OpenSSL's own BIO_sendmmsg, called directly, not through DGB_sendmmsg. */
static enum outcome openssl_send(struct bench *b, size_t n, size_t *done)
{
	int ok, err;

	if (b->native[SEND] == NULL)
		return openssl_send_loop(b, n, done);
	reset_msgs(b->tx_msg, n, b->o.size);
	errno = 0;
	ok = b->native[SEND](b->bio[OPENSSL][SEND], b->tx_msg, sizeof(DGB_MSG), n, 0, done);
	err = errno;
	return ok ? check_msgs(b->tx_msg, *done, b->o.size) : classify(err);
}

static enum outcome openssl_recv(struct bench *b, size_t n, size_t *done)
{
	int ok, err;

	if (b->native[RECV] == NULL)
		return openssl_recv_loop(b, n, done);
	reset_msgs(b->rx_msg, n, b->o.size);
	errno = 0;
	ok = b->native[RECV](b->bio[OPENSSL][RECV], b->rx_msg, sizeof(DGB_MSG), n, 0, done);
	err = errno;
	return ok ? check_msgs(b->rx_msg, *done, b->o.size) : classify(err);
}

static enum outcome raw_send(struct bench *b, size_t n, size_t *done)
{
	int r = sendmmsg(b->tx_fd, b->tx_mh, (unsigned int)n, 0);

	if (r <= 0)
		return classify(r < 0 ? errno : 0);
	*done = (size_t)r;
	return check_mmsgs(b->tx_mh, *done, b->o.size);
}

static enum outcome raw_recv(struct bench *b, size_t n, size_t *done)
{
	int r;

	/* The kernel shortens msg_namelen to the address it wrote. */
	for (size_t i = 0; i < n; i++)
		b->rx_mh[i].msg_hdr.msg_namelen = sizeof(b->rx_name[i]);
	r = recvmmsg(b->rx_fd, b->rx_mh, (unsigned int)n, 0, NULL);
	if (r <= 0)
		return classify(r < 0 ? errno : 0);
	*done = (size_t)r;
	return check_mmsgs(b->rx_mh, *done, b->o.size);
}

static const batch_fn batch_call[NIMPL][NDIR] = {
	{ plugin_send, plugin_recv },
	{ openssl_send, openssl_recv },
	{ raw_send, raw_recv },
};

/* One call of n messages; success with nothing moved counts as AGAIN. */
static enum outcome call(struct bench *b, enum impl i, enum dir d, size_t n, size_t *done)
{
	enum outcome r;

	*done = 0;
	r = batch_call[i][d](b, n, done);
	return r == MOVED && *done == 0 ? AGAIN : r;
}

/* --- the receive queue --------------------------------------------------- */

/*
 * Whether calls that moved nothing have gone on for STALL_SECONDS; *since
 * is when they began, 0 while calls make progress.
 */
static int stalled_too_long(double *since)
{
	double t = now();

	if (*since == 0) {
		*since = t;
		return 0;
	}
	return t - *since > STALL_SECONDS;
}

/* Put count datagrams into rx_fd with raw sendmmsg; not timed. */
static int fill_queue(struct bench *b, size_t count)
{
	double stalled = 0;

	while (count > 0) {
		unsigned int n = count < FILL_BATCH ? (unsigned int)count : FILL_BATCH;
		int r = sendmmsg(b->tx_fd, b->fill_mh, n, 0);

		if (r > 0) {
			count -= (size_t)r;
			stalled = 0;
		} else if (r < 0 && transient_errno(errno)) {
			if (stalled_too_long(&stalled))
				return sys_failed("filling the receive queue");
		} else {
			return sys_failed("filling the receive queue: sendmmsg()");
		}
	}
	return 1;
}

/* Read rx_fd until it is empty; the count goes to *got. */
static int empty_queue(struct bench *b, size_t *got)
{
	size_t done;
	enum outcome r;

	*got = 0;
	while ((r = call(b, RAW, RECV, b->o.batch, &done)) == MOVED)
		*got += done;
	if (r == FAILED)
		return impl_failed(b, RAW, RECV);
	return 1;
}

/*
 * How many datagrams a fill may put into rx_fd.  Overfill it (a datagram
 * costs the buffer at least its payload, so rcvbuf/size more surely
 * overflow) and count what arrived.  Fills then take three quarters of
 * that, so that no fill overflows and every drain must get all of it.
 */
static int measure_queue(struct bench *b)
{
	size_t offer = (size_t)b->rcvbuf / b->o.size + FILL_BATCH, held;

	if (offer > 2 * MAX_QUEUED)
		offer = 2 * MAX_QUEUED;
	if (!fill_queue(b, offer) || !empty_queue(b, &held))
		return 0;
	b->queued = held - held / 4;
	if (b->queued > MAX_QUEUED)
		b->queued = MAX_QUEUED;
	if (b->queued == 0) {
		fprintf(stderr, "%s: bench: the receive buffer holds no %zu-byte datagram\n",
			progname, b->o.size);
		return 0;
	}
	return 1;
}

/*
 * Take exactly b->queued datagrams through implementation i.  An empty
 * queue on the way is counted and retried; one that stays empty for
 * STALL_SECONDS has lost datagrams.
 */
static int drain_queue(struct bench *b, enum impl i)
{
	struct tally *t = &b->tally[i][RECV];
	size_t left = b->queued;
	double stalled = 0;

	while (left > 0) {
		size_t n = left < b->o.batch ? left : b->o.batch, done;

		switch (call(b, i, RECV, n, &done)) {
		case MOVED:
			left -= done;
			stalled = 0;
			break;
		case AGAIN:
			t->transient++;
			if (stalled_too_long(&stalled)) {
				fprintf(stderr, "%s: bench: %s recv: %zu of %zu datagrams lost\n",
					progname, impl_key[i], left, b->queued);
				return 0;
			}
			break;
		case FAILED:
			return impl_failed(b, i, RECV);
		}
	}
	t->datagrams += b->queued;
	return 1;
}

/* --- samples and rounds -------------------------------------------------- */

/* Send batches through implementation i for `seconds`; datagrams/s to *rate. */
static int send_sample(struct bench *b, enum impl i, double seconds, double *rate)
{
	struct tally *t = &b->tally[i][SEND];
	uint64_t sent = 0;
	double start = now(), elapsed;

	do {
		size_t done;

		switch (call(b, i, SEND, b->o.batch, &done)) {
		case MOVED:
			sent += done;
			break;
		case AGAIN:
			t->transient++;
			break;
		case FAILED:
			return impl_failed(b, i, SEND);
		}
		elapsed = now() - start;
	} while (elapsed < seconds);
	if (sent == 0) {
		fprintf(stderr, "%s: bench: %s send moved nothing in %.2f s\n", progname,
			impl_key[i], elapsed);
		return 0;
	}
	t->datagrams += sent;
	*rate = (double)sent / elapsed;
	return 1;
}

/*
 * Fill and drain until `seconds` have passed; only the drains are timed,
 * so the rate is what implementation i reads per second of its own work.
 */
static int recv_sample(struct bench *b, enum impl i, double seconds, double *rate)
{
	double start = now(), busy = 0;
	uint64_t got = 0;

	do {
		double t0;

		if (!fill_queue(b, b->queued))
			return 0;
		t0 = now();
		if (!drain_queue(b, i))
			return 0;
		busy += now() - t0;
		got += b->queued;
	} while (now() - start < seconds);
	if (!(busy > 0)) {
		fprintf(stderr, "%s: bench: the clock did not move\n", progname);
		return 0;
	}
	*rate = (double)got / busy;
	return 1;
}

/* Every implementation once on path d, in turn; round < 0 is a warm-up. */
static int run_round(struct bench *b, enum dir d, double seconds, int round)
{
	for (int i = 0; i < NIMPL; i++) {
		double rate = 0;
		int ok = d == SEND ? send_sample(b, (enum impl)i, seconds, &rate)
				   : recv_sample(b, (enum impl)i, seconds, &rate);

		if (!ok)
			return 0;
		if (round >= 0)
			b->tally[i][d].rate[round] = rate;
	}
	return 1;
}

/*
 * All rounds of one path, after a warm-up round.  The paths run one after
 * the other, not interleaved: after a spell of sends the first ~0.1 s of
 * refills and drains run up to a third slower while the kernel's memory
 * warms up again, and in each round that would land on the same
 * implementation.  The warm-up takes that hit instead.
 */
static int run_path(struct bench *b, enum dir d)
{
	if (!run_round(b, d, warmup_seconds[d], -1))
		return 0;
	for (int r = 0; r < ROUNDS; r++)
		if (!run_round(b, d, b->o.seconds, r))
			return 0;
	return 1;
}

/*
 * The module counts what its BIOs moved; only the plugin rows use them,
 * so the counts must match those rows exactly, or the rows measured
 * something else.
 */
static int counts_agree(const struct bench *b)
{
	uint64_t tx = b->after.tx - b->before.tx, rx = b->after.rx - b->before.rx;

	if (tx == b->tally[PLUGIN][SEND].datagrams && rx == b->tally[PLUGIN][RECV].datagrams)
		return 1;
	fprintf(stderr,
		"%s: bench: the module counted tx %" PRIu64 ", rx %" PRIu64
		" datagrams, but the plugin rows moved tx %" PRIu64 ", rx %" PRIu64 "\n",
		progname, tx, rx, b->tally[PLUGIN][SEND].datagrams,
		b->tally[PLUGIN][RECV].datagrams);
	return 0;
}

static int run(struct bench *b)
{
	if (!measure_queue(b) || !read_counts(b->prov, &b->before) || !run_path(b, SEND) ||
	    !run_path(b, RECV))
		return 0;
	return read_counts(b->prov, &b->after) && counts_agree(b);
}

/* --- the report ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v)
{
	double s[ROUNDS];

	memcpy(s, v, sizeof(s));
	qsort(s, ROUNDS, sizeof(s[0]), cmp_double);
	return ROUNDS % 2 ? s[ROUNDS / 2] : (s[ROUNDS / 2 - 1] + s[ROUNDS / 2]) / 2;
}

/* (max - min) / median: how much the rounds disagreed. */
static double spread(const double *v)
{
	double lo = v[0], hi = v[0];

	for (int r = 1; r < ROUNDS; r++) {
		lo = v[r] < lo ? v[r] : lo;
		hi = v[r] > hi ? v[r] : hi;
	}
	return (hi - lo) / median(v);
}

static double gbits(const struct bench *b, double rate)
{
	return rate * (double)b->o.size * 8 / 1e9;
}

static double ratio(const struct bench *b, enum dir d, enum impl over)
{
	return median(b->tally[PLUGIN][d].rate) / median(b->tally[over][d].rate);
}

static void print_text(const struct bench *b)
{
	printf("dgrambatch bench: %zu-byte datagrams in batches of %zu on 127.0.0.1\n", b->o.size,
	       b->o.batch);
	printf("OpenSSL %s (built with %s)\n", OpenSSL_version(OPENSSL_VERSION_STRING),
	       OPENSSL_VERSION_TEXT);
	printf("median of %d rounds of %.2f s per implementation, interleaved within each path\n",
	       ROUNDS, b->o.seconds);
	printf("receive: %zu datagrams queued per drain, SO_RCVBUF %d bytes (%s)\n\n", b->queued,
	       b->rcvbuf, b->rcvbuf_forced ? "SO_RCVBUFFORCE" : "capped by net.core.rmem_max");
	printf("%-4s  %-7s  %-40s %13s %9s %7s %10s\n", "path", "impl", "call", "datagrams/s",
	       "Gbit/s", "spread", "transient");
	for (int d = 0; d < NDIR; d++) {
		for (int i = 0; i < NIMPL; i++) {
			const struct tally *t = &b->tally[i][d];
			double m = median(t->rate);

			printf("%-4s  %-7s  %-40s %13.0f %9.3f %6.1f%% %10" PRIu64 "\n", dir_key[d],
			       impl_key[i], impl_call(b, (enum impl)i, (enum dir)d), m, gbits(b, m),
			       100 * spread(t->rate), t->transient);
		}
	}
	printf("\n%-4s  %14s  %10s\n", "path", "plugin/openssl", "plugin/raw");
	for (int d = 0; d < NDIR; d++)
		printf("%-4s  %14.3f  %10.3f\n", dir_key[d], ratio(b, d, OPENSSL), ratio(b, d, RAW));
	printf("\nmodule counters agree with the plugin rows: tx %" PRIu64 " datagrams in %" PRIu64
	       " calls, rx %" PRIu64 " in %" PRIu64 ", %" PRIu64 " unbatched\n",
	       b->after.tx - b->before.tx, b->after.txc - b->before.txc, b->after.rx - b->before.rx,
	       b->after.rxc - b->before.rxc, b->after.fallback - b->before.fallback);
	printf("transient: calls that moved nothing and were repeated (EAGAIN or ENOBUFS on send, "
	       "an empty queue on receive)\n");
}

/* A JSON string; the texts here are plain, but quotes would break it. */
static void json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
	putchar('"');
}

static void json_impl(const struct bench *b, enum impl i, enum dir d)
{
	const struct tally *t = &b->tally[i][d];
	double m = median(t->rate);

	printf("    \"%s\": { \"call\": ", impl_key[i]);
	json_string(impl_call(b, i, d));
	printf(", \"datagrams_per_second\": %.0f, \"gbit_per_second\": %.4f, "
	       "\"spread\": %.4f, \"transient\": %" PRIu64 ", \"samples\": [",
	       m, gbits(b, m), spread(t->rate), t->transient);
	for (int r = 0; r < ROUNDS; r++)
		printf("%s%.0f", r ? ", " : "", t->rate[r]);
	printf("] },\n");
}

static void print_json(const struct bench *b)
{
	printf("{\n  \"openssl\": { \"build\": ");
	json_string(OPENSSL_VERSION_TEXT);
	printf(", \"runtime\": ");
	json_string(OpenSSL_version(OPENSSL_VERSION));
	printf(", \"bio_sendmmsg\": %s },\n", b->native[SEND] != NULL ? "true" : "false");
	printf("  \"size\": %zu, \"batch\": %zu, \"seconds\": %.3f, \"rounds\": %d,\n", b->o.size,
	       b->o.batch, b->o.seconds, ROUNDS);
	printf("  \"rcvbuf\": %d, \"rcvbuf_forced\": %s, \"queued\": %zu,\n", b->rcvbuf,
	       b->rcvbuf_forced ? "true" : "false", b->queued);
	for (int d = 0; d < NDIR; d++) {
		printf("  \"%s\": {\n", dir_key[d]);
		for (int i = 0; i < NIMPL; i++)
			json_impl(b, (enum impl)i, (enum dir)d);
		printf("    \"plugin_over_openssl\": %.4f, \"plugin_over_raw\": %.4f\n  },\n",
		       ratio(b, d, OPENSSL), ratio(b, d, RAW));
	}
	printf("  \"module\": { \"tx_datagrams\": %" PRIu64 ", \"tx_syscalls\": %" PRIu64
	       ", \"rx_datagrams\": %" PRIu64 ", \"rx_syscalls\": %" PRIu64
	       ", \"fallback_batches\": %" PRIu64 " }\n}\n",
	       b->after.tx - b->before.tx, b->after.txc - b->before.txc, b->after.rx - b->before.rx,
	       b->after.rxc - b->before.rxc, b->after.fallback - b->before.fallback);
}

/* --- entry --------------------------------------------------------------- */

int dgb_bench_main(const char *name, int argc, char **argv)
{
	struct bench b;
	int rc;

	progname = name;
	memset(&b, 0, sizeof(b));
	b.tx_fd = b.sink_fd = b.rx_fd = -1;
	rc = parse_options(argc, argv, &b.o);
	if (rc != 0)
		return rc;
	rc = set_up(&b) && run(&b) ? 0 : 1;
	if (rc == 0) {
		if (b.o.json)
			print_json(&b);
		else
			print_text(&b);
		/* A report cut short (a full disk, a closed pipe) is a failure. */
		if (fflush(stdout) != 0 || ferror(stdout)) {
			sys_failed("writing the report");
			rc = 1;
		}
	}
	tear_down(&b);
	return rc;
}
