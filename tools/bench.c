/*
 * bench.c - `dgrambatch bench`: datagrams per second on loopback through
 * the module, OpenSSL's own datagram BIO and the raw system calls, side by
 * side in one run.  The rows:
 *
 *   plugin          the module's BIO, from the provider a config file
 *                   loads, with DGB_sendmmsg/DGB_recvmmsg
 *                   (BIO_sendmmsg/BIO_recvmmsg on 3.2+), as configured:
 *                   segmented sends (UDP GSO) where the kernel has them;
 *   plugin-gso-off  (send) a second module BIO with DGB_set_gso(b, 0);
 *   openssl         OpenSSL's BIO_s_datagram as it ships: BIO_sendmmsg/
 *                   BIO_recvmmsg where the running libcrypto has them
 *                   (3.2+), one BIO_write/BIO_read per datagram before;
 *   raw             sendmmsg(2)/recvmmsg(2) on the socket, one entry per
 *                   datagram;
 *   raw-gso         (send) the ceiling: the batch cut into the groups the
 *                   module makes (same length, the last may be shorter, at
 *                   most 64 datagrams and 65507 bytes), each group one
 *                   entry with a UDP_SEGMENT control message, all in one
 *                   sendmsg(2) (one group) or sendmmsg(2) call.
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
 * Send: batches go to a bound loopback socket that is not read while a
 * sample runs.  Loopback delivers inside the sender's system call, so each
 * send pays the whole way through both stacks, segmentation included: a
 * socket without UDP_GRO gets a segmented send cut back into datagrams.
 * Its buffer fills after a few datagrams and the rest are dropped on
 * arrival, which costs the same for every row; nothing pushes back on a UDP
 * sender, so the unread socket cannot slow one row more than another.
 * Around each sample the socket is emptied (not timed) and its drop count
 * read (SO_MEMINFO): every datagram a row sent must be found there, read
 * or dropped for want of room, or the report says how many were lost on
 * the way, which would make that row's rate too high.
 *
 * Receive: the receiving socket's buffer, enlarged to hold thousands of
 * datagrams, is filled with raw sendmmsg (not timed) and then drained in
 * batches through the implementation under test (timed), again and again
 * until the sample's time is up.  Every drain must return exactly what was
 * filled, each datagram at its full length, or the run fails.
 *
 * The send rounds come first, then the receive rounds.  Within each, the
 * implementations take turns (plugin, plugin-gso-off, openssl, raw,
 * raw-gso, plugin, ...) so that noise on a shared machine falls on all of
 * them alike, and each one's median over the rounds is reported.  They
 * share the same nonblocking sockets and do the same work: every datagram
 * sent names its destination, every datagram received reports its sender.
 * The module's counters are read around every sample: the module rows must
 * account for exactly what they moved, and the other rows for nothing.
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
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "dgrambatch.h"
#include "probe/probe.h"
#include "bench.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

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
/* --mixed: every MIXED_EVERY-th datagram of a send batch is this short. */
#define MIXED_EVERY 4
#define MIXED_SMALL 60
/*
 * One segmented send: what every kernel with UDP_SEGMENT takes (newer ones
 * take 128 segments), and what one IPv4 datagram can carry.  The module
 * uses the same limits.
 */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65507
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
/*
 * After a send sample, the sink is read until a pass this long after the
 * last finds nothing new: datagrams that the kernel's softirq thread
 * delivers a little later are still counted.
 */
#define SETTLE_MICROSECONDS 2000
#define SETTLE_PASSES_MAX 500

enum impl { PLUGIN, PLUGIN_NOGSO, OPENSSL, RAW, RAW_GSO, NIMPL };
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
	int mixed;
};

/* The module's counters. */
struct module_counts {
	uint64_t tx, rx, txc, rxc, fallback;
	uint64_t gso_sends, gso_segments, gso_fallbacks;
};

/* What one implementation did on one path over the whole run. */
struct tally {
	double rate[ROUNDS];   /* datagrams per second, per round */
	uint64_t datagrams;    /* moved, warm-up included */
	uint64_t transient;    /* calls that moved nothing and were repeated */
	struct module_counts mod; /* what the module counted meanwhile */
	/* Send: the sink's account of the datagrams sent. */
	uint64_t sink_read, sink_dropped, sink_lost, sink_extra;
};

struct bench {
	struct options o;
	OSSL_LIB_CTX *libctx;
	OSSL_PROVIDER *prov;
	int tx_fd;	/* sends, and fills rx_fd */
	int sink_fd;	/* the send path's destination, not read while timed */
	int rx_fd;	/* the receive path's socket */
	struct sockaddr_in sink_addr, rx_addr;
	int rcvbuf;	/* rx_fd's SO_RCVBUF as the kernel reports it */
	int rcvbuf_forced;
	size_t queued;	/* datagrams per fill of rx_fd */
	BIO *bio[NIMPL][NDIR]; /* module and OpenSSL rows only */

	/* Which rows run, and why a row that would does not. */
	char unavailable[NIMPL][160];
	/* What each row calls, for the report. */
	char call[NIMPL][NDIR][64];

	/* One batch per path, as BIO messages and as mmsghdr. */
	unsigned char *tx_data, *rx_data; /* o.size bytes per datagram */
	size_t *tx_len;			  /* each sent datagram's length */
	size_t tx_bytes;		  /* their sum */
	BIO_ADDR *sink_peer;
	BIO_ADDR **rx_peer;
	DGB_MSG *tx_msg, *rx_msg;
	struct mmsghdr *tx_mh, *rx_mh;
	struct iovec *tx_iov, *rx_iov;
	struct sockaddr_in *rx_name;
	/* The raw-gso row's batch: one entry per group of tx_iov. */
	struct mmsghdr *gso_mh;
	union gso_ctl {
		struct cmsghdr align;
		unsigned char buf[CMSG_SPACE(sizeof(uint16_t))];
	} *gso_ctl;
	size_t *gso_segs, *gso_bytes; /* datagrams and bytes per entry */
	size_t gso_n;		      /* entries */
	/* The fill's batch: every message carries tx_data[0..size) to rx_fd. */
	struct mmsghdr fill_mh[FILL_BATCH];
	struct iovec fill_iov;

	/* The running libcrypto's BIO_sendmmsg/BIO_recvmmsg, NULL before 3.2. */
	dgb_mmsg_fn_ *native[NDIR];

	/* The module's GSO: its setting, and whether the plugin row uses it. */
	char gso_setting[16];
	int gso_counted;     /* the module reports the GSO counters */
	int gso_before, gso_after; /* DGB_get_gso on the plugin send BIO */
	int sink_counted;    /* SO_MEMINFO gives the sink's drops */
	int route_mtu;	     /* the path MTU to the sink, -1 if unknown */

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
	o->mixed = 0;

	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (strcmp(opt, "--mixed") == 0) {
			o->mixed = 1;
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

/* The rows' names in the text report and as JSON keys. */
static const char *const impl_key[NIMPL] = { "plugin", "plugin-gso-off", "openssl", "raw",
					     "raw-gso" };
static const char *const impl_json[NIMPL] = { "plugin", "plugin_gso_off", "openssl", "raw",
					      "raw_gso" };
static const char *const dir_key[NDIR] = { "send", "recv" };

/* The GSO rows are about sending; the receive path has the other three. */
static int on_path(enum impl i, enum dir d)
{
	return d == SEND || (i != PLUGIN_NOGSO && i != RAW_GSO);
}

static int available(const struct bench *b, enum impl i)
{
	return b->unavailable[i][0] == '\0';
}

/* Rows that run on path d. */
static int runs(const struct bench *b, enum impl i, enum dir d)
{
	return on_path(i, d) && available(b, i);
}

/* The module's rows: the module's counters must account for them. */
static int is_module(enum impl i)
{
	return i == PLUGIN || i == PLUGIN_NOGSO;
}

static int impl_failed(const struct bench *b, enum impl i, enum dir d)
{
	fprintf(stderr, "%s: bench: %s %s (%s) failed\n", progname, impl_key[i], dir_key[d],
		b->call[i][d]);
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

/*
 * The module's counters.  A module older than GSO answers without the GSO
 * ones; gso_counted says whether it did.
 */
static int read_counts(struct bench *b, struct module_counts *c)
{
	OSSL_PARAM p[] = {
		OSSL_PARAM_uint64(DGB_PARAM_TX_DATAGRAMS, &c->tx),
		OSSL_PARAM_uint64(DGB_PARAM_RX_DATAGRAMS, &c->rx),
		OSSL_PARAM_uint64(DGB_PARAM_TX_SYSCALLS, &c->txc),
		OSSL_PARAM_uint64(DGB_PARAM_RX_SYSCALLS, &c->rxc),
		OSSL_PARAM_uint64(DGB_PARAM_FALLBACK_BATCHES, &c->fallback),
#ifdef DGB_PARAM_GSO_SENDS
		OSSL_PARAM_uint64(DGB_PARAM_GSO_SENDS, &c->gso_sends),
		OSSL_PARAM_uint64(DGB_PARAM_GSO_SEGMENTS, &c->gso_segments),
		OSSL_PARAM_uint64(DGB_PARAM_GSO_FALLBACKS, &c->gso_fallbacks),
#endif
		OSSL_PARAM_END
	};

	memset(c, 0, sizeof(*c));
	if (!OSSL_PROVIDER_get_params(b->prov, p))
		return ssl_failed("the provider does not answer its counters");
#ifdef DGB_PARAM_GSO_SENDS
	b->gso_counted = OSSL_PARAM_modified(&p[5]) && OSSL_PARAM_modified(&p[6]);
#endif
	return 1;
}

static void counts_add(struct module_counts *sum, const struct module_counts *to,
		       const struct module_counts *from)
{
	sum->tx += to->tx - from->tx;
	sum->rx += to->rx - from->rx;
	sum->txc += to->txc - from->txc;
	sum->rxc += to->rxc - from->rxc;
	sum->fallback += to->fallback - from->fallback;
	sum->gso_sends += to->gso_sends - from->gso_sends;
	sum->gso_segments += to->gso_segments - from->gso_segments;
	sum->gso_fallbacks += to->gso_fallbacks - from->gso_fallbacks;
}

/* The module's "gso" setting, "-" from a module that predates it. */
static void read_gso_setting(struct bench *b)
{
	snprintf(b->gso_setting, sizeof(b->gso_setting), "-");
#ifdef DGB_PARAM_GSO
	{
		const char *v = NULL;
		OSSL_PARAM p[] = { OSSL_PARAM_utf8_ptr(DGB_PARAM_GSO, (char **)&v, 0),
				   OSSL_PARAM_END };

		if (OSSL_PROVIDER_get_params(b->prov, p) && OSSL_PARAM_modified(&p[0]) &&
		    v != NULL)
			snprintf(b->gso_setting, sizeof(b->gso_setting), "%s", v);
		ERR_clear_error();
	}
#endif
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

/*
 * The path MTU to the sink.  Loopback's is 65536, but an ICMP
 * "fragmentation needed" for 127.0.0.1 (a test that forges one, say)
 * leaves a smaller one cached for ten minutes: then datagrams above it are
 * fragmented, segmented sends are refused, and the figures measure that.
 */
static void read_route_mtu(struct bench *b)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), mtu = -1;
	socklen_t len = sizeof(mtu);

	b->route_mtu = -1;
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&b->sink_addr, sizeof(b->sink_addr)) == 0 &&
	    getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &len) == 0)
		b->route_mtu = mtu;
	close(fd);
}

/* Whether datagrams of `size` bytes fit the route unfragmented (IPv4, UDP). */
static int route_too_small(const struct bench *b)
{
	return b->route_mtu > 0 && (size_t)b->route_mtu < b->o.size + 28;
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
	b->bio[PLUGIN_NOGSO][SEND] = bio_on(module, b->tx_fd, b->sink_peer);
	b->bio[PLUGIN][RECV] = bio_on(module, b->rx_fd, NULL);
	b->bio[OPENSSL][SEND] = bio_on(BIO_s_datagram(), b->tx_fd, b->sink_peer);
	b->bio[OPENSSL][RECV] = bio_on(BIO_s_datagram(), b->rx_fd, NULL);
	if (b->bio[PLUGIN][SEND] == NULL || b->bio[PLUGIN_NOGSO][SEND] == NULL ||
	    b->bio[PLUGIN][RECV] == NULL || b->bio[OPENSSL][SEND] == NULL ||
	    b->bio[OPENSSL][RECV] == NULL)
		return ssl_failed("cannot make the datagram BIOs");
	if (!DGB_is_dgrambatch(b->bio[PLUGIN][SEND]) ||
	    !DGB_is_dgrambatch(b->bio[PLUGIN_NOGSO][SEND]) ||
	    DGB_is_dgrambatch(b->bio[OPENSSL][SEND])) {
		fprintf(stderr, "%s: bench: the BIOs are not what they should be\n", progname);
		return 0;
	}
	return 1;
}

/*
 * The plugin row uses the module's BIO as configured; the plugin-gso-off
 * row's BIO is told to send without segmentation.  The two BIOs share the
 * socket: the setting belongs to the BIO.
 */
static void set_module_gso(struct bench *b)
{
	read_gso_setting(b);
#ifdef DGB_CTRL_SET_GSO
	b->gso_before = DGB_get_gso(b->bio[PLUGIN][SEND]) == 1;
	if (DGB_set_gso(b->bio[PLUGIN_NOGSO][SEND], 0) != 1 ||
	    DGB_get_gso(b->bio[PLUGIN_NOGSO][SEND]) != 0)
		snprintf(b->unavailable[PLUGIN_NOGSO], sizeof(b->unavailable[0]),
			 "the module does not answer DGB_set_gso(b, 0) (it predates GSO)");
	else if (DGB_get_gso(b->bio[PLUGIN][SEND]) != b->gso_before)
		snprintf(b->unavailable[PLUGIN_NOGSO], sizeof(b->unavailable[0]),
			 "DGB_set_gso on one BIO changed another on the same socket");
	ERR_clear_error();
#else
	b->gso_before = 0;
	snprintf(b->unavailable[PLUGIN_NOGSO], sizeof(b->unavailable[0]),
		 "this build's dgrambatch.h has no DGB_set_gso");
#endif
}

/* Why the plugin row does not use GSO, for the report. */
static const char *why_no_gso(const struct bench *b)
{
	if (!b->gso_counted)
		return "the module predates GSO";
	if (strcmp(b->gso_setting, "off") == 0)
		return "gso = off in the provider's configuration";
	if (!dgb_cap_usable(DGB_CAP_UDP_SEGMENT))
		return "the kernel lacks UDP_SEGMENT, or DGRAMBATCH_CAPS_DISABLE says so";
	return "the module turned it off";
}

static int alloc_batches(struct bench *b)
{
	size_t n = b->o.batch;

	b->tx_data = calloc(n, b->o.size);
	b->rx_data = calloc(n, b->o.size);
	b->tx_len = calloc(n, sizeof(*b->tx_len));
	b->rx_peer = calloc(n, sizeof(*b->rx_peer));
	b->tx_msg = calloc(n, sizeof(*b->tx_msg));
	b->rx_msg = calloc(n, sizeof(*b->rx_msg));
	b->tx_mh = calloc(n, sizeof(*b->tx_mh));
	b->rx_mh = calloc(n, sizeof(*b->rx_mh));
	b->tx_iov = calloc(n, sizeof(*b->tx_iov));
	b->rx_iov = calloc(n, sizeof(*b->rx_iov));
	b->rx_name = calloc(n, sizeof(*b->rx_name));
	b->gso_mh = calloc(n, sizeof(*b->gso_mh));
	b->gso_ctl = calloc(n, sizeof(*b->gso_ctl));
	b->gso_segs = calloc(n, sizeof(*b->gso_segs));
	b->gso_bytes = calloc(n, sizeof(*b->gso_bytes));
	if (b->tx_data == NULL || b->rx_data == NULL || b->tx_len == NULL ||
	    b->rx_peer == NULL || b->tx_msg == NULL || b->rx_msg == NULL || b->tx_mh == NULL ||
	    b->rx_mh == NULL || b->tx_iov == NULL || b->rx_iov == NULL || b->rx_name == NULL ||
	    b->gso_mh == NULL || b->gso_ctl == NULL || b->gso_segs == NULL ||
	    b->gso_bytes == NULL) {
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

/*
 * The raw-gso row's entries: the groups the module's contract makes of the
 * batch (consecutive datagrams of one length, the last of a group may be
 * shorter, at most GSO_MAX_SEGMENTS and GSO_MAX_BYTES), each one entry over
 * the datagrams' own iovecs, with a UDP_SEGMENT message when it has two
 * datagrams or more.
 */
static void group_batch(struct bench *b)
{
	size_t i = 0, n = b->o.batch;

	b->gso_n = 0;
	while (i < n) {
		size_t seg = b->tx_len[i], count = 1, bytes = seg, e = b->gso_n++;
		struct msghdr *h = &b->gso_mh[e].msg_hdr;

		while (i + count < n && count < GSO_MAX_SEGMENTS && b->tx_len[i + count] <= seg &&
		       bytes + b->tx_len[i + count] <= GSO_MAX_BYTES) {
			size_t len = b->tx_len[i + count++];

			bytes += len;
			if (len < seg)
				break;
		}
		h->msg_name = &b->sink_addr;
		h->msg_namelen = sizeof(b->sink_addr);
		h->msg_iov = &b->tx_iov[i];
		h->msg_iovlen = count;
		if (count > 1) {
			struct cmsghdr *c;
			uint16_t s = (uint16_t)seg;

			h->msg_control = b->gso_ctl[e].buf;
			h->msg_controllen = sizeof(b->gso_ctl[e].buf);
			c = CMSG_FIRSTHDR(h);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(s));
			memcpy(CMSG_DATA(c), &s, sizeof(s));
		}
		b->gso_segs[e] = count;
		b->gso_bytes[e] = bytes;
		i += count;
	}
}

/* The messages every implementation uses; data_len is set before each call. */
static void fill_batches(struct bench *b)
{
	size_t size = b->o.size;

	for (size_t i = 0; i < b->o.batch * size; i++)
		b->tx_data[i] = (unsigned char)(i * 31 + 7);
	b->tx_bytes = 0;
	for (size_t i = 0; i < b->o.batch; i++) {
		struct msghdr *tx = &b->tx_mh[i].msg_hdr, *rx = &b->rx_mh[i].msg_hdr;
		int small = b->o.mixed && i % MIXED_EVERY == MIXED_EVERY - 1;

		b->tx_len[i] = small && size > MIXED_SMALL ? MIXED_SMALL : size;
		b->tx_bytes += b->tx_len[i];
		b->tx_msg[i].data = b->tx_data + i * size;
		b->tx_msg[i].peer = b->sink_peer;
		b->rx_msg[i].data = b->rx_data + i * size;
		b->rx_msg[i].peer = b->rx_peer[i];

		b->tx_iov[i].iov_base = b->tx_data + i * size;
		b->tx_iov[i].iov_len = b->tx_len[i];
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
	group_batch(b);
}

static int transient_errno(int err);

/*
 * Whether the kernel takes the raw-gso row's segmented sends: one is sent
 * to the sink (which is emptied before it is timed).  A refusal that means
 * "not with segmentation" makes the row unavailable; anything else fails.
 */
static int try_raw_gso(struct bench *b)
{
	double start = now();
	size_t e;

	for (e = 0; e < b->gso_n && b->gso_segs[e] < 2; e++)
		;
	if (e == b->gso_n)
		return 1; /* no group of two: the row is plain sends */
	for (;;) {
		ssize_t r = sendmsg(b->tx_fd, &b->gso_mh[e].msg_hdr, 0);

		if (r >= 0)
			return 1;
		if (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT ||
		    errno == EOPNOTSUPP || errno == EMSGSIZE) {
			snprintf(b->unavailable[RAW_GSO], sizeof(b->unavailable[0]),
				 "the kernel refuses UDP_SEGMENT sends (%s)", strerror(errno));
			return 1;
		}
		if (!transient_errno(errno) || now() - start > STALL_SECONDS)
			return sys_failed("a segmented send (sendmsg with UDP_SEGMENT)");
	}
}

/*
 * What each row calls: the running libcrypto's batched calls where it has
 * them (3.2+), and the module's own control before.
 */
static void name_calls(struct bench *b)
{
	int native = b->native[SEND] != NULL;
	const char *mod_send = native ? "DGB_sendmmsg = BIO_sendmmsg, module BIO"
				      : "DGB_sendmmsg via module ctrl";
	const char *mod_recv = native ? "DGB_recvmmsg = BIO_recvmmsg, module BIO"
				      : "DGB_recvmmsg via module ctrl";
	size_t segmented = 0;

	for (size_t e = 0; e < b->gso_n; e++)
		segmented += b->gso_segs[e] > 1;

#define CALL(i, d, ...) snprintf(b->call[i][d], sizeof(b->call[i][d]), __VA_ARGS__)
	CALL(PLUGIN, SEND, "%s, %s", mod_send, b->gso_before ? "GSO" : "no GSO");
	CALL(PLUGIN, RECV, "%s", mod_recv);
	CALL(PLUGIN_NOGSO, SEND, "%s, GSO off", mod_send);
	CALL(OPENSSL, SEND, "%s", native ? "BIO_sendmmsg, BIO_s_datagram"
					 : "BIO_write loop, BIO_s_datagram");
	CALL(OPENSSL, RECV, "%s", native ? "BIO_recvmmsg, BIO_s_datagram"
					 : "BIO_read loop, BIO_s_datagram");
	CALL(RAW, SEND, "sendmmsg(2)");
	CALL(RAW, RECV, "recvmmsg(2)");
	if (b->gso_n == 1)
		CALL(RAW_GSO, SEND, "sendmsg(2)%s", b->gso_segs[0] > 1 ? " + UDP_SEGMENT" : "");
	else if (segmented == b->gso_n)
		CALL(RAW_GSO, SEND, "sendmmsg(2), %zu UDP_SEGMENT sends", segmented);
	else
		CALL(RAW_GSO, SEND, "sendmmsg(2), %zu UDP_SEGMENT + %zu single", segmented,
		     b->gso_n - segmented);
#undef CALL
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
	read_route_mtu(b);
	if (!make_addr(&b->sink_peer, &b->sink_addr))
		return ssl_failed("cannot make the sink's address");
	if (!alloc_batches(b) || !make_bios(b))
		return 0;
	fill_batches(b);
	if (!read_counts(b, &b->before))
		return 0;
	set_module_gso(b);
	name_calls(b);
	return try_raw_gso(b);
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
	free(b->tx_len);
	free(b->rx_peer);
	free(b->tx_msg);
	free(b->rx_msg);
	free(b->tx_mh);
	free(b->rx_mh);
	free(b->tx_iov);
	free(b->rx_iov);
	free(b->rx_name);
	free(b->gso_mh);
	free(b->gso_ctl);
	free(b->gso_segs);
	free(b->gso_bytes);
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

/* A raw call that failed: the errno is the whole story. */
static enum outcome classify_sys(int err)
{
	if (transient_errno(err))
		return AGAIN;
	fprintf(stderr, "%s: bench: %s\n", progname, err != 0 ? strerror(err) : "nothing sent");
	return FAILED;
}

static enum outcome wrong_length(const char *what, size_t i, size_t len, size_t want)
{
	fprintf(stderr, "%s: bench: %s %zu of the batch moved %zu bytes, not %zu\n", progname,
		what, i, len, want);
	return FAILED;
}

/* want: each message's length, or NULL for o.size each. */
static enum outcome check_msgs(const DGB_MSG *m, size_t n, const size_t *want, size_t size)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].data_len != (want != NULL ? want[i] : size))
			return wrong_length("datagram", i, m[i].data_len,
					    want != NULL ? want[i] : size);
	return MOVED;
}

static enum outcome check_mmsgs(const struct mmsghdr *mh, size_t n, const size_t *want,
				size_t size)
{
	for (size_t i = 0; i < n; i++)
		if (mh[i].msg_len != (want != NULL ? want[i] : size))
			return wrong_length("datagram", i, mh[i].msg_len,
					    want != NULL ? want[i] : size);
	return MOVED;
}

/* The batched calls overwrite data_len with what moved: reset it each time. */
static void reset_msgs(DGB_MSG *m, size_t n, const size_t *len, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		m[i].data_len = len != NULL ? len[i] : size;
		m[i].flags = 0;
	}
}

static enum outcome module_send(struct bench *b, BIO *bio, size_t n, size_t *done)
{
	int ok, err;

	reset_msgs(b->tx_msg, n, b->tx_len, 0);
	errno = 0;
	ok = DGB_sendmmsg(bio, b->tx_msg, sizeof(DGB_MSG), n, 0, done);
	err = errno;
	return ok ? check_msgs(b->tx_msg, *done, b->tx_len, 0) : classify(err);
}

static enum outcome plugin_send(struct bench *b, size_t n, size_t *done)
{
	return module_send(b, b->bio[PLUGIN][SEND], n, done);
}

static enum outcome plugin_nogso_send(struct bench *b, size_t n, size_t *done)
{
	return module_send(b, b->bio[PLUGIN_NOGSO][SEND], n, done);
}

static enum outcome plugin_recv(struct bench *b, size_t n, size_t *done)
{
	int ok, err;

	reset_msgs(b->rx_msg, n, NULL, b->o.size);
	errno = 0;
	ok = DGB_recvmmsg(b->bio[PLUGIN][RECV], b->rx_msg, sizeof(DGB_MSG), n, 0, done);
	err = errno;
	return ok ? check_msgs(b->rx_msg, *done, NULL, b->o.size) : classify(err);
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
		r = BIO_write(bio, b->tx_msg[i].data, (int)b->tx_len[i]);
		err = errno;
		if (r < 0 && i > 0)
			break;
		if (r < 0)
			return classify(err);
		if ((size_t)r != b->tx_len[i])
			return wrong_length("datagram", i, (size_t)r, b->tx_len[i]);
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
			return wrong_length("datagram", i, (size_t)r, b->o.size);
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
	reset_msgs(b->tx_msg, n, b->tx_len, 0);
	errno = 0;
	ok = b->native[SEND](b->bio[OPENSSL][SEND], b->tx_msg, sizeof(DGB_MSG), n, 0, done);
	err = errno;
	return ok ? check_msgs(b->tx_msg, *done, b->tx_len, 0) : classify(err);
}

static enum outcome openssl_recv(struct bench *b, size_t n, size_t *done)
{
	int ok, err;

	if (b->native[RECV] == NULL)
		return openssl_recv_loop(b, n, done);
	reset_msgs(b->rx_msg, n, NULL, b->o.size);
	errno = 0;
	ok = b->native[RECV](b->bio[OPENSSL][RECV], b->rx_msg, sizeof(DGB_MSG), n, 0, done);
	err = errno;
	return ok ? check_msgs(b->rx_msg, *done, NULL, b->o.size) : classify(err);
}

static enum outcome raw_send(struct bench *b, size_t n, size_t *done)
{
	int r = sendmmsg(b->tx_fd, b->tx_mh, (unsigned int)n, 0);

	if (r <= 0)
		return classify_sys(r < 0 ? errno : 0);
	*done = (size_t)r;
	return check_mmsgs(b->tx_mh, *done, b->tx_len, 0);
}

/*
 * The whole batch (send calls always offer all of it) in its segmented
 * groups: sendmsg(2) for one group, else one sendmmsg(2) of them all.
 */
static enum outcome raw_gso_send(struct bench *b, size_t n, size_t *done)
{
	int r;

	if (n != b->o.batch) {
		fprintf(stderr, "%s: bench: raw-gso sends whole batches only\n", progname);
		return FAILED;
	}
	if (b->gso_n == 1) {
		ssize_t w = sendmsg(b->tx_fd, &b->gso_mh[0].msg_hdr, 0);

		if (w < 0)
			return classify_sys(errno);
		if ((size_t)w != b->gso_bytes[0])
			return wrong_length("segmented send", 0, (size_t)w, b->gso_bytes[0]);
		*done = b->gso_segs[0];
		return MOVED;
	}
	r = sendmmsg(b->tx_fd, b->gso_mh, (unsigned int)b->gso_n, 0);
	if (r <= 0)
		return classify_sys(r < 0 ? errno : 0);
	for (int e = 0; e < r; e++) {
		if (b->gso_mh[e].msg_len != b->gso_bytes[e])
			return wrong_length("segmented send", (size_t)e, b->gso_mh[e].msg_len,
					    b->gso_bytes[e]);
		*done += b->gso_segs[e];
	}
	return MOVED;
}

static enum outcome raw_recv(struct bench *b, size_t n, size_t *done)
{
	int r;

	/* The kernel shortens msg_namelen to the address it wrote. */
	for (size_t i = 0; i < n; i++)
		b->rx_mh[i].msg_hdr.msg_namelen = sizeof(b->rx_name[i]);
	r = recvmmsg(b->rx_fd, b->rx_mh, (unsigned int)n, 0, NULL);
	if (r <= 0)
		return classify_sys(r < 0 ? errno : 0);
	*done = (size_t)r;
	return check_mmsgs(b->rx_mh, *done, NULL, b->o.size);
}

static const batch_fn batch_call[NIMPL][NDIR] = {
	[PLUGIN] = { plugin_send, plugin_recv },
	[PLUGIN_NOGSO] = { plugin_nogso_send, NULL },
	[OPENSSL] = { openssl_send, openssl_recv },
	[RAW] = { raw_send, raw_recv },
	[RAW_GSO] = { raw_gso_send, NULL },
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

/* --- the send path's sink ------------------------------------------------ */

/* The datagrams the sink dropped for want of room, since it was opened. */
static int sink_drops(struct bench *b, uint32_t *drops)
{
	uint32_t info[SK_MEMINFO_VARS];
	socklen_t len = sizeof(info);

	if (getsockopt(b->sink_fd, SOL_SOCKET, SO_MEMINFO, info, &len) != 0 ||
	    len <= SK_MEMINFO_DROPS * sizeof(info[0]))
		return 0;
	*drops = info[SK_MEMINFO_DROPS];
	return 1;
}

/* Read the sink until it is empty, counting what was there. */
static int read_sink(struct bench *b, uint64_t *got)
{
	for (;;) {
		int r;

		for (size_t i = 0; i < b->o.batch; i++)
			b->rx_mh[i].msg_hdr.msg_namelen = sizeof(b->rx_name[i]);
		r = recvmmsg(b->sink_fd, b->rx_mh, (unsigned int)b->o.batch, MSG_DONTWAIT, NULL);
		if (r > 0) {
			*got += (size_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		return sys_failed("reading the send path's sink");
	}
}

/*
 * Empty the sink and take its drop count: before a send sample, so that
 * afterwards what it holds and what it dropped are the sample's.  Reads
 * until a pass SETTLE_MICROSECONDS after the last one finds nothing new,
 * so that datagrams the kernel delivers a little after the send returned
 * are not missed.
 */
static int settle_sink(struct bench *b, uint64_t *got, uint32_t *drops)
{
	uint64_t seen = *got;
	uint32_t d0 = 0;

	for (int pass = 0; pass < SETTLE_PASSES_MAX; pass++) {
		if (!read_sink(b, got))
			return 0;
		if (b->sink_counted && !sink_drops(b, drops))
			b->sink_counted = 0;
		if (pass > 0 && *got == seen && (!b->sink_counted || *drops == d0))
			return 1;
		seen = *got;
		d0 = *drops;
		usleep(SETTLE_MICROSECONDS);
	}
	return 1;
}

/*
 * After a send sample: every datagram sent must be in the sink or among
 * its drops.  A shortfall was lost on the way (a full backlog queue, say),
 * and the rate counts datagrams the receive path never saw; a surplus came
 * from elsewhere (the raw-gso try before the first sample).
 */
static int account_sink(struct bench *b, enum impl i, uint64_t sent, uint32_t drops0)
{
	struct tally *t = &b->tally[i][SEND];
	uint64_t got = 0, arrived;
	uint32_t drops1 = drops0;

	if (!settle_sink(b, &got, &drops1))
		return 0;
	t->sink_read += got;
	if (!b->sink_counted)
		return 1;
	t->sink_dropped += (uint32_t)(drops1 - drops0);
	arrived = got + (uint32_t)(drops1 - drops0);
	if (arrived < sent)
		t->sink_lost += sent - arrived;
	else
		t->sink_extra += arrived - sent;
	return 1;
}

/* --- samples and rounds -------------------------------------------------- */

/* Send batches through implementation i for `seconds`; datagrams/s to *rate. */
static int send_sample(struct bench *b, enum impl i, double seconds, double *rate,
		       uint64_t *moved)
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
	*moved = sent;
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

/*
 * One sample of implementation i on path d, with the module's counters
 * read around it (and on the send path the sink emptied before and
 * accounted for after), none of which is timed.
 */
static int sample(struct bench *b, enum impl i, enum dir d, double seconds, double *rate)
{
	struct module_counts c0, c1;
	uint64_t sent = 0, ignored = 0;
	uint32_t drops0 = 0;

	if (d == SEND && !settle_sink(b, &ignored, &drops0))
		return 0;
	if (!read_counts(b, &c0))
		return 0;
	if (d == SEND ? !send_sample(b, i, seconds, rate, &sent)
		      : !recv_sample(b, i, seconds, rate))
		return 0;
	if (!read_counts(b, &c1))
		return 0;
	counts_add(&b->tally[i][d].mod, &c1, &c0);
	return d == RECV || account_sink(b, i, sent, drops0);
}

/* Every implementation once on path d, in turn; round < 0 is a warm-up. */
static int run_round(struct bench *b, enum dir d, double seconds, int round)
{
	for (int i = 0; i < NIMPL; i++) {
		double rate = 0;

		if (!runs(b, (enum impl)i, d))
			continue;
		if (!sample(b, (enum impl)i, d, seconds, &rate))
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
 * The module counts what its BIOs moved.  Each row's samples must show
 * exactly what the row moved when it is a module row and nothing when it
 * is not, or the rows measured something else.
 */
static int counts_agree(const struct bench *b)
{
	int ok = 1;

	for (int d = 0; d < NDIR; d++)
		for (int i = 0; i < NIMPL; i++) {
			const struct tally *t = &b->tally[i][d];
			uint64_t want = is_module((enum impl)i) ? t->datagrams : 0;
			uint64_t got = d == SEND ? t->mod.tx : t->mod.rx;
			uint64_t other = d == SEND ? t->mod.rx : t->mod.tx;

			if (!runs(b, (enum impl)i, (enum dir)d) || (got == want && other == 0))
				continue;
			fprintf(stderr,
				"%s: bench: the module counted %" PRIu64 " datagrams %s and "
				"%" PRIu64 " %s while the %s %s row moved %" PRIu64 " through %s\n",
				progname, got, d == SEND ? "sent" : "received", other,
				d == SEND ? "received" : "sent", impl_key[i], dir_key[d],
				t->datagrams, is_module((enum impl)i) ? "it" : "something else");
			ok = 0;
		}
	return ok;
}

static int run(struct bench *b)
{
	if (!measure_queue(b))
		return 0;
	/* Without SO_MEMINFO the sink's drops are not known. */
	{
		uint32_t drops;

		b->sink_counted = sink_drops(b, &drops);
	}
	if (!run_path(b, SEND) || !run_path(b, RECV))
		return 0;
#ifdef DGB_CTRL_GET_GSO
	b->gso_after = DGB_get_gso(b->bio[PLUGIN][SEND]) == 1;
	ERR_clear_error();
#endif
	return read_counts(b, &b->after) && counts_agree(b);
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

/* Payload bytes per datagram on path d (a mean with --mixed). */
static double bytes_per_datagram(const struct bench *b, enum dir d)
{
	return d == SEND ? (double)b->tx_bytes / (double)b->o.batch : (double)b->o.size;
}

static double gbits(const struct bench *b, enum dir d, double rate)
{
	return rate * bytes_per_datagram(b, d) * 8 / 1e9;
}

/* The plugin row over row `over` on path d; 0 when `over` did not run. */
static double ratio(const struct bench *b, enum dir d, enum impl over)
{
	if (!runs(b, over, d) || !runs(b, PLUGIN, d))
		return 0;
	return median(b->tally[PLUGIN][d].rate) / median(b->tally[over][d].rate);
}

/*
 * The figures the module aims at, where the run's shape is the one they
 * are stated for.  They are shown, never enforced: the exit status is
 * about errors only.
 */
struct target {
	const char *what;
	enum dir d;
	enum impl over;
	double want;
};

#define MAX_TARGETS 4

static size_t targets(const struct bench *b, struct target *t)
{
	size_t n = 0;

	if (b->o.size == 1200 && b->o.batch == 32 && !b->o.mixed) {
		if (b->native[SEND] != NULL)
			t[n++] = (struct target){ "module BIO_sendmmsg vs OpenSSL's BIO_sendmmsg",
						  SEND, OPENSSL, 4.0 };
		else
			t[n++] = (struct target){ "DGB_sendmmsg vs OpenSSL's BIO_write loop", SEND,
						  OPENSSL, 5.0 };
		t[n++] = (struct target){ "module vs raw sendmsg + UDP_SEGMENT", SEND, RAW_GSO,
					  0.9 };
	}
	if (b->o.batch == 1) {
		t[n++] = (struct target){ "batch of 1: module send vs OpenSSL's", SEND, OPENSSL,
					  0.97 };
		t[n++] = (struct target){ "batch of 1: module receive vs OpenSSL's", RECV, OPENSSL,
					  0.97 };
	}
	if (b->o.mixed)
		t[n++] = (struct target){ "mixed batch: module GSO vs GSO off", SEND,
					  PLUGIN_NOGSO, 1.0 };
	return n;
}

static const char *sink_note(const struct bench *b)
{
	if (!b->sink_counted)
		return "not counted (no SO_MEMINFO)";
	for (int i = 0; i < NIMPL; i++)
		if (b->tally[i][SEND].sink_lost > 0)
			return "SOME LOST on the way: those rows' rates are too high";
	return "every datagram sent reached it";
}

static void print_module_row(const struct bench *b, enum impl i, enum dir d)
{
	const struct module_counts *m = &b->tally[i][d].mod;
	uint64_t dg = d == SEND ? m->tx : m->rx, calls = d == SEND ? m->txc : m->rxc;

	printf("%-4s  %-14s  %12" PRIu64 " datagrams in %10" PRIu64 " syscalls (%6.2f each)",
	       dir_key[d], impl_key[i], dg, calls, calls > 0 ? (double)dg / (double)calls : 0.0);
	if (d == SEND && b->gso_counted)
		printf(", %" PRIu64 " in %" PRIu64 " GSO sends (%.1f%%)", m->gso_segments,
		       m->gso_sends, dg > 0 ? 100.0 * (double)m->gso_segments / (double)dg : 0.0);
	printf("\n");
}

/* A column of the ratio table: "-" where the row does not run. */
static void print_ratio(const struct bench *b, enum dir d, enum impl over)
{
	if (runs(b, over, d))
		printf("  %14.3f", ratio(b, d, over));
	else
		printf("  %14s", "-");
}

static void print_text(const struct bench *b)
{
	uint64_t sink_read = 0, sink_dropped = 0;
	struct target t[MAX_TARGETS];
	size_t nt = targets(b, t);

	printf("dgrambatch bench: %zu-byte datagrams in batches of %zu on 127.0.0.1\n", b->o.size,
	       b->o.batch);
	if (b->o.mixed && b->o.size > MIXED_SMALL)
		printf("send batches mixed: every %dth datagram %d bytes (%.0f bytes on average); "
		       "receive: all %zu\n",
		       MIXED_EVERY, MIXED_SMALL, bytes_per_datagram(b, SEND), b->o.size);
	else if (b->o.mixed)
		printf("send batches mixed: nothing to mix, no datagram is longer than %d bytes\n",
		       MIXED_SMALL);
	printf("OpenSSL %s (built with %s)\n", OpenSSL_version(OPENSSL_VERSION_STRING),
	       OPENSSL_VERSION_TEXT);
	printf("median of %d rounds of %.2f s per implementation, interleaved within each path\n",
	       ROUNDS, b->o.seconds);
	printf("module GSO: gso = %s; the plugin row's BIO %s", b->gso_setting,
	       b->gso_before ? "uses it" : "does not use it");
	if (!b->gso_before)
		printf(" (%s)", why_no_gso(b));
	else if (!b->gso_after)
		printf(", BUT IT WAS TURNED OFF DURING THE RUN");
	printf("\n");
	for (int i = 0; i < NIMPL; i++) {
		sink_read += b->tally[i][SEND].sink_read;
		sink_dropped += b->tally[i][SEND].sink_dropped;
	}
	printf("send: to a socket not read while timed (no reader keeps up with segmented sends, "
	       "so the rates are the sender's);\n      %s (%" PRIu64 " datagrams read after the "
	       "samples, %" PRIu64 " dropped there for want of room)\n",
	       sink_note(b), sink_read, sink_dropped);
	if (route_too_small(b))
		printf("WARNING: the route to 127.0.0.1 has a path MTU of %d (cached after an ICMP "
		       "\"fragmentation needed\";\n         see ip route get 127.0.0.1): %zu-byte "
		       "datagrams are fragmented and segmented sends refused,\n         so these "
		       "figures are not loopback's own\n",
		       b->route_mtu, b->o.size);
	printf("receive: %zu datagrams queued per drain, SO_RCVBUF %d bytes (%s)\n\n", b->queued,
	       b->rcvbuf, b->rcvbuf_forced ? "SO_RCVBUFFORCE" : "capped by net.core.rmem_max");
	printf("%-4s  %-14s  %-48s %13s %9s %7s %10s\n", "path", "impl", "call", "datagrams/s",
	       "Gbit/s", "spread", "transient");
	for (int d = 0; d < NDIR; d++) {
		for (int i = 0; i < NIMPL; i++) {
			const struct tally *tl = &b->tally[i][d];
			double m = median(tl->rate);

			if (!on_path((enum impl)i, (enum dir)d))
				continue;
			if (!available(b, (enum impl)i)) {
				printf("%-4s  %-14s  %-48s unavailable: %s\n", dir_key[d],
				       impl_key[i], b->call[i][d], b->unavailable[i]);
				continue;
			}
			printf("%-4s  %-14s  %-48s %13.0f %9.3f %6.1f%% %10" PRIu64 "\n",
			       dir_key[d], impl_key[i], b->call[i][d], m, gbits(b, d, m),
			       100 * spread(tl->rate), tl->transient);
		}
	}
	printf("\n%-4s  %14s  %10s  %14s  %14s\n", "path", "plugin/openssl", "plugin/raw",
	       "plugin/raw-gso", "plugin/gso-off");
	for (int d = 0; d < NDIR; d++) {
		printf("%-4s  %14.3f  %10.3f", dir_key[d], ratio(b, d, OPENSSL), ratio(b, d, RAW));
		print_ratio(b, (enum dir)d, RAW_GSO);
		print_ratio(b, (enum dir)d, PLUGIN_NOGSO);
		printf("\n");
	}
	if (nt > 0) {
		printf("\ntargets\n");
		for (size_t k = 0; k < nt; k++) {
			double r = ratio(b, t[k].d, t[k].over);

			if (r > 0)
				printf("  %-48s >= %.2f: %.3f  %s\n", t[k].what, t[k].want, r,
				       r >= t[k].want ? "met" : "MISSED");
			else
				printf("  %-48s >= %.2f: -  (%s row unavailable)\n", t[k].what,
				       t[k].want, impl_key[t[k].over]);
		}
	}
	printf("\nmodule counters per row (they agree with the rows; the other rows moved nothing "
	       "through the module)\n");
	for (int d = 0; d < NDIR; d++)
		for (int i = 0; i < NIMPL; i++)
			if (is_module((enum impl)i) && runs(b, (enum impl)i, (enum dir)d))
				print_module_row(b, (enum impl)i, (enum dir)d);
	printf("unbatched batches %" PRIu64 ", GSO fallbacks %" PRIu64 "\n",
	       b->after.fallback - b->before.fallback,
	       b->after.gso_fallbacks - b->before.gso_fallbacks);
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

/* A ratio, or null when a row did not run. */
static void json_ratio(const char *key, double r, const char *after)
{
	if (r > 0)
		printf("\"%s\": %.4f%s", key, r, after);
	else
		printf("\"%s\": null%s", key, after);
}

static void json_impl(const struct bench *b, enum impl i, enum dir d)
{
	const struct tally *t = &b->tally[i][d];
	double m = median(t->rate);

	printf("    \"%s\": { \"call\": ", impl_json[i]);
	json_string(b->call[i][d]);
	if (!available(b, i)) {
		printf(", \"unavailable\": ");
		json_string(b->unavailable[i]);
		printf(" },\n");
		return;
	}
	printf(", \"datagrams_per_second\": %.0f, \"gbit_per_second\": %.4f, "
	       "\"spread\": %.4f, \"transient\": %" PRIu64 ", \"samples\": [",
	       m, gbits(b, d, m), spread(t->rate), t->transient);
	for (int r = 0; r < ROUNDS; r++)
		printf("%s%.0f", r ? ", " : "", t->rate[r]);
	printf("], \"datagrams\": %" PRIu64, t->datagrams);
	if (is_module(i))
		printf(", \"module\": { \"datagrams\": %" PRIu64 ", \"syscalls\": %" PRIu64
		       ", \"gso_sends\": %" PRIu64 ", \"gso_segments\": %" PRIu64 " }",
		       d == SEND ? t->mod.tx : t->mod.rx, d == SEND ? t->mod.txc : t->mod.rxc,
		       t->mod.gso_sends, t->mod.gso_segments);
	if (d == SEND) {
		printf(", \"sink\": { \"read\": %" PRIu64 ", \"dropped\": ", t->sink_read);
		if (b->sink_counted)
			printf("%" PRIu64 ", \"lost\": %" PRIu64 " }", t->sink_dropped,
			       t->sink_lost);
		else
			printf("null, \"lost\": null }");
	}
	printf(" },\n");
}

static void print_json(const struct bench *b)
{
	struct target t[MAX_TARGETS];
	size_t nt = targets(b, t);

	printf("{\n  \"openssl\": { \"build\": ");
	json_string(OPENSSL_VERSION_TEXT);
	printf(", \"runtime\": ");
	json_string(OpenSSL_version(OPENSSL_VERSION));
	printf(", \"bio_sendmmsg\": %s },\n", b->native[SEND] != NULL ? "true" : "false");
	printf("  \"size\": %zu, \"batch\": %zu, \"mixed\": %s, \"send_bytes_per_datagram\": %.1f,"
	       " \"seconds\": %.3f, \"rounds\": %d,\n",
	       b->o.size, b->o.batch, b->o.mixed ? "true" : "false", bytes_per_datagram(b, SEND),
	       b->o.seconds, ROUNDS);
	printf("  \"rcvbuf\": %d, \"rcvbuf_forced\": %s, \"queued\": %zu,\n", b->rcvbuf,
	       b->rcvbuf_forced ? "true" : "false", b->queued);
	printf("  \"route_mtu\": %d, \"route_fragments\": %s,\n", b->route_mtu,
	       route_too_small(b) ? "true" : "false");
	printf("  \"gso\": { \"setting\": ");
	json_string(b->gso_setting);
	printf(", \"in_use\": %s, \"in_use_after\": %s },\n", b->gso_before ? "true" : "false",
	       b->gso_after ? "true" : "false");
	for (int d = 0; d < NDIR; d++) {
		printf("  \"%s\": {\n", dir_key[d]);
		for (int i = 0; i < NIMPL; i++)
			if (on_path((enum impl)i, (enum dir)d))
				json_impl(b, (enum impl)i, (enum dir)d);
		printf("    ");
		json_ratio("plugin_over_openssl", ratio(b, d, OPENSSL), ", ");
		if (d == SEND) {
			json_ratio("plugin_over_raw", ratio(b, d, RAW), ", ");
			json_ratio("plugin_over_raw_gso", ratio(b, d, RAW_GSO), ", ");
			json_ratio("plugin_over_plugin_gso_off", ratio(b, d, PLUGIN_NOGSO), "\n");
		} else {
			json_ratio("plugin_over_raw", ratio(b, d, RAW), "\n");
		}
		printf("  },\n");
	}
	printf("  \"targets\": [");
	for (size_t k = 0; k < nt; k++) {
		double r = ratio(b, t[k].d, t[k].over);

		printf("%s\n    { \"what\": ", k ? "," : "");
		json_string(t[k].what);
		printf(", \"path\": \"%s\", \"over\": \"%s\", \"want\": %.2f, ", dir_key[t[k].d],
		       impl_json[t[k].over], t[k].want);
		json_ratio("got", r, ", ");
		printf("\"met\": %s }", r > 0 ? (r >= t[k].want ? "true" : "false") : "null");
	}
	printf("%s],\n", nt ? "\n  " : "");
	printf("  \"sink_counted\": %s,\n", b->sink_counted ? "true" : "false");
	printf("  \"module\": { \"tx_datagrams\": %" PRIu64 ", \"tx_syscalls\": %" PRIu64
	       ", \"rx_datagrams\": %" PRIu64 ", \"rx_syscalls\": %" PRIu64
	       ", \"fallback_batches\": %" PRIu64 ", \"gso_counted\": %s, \"gso_sends\": %" PRIu64
	       ", \"gso_segments\": %" PRIu64 ", \"gso_fallbacks\": %" PRIu64 " }\n}\n",
	       b->after.tx - b->before.tx, b->after.txc - b->before.txc, b->after.rx - b->before.rx,
	       b->after.rxc - b->before.rxc, b->after.fallback - b->before.fallback,
	       b->gso_counted ? "true" : "false", b->after.gso_sends - b->before.gso_sends,
	       b->after.gso_segments - b->before.gso_segments,
	       b->after.gso_fallbacks - b->before.gso_fallbacks);
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
