/*
 * bench.c - `dgrambatch bench`: datagrams per second on loopback through
 * the module, OpenSSL's own datagram BIO and the raw system calls, side by
 * side in one run.  The rows:
 *
 *   plugin          the module's BIO, from the provider a config file
 *                   loads, with DGB_sendmmsg/DGB_recvmmsg
 *                   (BIO_sendmmsg/BIO_recvmmsg on 3.2+), as configured:
 *                   segmented sends (UDP GSO) where the kernel has them,
 *                   coalesced receives (UDP GRO) from the first batched
 *                   receive on; on the read path, BIO_read;
 *   plugin-gso-off  (send) a second module BIO with DGB_set_gso(b, 0);
 *   plugin-gro-off  (receive) a module BIO with DGB_set_gro(b, 0) before
 *                   its first receive;
 *   openssl         OpenSSL's BIO_s_datagram as it ships: BIO_sendmmsg/
 *                   BIO_recvmmsg where the running libcrypto has them
 *                   (3.2+), one BIO_write/BIO_read per datagram before;
 *                   on the read path, BIO_read;
 *   raw             sendmmsg(2)/recvmmsg(2) on the socket, one entry per
 *                   datagram;
 *   raw-gso         (send) the ceiling: the batch cut into the groups the
 *                   module makes (same length, the last may be shorter, at
 *                   most 64 datagrams and 65507 bytes), each group one
 *                   entry with a UDP_SEGMENT control message, all in one
 *                   sendmsg(2) (one group) or sendmmsg(2) call;
 *   raw-gro         (recv-gso) the ceiling: recvmsg(2) on a socket with
 *                   UDP_GRO into one 64 KB buffer, a train a call, counted
 *                   as its bytes over its segment size.
 *
 * The libcrypto the tool runs with decides, not the headers it was built
 * with: BIO_sendmmsg/BIO_recvmmsg are looked up by name at run time, so one
 * build measures what each libcrypto.so.3 from 3.0 to 3.5 does.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The send path and three receive paths are measured apart:
 *
 *   send      batched sends;
 *   recv      batched receives of datagrams sent one by one (sendmmsg):
 *             nothing to coalesce, so the cost of GRO where it cannot help;
 *   recv-gso  batched receives of trains sent with UDP_SEGMENT (every length
 *             from 32 to 64 datagrams, or as many as 65507 bytes hold, in
 *             turn): a socket with UDP_GRO gets each train whole, one
 *             without gets it cut into datagrams by the kernel on arrival;
 *   read      one BIO_read per datagram, datagrams sent one by one.
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
 * Receive: each receive row has a socket of its own, as that row's program
 * would leave it (UDP_GRO, and the module's SO_PEEK_OFF, on some and not on
 * others), and no other reader to upset the module's bookkeeping.  Its
 * buffer, enlarged to hold thousands of datagrams, is filled by the path's
 * sender with raw calls (not timed) and then drained through the
 * implementation under test (timed), again and again until the sample's
 * time is up: the receiver's queue is never empty while it is timed, and
 * the rate is the receiver's.  On loopback the kernel delivers within the
 * sending call, and any segmenting of trains for a socket without UDP_GRO
 * is done then too, in the (untimed) fill.  Every datagram must arrive at
 * its full length.  Fills hold three quarters of what the smallest of the
 * path's buffers took, so nothing should be dropped; what is (the socket's
 * drop count, SO_MEMINFO, says so) is reported as lost, and a row's rate
 * counts only what it delivered.
 *
 * The send rounds come first, then the receive rounds.  Within each, the
 * implementations take turns (plugin, plugin-gso-off, openssl, raw,
 * raw-gso, plugin, ...; on receive every row of the three paths) so that
 * noise on a shared machine falls on all of them alike, and each one's
 * median over the rounds is reported.  They do the same work: every
 * datagram sent names its destination, every datagram received reports its
 * sender (but on the read path, where neither BIO_read does).  The module's
 * counters are read around every sample: the module rows must account for
 * exactly what they moved, and the other rows for nothing.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
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
#ifndef UDP_GRO
#define UDP_GRO 104
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
 * The recv-gso path's trains: every length from TRAIN_MIN to
 * GSO_MAX_SEGMENTS datagrams in turn, as far as GSO_MAX_BYTES allows (32 to
 * 54 of 1200 bytes); one train as long as the largest a kernel coalesces
 * is what a GRO reader's buffer must hold.
 */
#define TRAIN_MIN 32
#define GRO_BUFFER 65536
/* Trains per sendmmsg call while filling: fills are not timed. */
#define TRAIN_FILL 16
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
 * How long a drain's calls may find the socket readable and deliver
 * nothing; how long an empty socket is watched (not timed) for datagrams
 * that come late before the rest of a fill counts as lost.  Loopback
 * delivers within the sending call, so none should come late.
 */
#define STALL_SECONDS 1.0
#define LATE_MILLISECONDS 20
/*
 * After a send sample, the sink is read until a pass this long after the
 * last finds nothing new: datagrams that the kernel's softirq thread
 * delivers a little later are still counted.
 */
#define SETTLE_MICROSECONDS 2000
#define SETTLE_PASSES_MAX 500

enum impl { PLUGIN, PLUGIN_NOGSO, PLUGIN_NOGRO, OPENSSL, RAW, RAW_GSO, RAW_GRO, NIMPL };
enum dir { SEND, RECV, RECV_GSO, READ, NDIR };

/* The paths run in two groups, each after its own warm-up (see run_paths). */
#define FIRST_RECV RECV

/*
 * Each group starts with an unreported warm-up round, seconds per row: it
 * faults in buffers and code, and on the receive paths it gives the
 * kernel's memory time to settle (see run_paths).
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
	uint64_t gro_receives, gro_segments, gro_carried, rx_drops, rx_truncated;
};

/* What one implementation did on one path over the whole run. */
struct tally {
	double rate[ROUNDS];   /* datagrams per second, per round */
	uint64_t datagrams;    /* moved (received: delivered), warm-up included */
	uint64_t transient;    /* calls that moved nothing and were repeated */
	uint64_t syscalls;     /* the raw receive rows' system calls */
	struct module_counts mod; /* what the module counted meanwhile */
	/* Send: the sink's account of the datagrams sent. */
	uint64_t sink_read, sink_dropped, sink_lost, sink_extra;
	/* Receive: datagrams filled and never delivered; the socket's drops. */
	uint64_t lost, kernel_drops;
};

/* A receive row's own socket. */
struct rx_sock {
	int fd; /* -1 where the row does not run */
	struct sockaddr_in addr;
};

struct bench {
	struct options o;
	OSSL_LIB_CTX *libctx;
	OSSL_PROVIDER *prov;
	int tx_fd;	/* sends, and fills the receive rows' sockets */
	int sink_fd;	/* the send path's destination, not read while timed */
	struct sockaddr_in sink_addr;
	struct rx_sock rx[NIMPL][NDIR]; /* receive paths: each row's socket */
	int rcvbuf;	/* the receive rows' smallest SO_RCVBUF, as the kernel reports it */
	int rcvbuf_forced;
	size_t queued[NDIR]; /* datagrams per fill, on each receive path */
	BIO *bio[NIMPL][NDIR]; /* module and OpenSSL rows only */

	/* Which rows run, and why a row that would does not. */
	char unavailable[NIMPL][NDIR][160];
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
	/* The plain fill's batch: every message carries tx_data[0..size). */
	struct mmsghdr fill_mh[FILL_BATCH];
	struct iovec fill_iov;
	/* The trains' fill: entries over train_data, each with UDP_SEGMENT. */
	size_t train_min, train_max; /* datagrams per train */
	unsigned char *train_data;   /* train_max datagrams */
	struct mmsghdr train_mh[TRAIN_FILL];
	struct iovec train_iov[TRAIN_FILL];
	union gso_ctl train_ctl[TRAIN_FILL];
	/* The raw-gro row's buffer, and counting what a queue holds. */
	unsigned char *gro_data; /* GRO_BUFFER bytes */
	struct sockaddr_in gro_name;
	union gro_ctl {
		struct cmsghdr align;
		unsigned char buf[CMSG_SPACE(sizeof(int))];
	} gro_ctl;

	/* The running libcrypto's BIO_sendmmsg/BIO_recvmmsg, NULL before 3.2. */
	dgb_mmsg_fn_ *native[2]; /* [SEND], [RECV] */

	/* The module's GSO: its setting, and whether the plugin row uses it. */
	char gso_setting[16];
	int gso_counted;     /* the module reports the GSO counters */
	int gso_before, gso_after; /* DGB_get_gso on the plugin send BIO */
	/* The module's GRO: its setting, and whether the plugin rows use it. */
	char gro_setting[16];
	int gro_counted;     /* the module reports the GRO counters */
	int gro_on[NDIR], gro_after[NDIR]; /* DGB_get_gro on the plugin BIOs */
	int sink_counted;    /* SO_MEMINFO gives the sink's drops */
	int route_mtu;	     /* the path MTU to the sink, -1 if unknown */

	struct tally tally[NIMPL][NDIR];
	struct module_counts before, after;
};

typedef enum outcome (*batch_fn)(struct bench *b, enum dir d, size_t n, size_t *done);

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

/* The rows' and paths' names in the text report and as JSON keys. */
static const char *const impl_key[NIMPL] = { "plugin", "plugin-gso-off", "plugin-gro-off",
					     "openssl", "raw", "raw-gso", "raw-gro" };
static const char *const impl_json[NIMPL] = { "plugin", "plugin_gso_off", "plugin_gro_off",
					      "openssl", "raw", "raw_gso", "raw_gro" };
static const char *const dir_key[NDIR] = { "send", "recv", "recv-gso", "read" };
static const char *const dir_json[NDIR] = { "send", "recv", "recv_gso", "read" };

static int is_recv(enum dir d)
{
	return d != SEND;
}

/*
 * The GSO rows are about sending, the GRO rows about receiving batches;
 * raw-gro only has trains to take on recv-gso, and the read path compares
 * the two BIOs' BIO_read.
 */
static int on_path(enum impl i, enum dir d)
{
	switch (d) {
	case SEND:
		return i != PLUGIN_NOGRO && i != RAW_GRO;
	case RECV:
		return i == PLUGIN || i == PLUGIN_NOGRO || i == OPENSSL || i == RAW;
	case RECV_GSO:
		return i != PLUGIN_NOGSO && i != RAW_GSO;
	case READ:
		return i == PLUGIN || i == OPENSSL;
	default:
		return 0;
	}
}

static int available(const struct bench *b, enum impl i, enum dir d)
{
	return b->unavailable[i][d][0] == '\0';
}

/* Rows that run on path d. */
static int runs(const struct bench *b, enum impl i, enum dir d)
{
	return on_path(i, d) && available(b, i, d);
}

/* The module's rows: the module's counters must account for them. */
static int is_module(enum impl i)
{
	return i == PLUGIN || i == PLUGIN_NOGSO || i == PLUGIN_NOGRO;
}

/* Row i on path d cannot run, and why; with i NIMPL, no row of path d can. */
static void set_unavailable(struct bench *b, enum impl i, enum dir d, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_unavailable(struct bench *b, enum impl i, enum dir d, const char *fmt, ...)
{
	for (int k = 0; k < NIMPL; k++) {
		va_list ap;

		if ((i != NIMPL && k != (int)i) || !on_path((enum impl)k, d) ||
		    !available(b, (enum impl)k, d))
			continue;
		va_start(ap, fmt);
		vsnprintf(b->unavailable[k][d], sizeof(b->unavailable[k][d]), fmt, ap);
		va_end(ap);
	}
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
 * The module's counters.  A module older than GSO or GRO answers without
 * those counters; gso_counted and gro_counted say whether it did.
 */
static int read_counts(struct bench *b, struct module_counts *c)
{
	OSSL_PARAM p[16];
	size_t n = 0, gso = 0, gro = 0;

	memset(c, 0, sizeof(*c));
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_TX_DATAGRAMS, &c->tx);
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_RX_DATAGRAMS, &c->rx);
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_TX_SYSCALLS, &c->txc);
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_RX_SYSCALLS, &c->rxc);
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_FALLBACK_BATCHES, &c->fallback);
#ifdef DGB_PARAM_GSO_SENDS
	gso = n;
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_GSO_SENDS, &c->gso_sends);
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_GSO_SEGMENTS, &c->gso_segments);
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_GSO_FALLBACKS, &c->gso_fallbacks);
#endif
#ifdef DGB_PARAM_GRO_RECEIVES
	gro = n;
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_GRO_RECEIVES, &c->gro_receives);
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_GRO_SEGMENTS, &c->gro_segments);
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_GRO_CARRIED, &c->gro_carried);
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_RX_KERNEL_DROPS, &c->rx_drops);
	p[n++] = OSSL_PARAM_construct_uint64(DGB_PARAM_RX_TRUNCATED, &c->rx_truncated);
#endif
	p[n] = OSSL_PARAM_construct_end();
	if (!OSSL_PROVIDER_get_params(b->prov, p))
		return ssl_failed("the provider does not answer its counters");
	b->gso_counted = gso > 0 && OSSL_PARAM_modified(&p[gso]) &&
			 OSSL_PARAM_modified(&p[gso + 1]);
	b->gro_counted = gro > 0 && OSSL_PARAM_modified(&p[gro]) &&
			 OSSL_PARAM_modified(&p[gro + 1]);
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
	sum->gro_receives += to->gro_receives - from->gro_receives;
	sum->gro_segments += to->gro_segments - from->gro_segments;
	sum->gro_carried += to->gro_carried - from->gro_carried;
	sum->rx_drops += to->rx_drops - from->rx_drops;
	sum->rx_truncated += to->rx_truncated - from->rx_truncated;
}

/* A string setting of the module's, "-" from a module that predates it. */
static void read_setting(struct bench *b, const char *key, char *out, size_t outlen)
{
	const char *v = NULL;
	OSSL_PARAM p[] = { OSSL_PARAM_utf8_ptr(key, (char **)&v, 0), OSSL_PARAM_END };

	snprintf(out, outlen, "-");
	if (OSSL_PROVIDER_get_params(b->prov, p) && OSSL_PARAM_modified(&p[0]) && v != NULL)
		snprintf(out, outlen, "%s", v);
	ERR_clear_error();
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
 * without it SO_RCVBUF gives what rmem_max allows.  b->rcvbuf keeps the
 * smallest any receive row's socket got.
 */
static int grow_rcvbuf(struct bench *b, int fd)
{
	int want = RCVBUF_WANTED, got;
	socklen_t len = sizeof(got);

	b->rcvbuf_forced = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) == 0;
	if (!b->rcvbuf_forced && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) != 0)
		return sys_failed("setsockopt(SO_RCVBUF)");
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) != 0)
		return sys_failed("getsockopt(SO_RCVBUF)");
	if (b->rcvbuf == 0 || got < b->rcvbuf)
		b->rcvbuf = got;
	return 1;
}

static int open_sockets(struct bench *b)
{
	struct sockaddr_in tx_addr;

	b->tx_fd = loopback_socket(&tx_addr);
	b->sink_fd = loopback_socket(&b->sink_addr);
	if (b->tx_fd < 0 || b->sink_fd < 0)
		return 0;
	for (int d = FIRST_RECV; d < NDIR; d++)
		for (int i = 0; i < NIMPL; i++) {
			struct rx_sock *s = &b->rx[i][d];

			if (!on_path((enum impl)i, (enum dir)d))
				continue;
			s->fd = loopback_socket(&s->addr);
			if (s->fd < 0 || !grow_rcvbuf(b, s->fd))
				return 0;
		}
	return 1;
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
	b->bio[OPENSSL][SEND] = bio_on(BIO_s_datagram(), b->tx_fd, b->sink_peer);
	if (b->bio[PLUGIN][SEND] == NULL || b->bio[PLUGIN_NOGSO][SEND] == NULL ||
	    b->bio[OPENSSL][SEND] == NULL)
		return ssl_failed("cannot make the datagram BIOs");
	for (int d = FIRST_RECV; d < NDIR; d++)
		for (int i = 0; i < NIMPL; i++) {
			const BIO_METHOD *m = is_module((enum impl)i) ? module
				: i == OPENSSL ? BIO_s_datagram() : NULL;

			if (m == NULL || !on_path((enum impl)i, (enum dir)d))
				continue;
			b->bio[i][d] = bio_on(m, b->rx[i][d].fd, NULL);
			if (b->bio[i][d] == NULL)
				return ssl_failed("cannot make the datagram BIOs");
			if (DGB_is_dgrambatch(b->bio[i][d]) != is_module((enum impl)i)) {
				fprintf(stderr, "%s: bench: the BIOs are not what they should be\n",
					progname);
				return 0;
			}
		}
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
#ifdef DGB_PARAM_GSO
	read_setting(b, DGB_PARAM_GSO, b->gso_setting, sizeof(b->gso_setting));
#else
	snprintf(b->gso_setting, sizeof(b->gso_setting), "-");
#endif
#ifdef DGB_CTRL_SET_GSO
	b->gso_before = DGB_get_gso(b->bio[PLUGIN][SEND]) == 1;
	if (DGB_set_gso(b->bio[PLUGIN_NOGSO][SEND], 0) != 1 ||
	    DGB_get_gso(b->bio[PLUGIN_NOGSO][SEND]) != 0)
		set_unavailable(b, PLUGIN_NOGSO, SEND,
				"the module does not answer DGB_set_gso(b, 0) (it predates GSO)");
	else if (DGB_get_gso(b->bio[PLUGIN][SEND]) != b->gso_before)
		set_unavailable(b, PLUGIN_NOGSO, SEND,
				"DGB_set_gso on one BIO changed another on the same socket");
	ERR_clear_error();
#else
	b->gso_before = 0;
	set_unavailable(b, PLUGIN_NOGSO, SEND, "this build's dgrambatch.h has no DGB_set_gso");
#endif
}

/*
 * The plugin rows' BIOs decide on GRO as configured, at their first
 * batched receive: one is made here, on the empty socket, so that the
 * decision stands before the first fill (a train queued before UDP_GRO
 * went on would reach the socket cut into datagrams).  The read path's
 * BIO only ever calls BIO_read, which leaves GRO off.  The plugin-gro-off
 * rows' BIOs are told to keep it off before their first receive.
 */
static void set_module_gro(struct bench *b)
{
#ifdef DGB_PARAM_GRO
	read_setting(b, DGB_PARAM_GRO, b->gro_setting, sizeof(b->gro_setting));
#else
	snprintf(b->gro_setting, sizeof(b->gro_setting), "-");
#endif
	for (int d = RECV; d <= RECV_GSO; d++) {
		size_t done = 0;

		for (size_t i = 0; i < b->o.batch; i++)
			b->rx_msg[i].data_len = b->o.size;
		(void)DGB_recvmmsg(b->bio[PLUGIN][d], b->rx_msg, sizeof(DGB_MSG), b->o.batch, 0,
				   &done);
		ERR_clear_error();
#ifdef DGB_CTRL_SET_GRO
		b->gro_on[d] = DGB_get_gro(b->bio[PLUGIN][d]) == 1;
		if (DGB_set_gro(b->bio[PLUGIN_NOGRO][d], 0) != 1 ||
		    DGB_get_gro(b->bio[PLUGIN_NOGRO][d]) != 0)
			set_unavailable(b, PLUGIN_NOGRO, (enum dir)d,
					"the module does not answer DGB_set_gro(b, 0) "
					"(it predates GRO)");
		ERR_clear_error();
#else
		set_unavailable(b, PLUGIN_NOGRO, (enum dir)d,
				"this build's dgrambatch.h has no DGB_set_gro");
#endif
	}
}

/* The raw-gro row's socket hands over trains whole. */
static void set_raw_gro(struct bench *b)
{
	int one = 1;

	if (!on_path(RAW_GRO, RECV_GSO) || !available(b, RAW_GRO, RECV_GSO))
		return;
	if (setsockopt(b->rx[RAW_GRO][RECV_GSO].fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) != 0)
		set_unavailable(b, RAW_GRO, RECV_GSO, "the kernel refuses UDP_GRO (%s)",
				strerror(errno));
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

/* Why the plugin receive rows do not use GRO, for the report. */
static const char *why_no_gro(const struct bench *b)
{
	if (!b->gro_counted)
		return "the module predates GRO";
	if (strcmp(b->gro_setting, "off") == 0)
		return "gro = off in the provider's configuration";
	if (!dgb_cap_usable(DGB_CAP_UDP_GRO))
		return "the kernel lacks UDP_GRO, or DGRAMBATCH_CAPS_DISABLE says so";
	return "the module did not turn it on";
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
	b->train_data = calloc(1, GSO_MAX_BYTES);
	b->gro_data = calloc(1, GRO_BUFFER);
	if (b->tx_data == NULL || b->rx_data == NULL || b->tx_len == NULL ||
	    b->rx_peer == NULL || b->tx_msg == NULL || b->rx_msg == NULL || b->tx_mh == NULL ||
	    b->rx_mh == NULL || b->tx_iov == NULL || b->rx_iov == NULL || b->rx_name == NULL ||
	    b->gso_mh == NULL || b->gso_ctl == NULL || b->gso_segs == NULL ||
	    b->gso_bytes == NULL || b->train_data == NULL || b->gro_data == NULL) {
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

/* A UDP_SEGMENT control message of seg bytes per datagram on h, in ctl. */
static void put_segment(struct msghdr *h, union gso_ctl *ctl, size_t seg)
{
	struct cmsghdr *c;
	uint16_t s = (uint16_t)seg;

	h->msg_control = ctl->buf;
	h->msg_controllen = sizeof(ctl->buf);
	c = CMSG_FIRSTHDR(h);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(s));
	memcpy(CMSG_DATA(c), &s, sizeof(s));
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
		if (count > 1)
			put_segment(h, &b->gso_ctl[e], seg);
		b->gso_segs[e] = count;
		b->gso_bytes[e] = bytes;
		i += count;
	}
}

/*
 * The recv-gso path's trains: TRAIN_MIN datagrams and up, as many as one
 * segmented send may carry; train_max below 2 leaves nothing to coalesce.
 */
static void plan_trains(struct bench *b)
{
	size_t most = GSO_MAX_BYTES / b->o.size;

	b->train_max = most < GSO_MAX_SEGMENTS ? most : GSO_MAX_SEGMENTS;
	b->train_min = b->train_max < TRAIN_MIN ? b->train_max : TRAIN_MIN;
	for (size_t i = 0; i < GSO_MAX_BYTES; i++)
		b->train_data[i] = (unsigned char)(i * 31 + 7);
	for (size_t e = 0; e < TRAIN_FILL; e++) {
		struct msghdr *h = &b->train_mh[e].msg_hdr;

		b->train_iov[e].iov_base = b->train_data;
		h->msg_iov = &b->train_iov[e];
		h->msg_iovlen = 1;
		put_segment(h, &b->train_ctl[e], b->o.size);
	}
	if (b->train_max < 2)
		set_unavailable(b, NIMPL, RECV_GSO,
				"no two %zu-byte datagrams fit one segmented send", b->o.size);
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

		f->msg_namelen = sizeof(struct sockaddr_in);
		f->msg_iov = &b->fill_iov;
		f->msg_iovlen = 1;
	}
	group_batch(b);
	plan_trains(b);
}

static int transient_errno(int err);

/* Whether err means "the kernel takes no segmented send like this one". */
static int gso_refused(int err)
{
	return err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP ||
	       err == EMSGSIZE;
}

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
		if (gso_refused(errno)) {
			set_unavailable(b, RAW_GSO, SEND, "the kernel refuses UDP_SEGMENT sends (%s)",
					strerror(errno));
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
	const char *ossl_recv = native ? "BIO_recvmmsg, BIO_s_datagram"
				       : "BIO_read loop, BIO_s_datagram";
	size_t segmented = 0;

	for (size_t e = 0; e < b->gso_n; e++)
		segmented += b->gso_segs[e] > 1;

#define CALL(i, d, ...) snprintf(b->call[i][d], sizeof(b->call[i][d]), __VA_ARGS__)
	CALL(PLUGIN, SEND, "%s, %s", mod_send, b->gso_before ? "GSO" : "no GSO");
	CALL(PLUGIN_NOGSO, SEND, "%s, GSO off", mod_send);
	CALL(OPENSSL, SEND, "%s", native ? "BIO_sendmmsg, BIO_s_datagram"
					 : "BIO_write loop, BIO_s_datagram");
	CALL(RAW, SEND, "sendmmsg(2)");
	if (b->gso_n == 1)
		CALL(RAW_GSO, SEND, "sendmsg(2)%s", b->gso_segs[0] > 1 ? " + UDP_SEGMENT" : "");
	else if (segmented == b->gso_n)
		CALL(RAW_GSO, SEND, "sendmmsg(2), %zu UDP_SEGMENT sends", segmented);
	else
		CALL(RAW_GSO, SEND, "sendmmsg(2), %zu UDP_SEGMENT + %zu single", segmented,
		     b->gso_n - segmented);
	for (int d = RECV; d <= RECV_GSO; d++) {
		CALL(PLUGIN, d, "%s, %s", mod_recv, b->gro_on[d] ? "GRO" : "no GRO");
		CALL(PLUGIN_NOGRO, d, "%s, GRO off", mod_recv);
		CALL(OPENSSL, d, "%s", ossl_recv);
		CALL(RAW, d, "recvmmsg(2)");
	}
	CALL(RAW_GRO, RECV_GSO, "recvmsg(2) + UDP_GRO, 64 KB buffer");
	CALL(PLUGIN, READ, "BIO_read, module BIO");
	CALL(OPENSSL, READ, "BIO_read, BIO_s_datagram");
#undef CALL
}

static int try_trains(struct bench *b);

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
	set_module_gro(b);
	set_raw_gro(b);
	name_calls(b);
	return try_raw_gso(b) && try_trains(b);
}

static void tear_down(struct bench *b)
{
	for (int i = 0; i < NIMPL; i++)
		for (int d = 0; d < NDIR; d++) {
			BIO_free(b->bio[i][d]);
			if (b->rx[i][d].fd >= 0)
				close(b->rx[i][d].fd);
		}
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
	free(b->train_data);
	free(b->gro_data);
	if (b->tx_fd >= 0)
		close(b->tx_fd);
	if (b->sink_fd >= 0)
		close(b->sink_fd);
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

static enum outcome plugin_send(struct bench *b, enum dir d, size_t n, size_t *done)
{
	(void)d;
	return module_send(b, b->bio[PLUGIN][SEND], n, done);
}

static enum outcome plugin_nogso_send(struct bench *b, enum dir d, size_t n, size_t *done)
{
	(void)d;
	return module_send(b, b->bio[PLUGIN_NOGSO][SEND], n, done);
}

static enum outcome module_recv(struct bench *b, BIO *bio, size_t n, size_t *done)
{
	int ok, err;

	reset_msgs(b->rx_msg, n, NULL, b->o.size);
	errno = 0;
	ok = DGB_recvmmsg(bio, b->rx_msg, sizeof(DGB_MSG), n, 0, done);
	err = errno;
	return ok ? check_msgs(b->rx_msg, *done, NULL, b->o.size) : classify(err);
}

static enum outcome plugin_recv(struct bench *b, enum dir d, size_t n, size_t *done)
{
	return module_recv(b, b->bio[PLUGIN][d], n, done);
}

static enum outcome plugin_nogro_recv(struct bench *b, enum dir d, size_t n, size_t *done)
{
	return module_recv(b, b->bio[PLUGIN_NOGRO][d], n, done);
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
 * n datagrams with one BIO_read each.  BIO_recvmmsg reports each
 * datagram's sender; with_peer does the same with BIO_dgram_get_peer, so
 * that both do the same work.  The read path asks for no sender: a
 * program that reads one datagram at a time takes what BIO_read gives.
 */
static enum outcome read_loop(struct bench *b, BIO *bio, int with_peer, size_t n,
			      size_t *done)
{
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
		if (with_peer && BIO_dgram_get_peer(bio, b->rx_peer[i]) <= 0) {
			ERR_raise_data(ERR_LIB_BIO, ERR_R_INTERNAL_ERROR, "no peer after a read");
			return FAILED;
		}
	}
	*done = i;
	return MOVED;
}

/* OpenSSL's own BIO_sendmmsg, called directly, not through DGB_sendmmsg. */
static enum outcome openssl_send(struct bench *b, enum dir d, size_t n, size_t *done)
{
	int ok, err;

	(void)d;
	if (b->native[SEND] == NULL)
		return openssl_send_loop(b, n, done);
	reset_msgs(b->tx_msg, n, b->tx_len, 0);
	errno = 0;
	ok = b->native[SEND](b->bio[OPENSSL][SEND], b->tx_msg, sizeof(DGB_MSG), n, 0, done);
	err = errno;
	return ok ? check_msgs(b->tx_msg, *done, b->tx_len, 0) : classify(err);
}

static enum outcome openssl_recv(struct bench *b, enum dir d, size_t n, size_t *done)
{
	int ok, err;

	if (d == READ || b->native[RECV] == NULL)
		return read_loop(b, b->bio[OPENSSL][d], d != READ, n, done);
	reset_msgs(b->rx_msg, n, NULL, b->o.size);
	errno = 0;
	ok = b->native[RECV](b->bio[OPENSSL][d], b->rx_msg, sizeof(DGB_MSG), n, 0, done);
	err = errno;
	return ok ? check_msgs(b->rx_msg, *done, NULL, b->o.size) : classify(err);
}

/* The read path's module row: BIO_read, and never a batched receive. */
static enum outcome plugin_read(struct bench *b, enum dir d, size_t n, size_t *done)
{
	return d == READ ? read_loop(b, b->bio[PLUGIN][READ], 0, n, done)
			 : plugin_recv(b, d, n, done);
}

static enum outcome raw_send(struct bench *b, enum dir d, size_t n, size_t *done)
{
	int r = sendmmsg(b->tx_fd, b->tx_mh, (unsigned int)n, 0);

	(void)d;
	if (r <= 0)
		return classify_sys(r < 0 ? errno : 0);
	*done = (size_t)r;
	return check_mmsgs(b->tx_mh, *done, b->tx_len, 0);
}

/*
 * The whole batch (send calls always offer all of it) in its segmented
 * groups: sendmsg(2) for one group, else one sendmmsg(2) of them all.
 */
static enum outcome raw_gso_send(struct bench *b, enum dir d, size_t n, size_t *done)
{
	int r;

	(void)d;
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

static enum outcome raw_recv(struct bench *b, enum dir d, size_t n, size_t *done)
{
	int r;

	/* The kernel shortens msg_namelen to the address it wrote. */
	for (size_t i = 0; i < n; i++)
		b->rx_mh[i].msg_hdr.msg_namelen = sizeof(b->rx_name[i]);
	r = recvmmsg(b->rx[RAW][d].fd, b->rx_mh, (unsigned int)n, 0, NULL);
	b->tally[RAW][d].syscalls++;
	if (r <= 0)
		return classify_sys(r < 0 ? errno : 0);
	*done = (size_t)r;
	return check_mmsgs(b->rx_mh, *done, NULL, b->o.size);
}

/* The segment size of a train (UDP_GRO), 0 for a lone datagram. */
static size_t gro_segment(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
		int v;

		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(v))) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v > 0 ? (size_t)v : 0;
		}
	}
	return 0;
}

/*
 * One recvmsg(2) of whatever is at the head of fd into the 64 KB buffer,
 * with the sender and the control messages: a train, or a lone datagram.
 * Returns the bytes, or -1 with errno set; *seg is the segment size.
 */
static ssize_t recv_train(struct bench *b, int fd, size_t *seg)
{
	struct iovec iov = { .iov_base = b->gro_data, .iov_len = GRO_BUFFER };
	struct msghdr h = {
		.msg_name = &b->gro_name,
		.msg_namelen = sizeof(b->gro_name),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = b->gro_ctl.buf,
		.msg_controllen = sizeof(b->gro_ctl.buf),
	};
	ssize_t r = recvmsg(fd, &h, 0);

	if (r >= 0)
		*seg = gro_segment(&h);
	return r;
}

/*
 * The raw GRO ceiling: one train a call, however many datagrams it holds
 * (n is not a limit: the buffer takes any train), each of o.size bytes.
 */
static enum outcome raw_gro_recv(struct bench *b, enum dir d, size_t n, size_t *done)
{
	size_t seg = 0;
	ssize_t r = recv_train(b, b->rx[RAW_GRO][d].fd, &seg);

	(void)n;
	b->tally[RAW_GRO][d].syscalls++;
	if (r < 0)
		return classify_sys(errno);
	if (seg == 0)
		seg = (size_t)r;
	if (seg != b->o.size || (size_t)r % seg != 0 || r == 0)
		return wrong_length("train", 0, (size_t)r, b->o.size);
	*done = (size_t)r / seg;
	return MOVED;
}

static const batch_fn batch_call[NIMPL][2] = {
	[PLUGIN] = { plugin_send, plugin_read },
	[PLUGIN_NOGSO] = { plugin_nogso_send, NULL },
	[PLUGIN_NOGRO] = { NULL, plugin_nogro_recv },
	[OPENSSL] = { openssl_send, openssl_recv },
	[RAW] = { raw_send, raw_recv },
	[RAW_GSO] = { raw_gso_send, NULL },
	[RAW_GRO] = { NULL, raw_gro_recv },
};

/* One call of n messages; success with nothing moved counts as AGAIN. */
static enum outcome call(struct bench *b, enum impl i, enum dir d, size_t n, size_t *done)
{
	enum outcome r;

	*done = 0;
	r = batch_call[i][is_recv(d)](b, d, n, done);
	return r == MOVED && *done == 0 ? AGAIN : r;
}

/* --- the receive queues -------------------------------------------------- */

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

/* Put count datagrams of o.size into to with raw sendmmsg; not timed. */
static int fill_plain(struct bench *b, struct sockaddr_in *to, size_t count)
{
	double stalled = 0;

	for (size_t i = 0; i < FILL_BATCH; i++)
		b->fill_mh[i].msg_hdr.msg_name = to;
	while (count > 0) {
		unsigned int n = count < FILL_BATCH ? (unsigned int)count : FILL_BATCH;
		int r = sendmmsg(b->tx_fd, b->fill_mh, n, 0);

		if (r > 0) {
			count -= (size_t)r;
			stalled = 0;
		} else if (r < 0 && transient_errno(errno)) {
			if (stalled_too_long(&stalled))
				return sys_failed("filling a receive queue");
		} else {
			return sys_failed("filling a receive queue: sendmmsg()");
		}
	}
	return 1;
}

/*
 * Put count datagrams of o.size into to as trains of train_min,
 * train_min + 1, ... train_max datagrams, over and over (the last train
 * may be shorter), TRAIN_FILL trains per sendmmsg; not timed.  Every fill
 * starts the cycle afresh, so every fill is the same.
 */
static int fill_trains(struct bench *b, struct sockaddr_in *to, size_t count)
{
	size_t k = 0, span = b->train_max - b->train_min + 1;
	double stalled = 0;

	while (count > 0) {
		unsigned int n = 0;
		size_t planned = 0;
		int r;

		while (n < TRAIN_FILL && planned < count) {
			struct msghdr *h = &b->train_mh[n].msg_hdr;
			size_t segs = b->train_min + (k + n) % span;

			if (segs > count - planned)
				segs = count - planned;
			h->msg_name = to;
			h->msg_namelen = sizeof(*to);
			b->train_iov[n].iov_len = segs * b->o.size;
			planned += segs;
			n++;
		}
		r = sendmmsg(b->tx_fd, b->train_mh, n, 0);
		if (r > 0) {
			for (int e = 0; e < r; e++)
				count -= b->train_iov[e].iov_len / b->o.size;
			k += (size_t)r;
			stalled = 0;
		} else if (r < 0 && transient_errno(errno)) {
			if (stalled_too_long(&stalled))
				return sys_failed("filling a receive queue with trains");
		} else {
			return sys_failed("filling a receive queue: sendmmsg() with UDP_SEGMENT");
		}
	}
	return 1;
}

/* Fill row i's socket on path d with that path's traffic; not timed. */
static int fill_queue(struct bench *b, enum impl i, enum dir d, size_t count)
{
	struct sockaddr_in *to = &b->rx[i][d].addr;

	return d == RECV_GSO ? fill_trains(b, to, count) : fill_plain(b, to, count);
}

/*
 * Read fd until it is empty, into the 64 KB buffer, counting datagrams
 * (a train as the datagrams in it) in *got and trains in *trains.
 */
static int count_queue(struct bench *b, int fd, size_t *got, size_t *trains)
{
	*got = *trains = 0;
	for (;;) {
		size_t seg = 0;
		ssize_t r = recv_train(b, fd, &seg);

		if (r < 0 && transient_errno(errno))
			return 1;
		if (r < 0)
			return sys_failed("emptying a receive queue");
		if (seg > 0 && (size_t)r > seg) {
			*got += ((size_t)r + seg - 1) / seg;
			(*trains)++;
		} else {
			(*got)++;
		}
	}
}

/* The datagrams fd's socket dropped for want of room since it was opened. */
static int sock_drops(int fd, uint32_t *drops)
{
	uint32_t info[SK_MEMINFO_VARS];
	socklen_t len = sizeof(info);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &len) != 0 ||
	    len <= SK_MEMINFO_DROPS * sizeof(info[0]))
		return 0;
	*drops = info[SK_MEMINFO_DROPS];
	return 1;
}

/*
 * Whether the kernel takes the recv-gso path's trains and hands them to a
 * socket without UDP_GRO as datagrams: a train of train_min goes to the
 * raw row's socket, which must then hold train_min datagrams.  A refusal
 * that means "not with segmentation" makes the path unavailable.
 */
static int try_trains(struct bench *b)
{
	size_t got, trains;

	if (!available(b, RAW, RECV_GSO))
		return 1;
	b->train_iov[0].iov_len = b->train_min * b->o.size;
	b->train_mh[0].msg_hdr.msg_name = &b->rx[RAW][RECV_GSO].addr;
	b->train_mh[0].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
	if (sendmsg(b->tx_fd, &b->train_mh[0].msg_hdr, 0) < 0) {
		if (!gso_refused(errno))
			return sys_failed("a segmented send (sendmsg with UDP_SEGMENT)");
		set_unavailable(b, NIMPL, RECV_GSO, "the kernel refuses UDP_SEGMENT sends (%s)",
				strerror(errno));
		return 1;
	}
	if (!count_queue(b, b->rx[RAW][RECV_GSO].fd, &got, &trains))
		return 0;
	if (got != b->train_min) {
		fprintf(stderr, "%s: bench: a train of %zu datagrams arrived as %zu\n", progname,
			b->train_min, got);
		return 0;
	}
	return 1;
}

/*
 * How many datagrams a fill may put into the sockets of path d.  Overfill
 * a raw row's socket (a datagram costs the buffer at least its payload, so
 * rcvbuf/size more surely overflow) and count what arrived: on recv-gso
 * both the raw row's, which gets trains cut into datagrams, and the raw-gro
 * row's, which gets them whole and may account for them differently.  The
 * module's sockets are left alone: it would count the drops.  Fills then
 * take three quarters of the least either held, so that none should
 * overflow, and every row of the path drains as many.  The read path's
 * sockets are as the recv path's.
 */
static int measure_queue(struct bench *b, enum dir d)
{
	static const enum impl measured[] = { RAW, RAW_GRO };
	size_t offer = (size_t)b->rcvbuf / b->o.size + FILL_BATCH + GSO_MAX_SEGMENTS, least = 0;
	int any = 0;

	if (d == READ) {
		b->queued[READ] = b->queued[RECV];
		return 1;
	}
	if (offer > 2 * MAX_QUEUED)
		offer = 2 * MAX_QUEUED;
	for (size_t k = 0; k < sizeof(measured) / sizeof(measured[0]); k++) {
		enum impl i = measured[k];
		size_t held, trains;

		if (!runs(b, i, d))
			continue;
		if (!fill_queue(b, i, d, offer) || !count_queue(b, b->rx[i][d].fd, &held, &trains))
			return 0;
		if (!any || held < least)
			least = held;
		any = 1;
	}
	if (!any)
		return 1;
	b->queued[d] = least - least / 4;
	if (b->queued[d] > MAX_QUEUED)
		b->queued[d] = MAX_QUEUED;
	if (b->queued[d] == 0) {
		fprintf(stderr, "%s: bench: %s: the receive buffer holds no %zu-byte datagram\n",
			progname, dir_key[d], b->o.size);
		return 0;
	}
	return 1;
}

/* Whether fd has something to read within ms milliseconds. */
static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0 && (p.revents & POLLIN) != 0;
}

/*
 * Take what the last fill put into row i's socket on path d, b->queued[d]
 * datagrams, through implementation i, the calls timed into *busy; the
 * datagrams delivered go to *got.  A call that finds the queue empty is
 * counted; the socket is then watched (not timed) for LATE_MILLISECONDS,
 * and if nothing comes the rest were lost.  A socket that stays readable
 * while the calls deliver nothing for STALL_SECONDS fails the run.
 */
static int drain_queue(struct bench *b, enum impl i, enum dir d, double *busy, size_t *got)
{
	struct tally *t = &b->tally[i][d];
	size_t want = b->queued[d];
	double t0 = now(), stalled = 0;

	*got = 0;
	while (*got < want) {
		size_t left = want - *got, done;

		/* Never more than is queued: a call that finds nothing costs a syscall. */
		switch (call(b, i, d, left < b->o.batch ? left : b->o.batch, &done)) {
		case MOVED:
			*got += done;
			stalled = 0;
			continue;
		case AGAIN:
			break;
		case FAILED:
			return impl_failed(b, i, d);
		}
		t->transient++;
		*busy += now() - t0;
		if (!readable(b->rx[i][d].fd, LATE_MILLISECONDS)) {
			t->lost += want - *got;
			return 1;
		}
		if (stalled_too_long(&stalled)) {
			fprintf(stderr,
				"%s: bench: %s %s: the socket is readable, but %zu of %zu datagrams "
				"do not come\n",
				progname, impl_key[i], dir_key[d], want - *got, want);
			return 0;
		}
		t0 = now();
	}
	*busy += now() - t0;
	if (*got > want) {
		fprintf(stderr, "%s: bench: %s %s: %zu datagrams delivered, %zu were queued\n",
			progname, impl_key[i], dir_key[d], *got, want);
		return 0;
	}
	return 1;
}

/* --- the send path's sink ------------------------------------------------ */

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
		if (b->sink_counted && !sock_drops(b->sink_fd, drops))
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
 * so the rate is what implementation i delivers per second of its own
 * work.  The socket's drop count is read around each fill and drain.
 */
static int recv_sample(struct bench *b, enum impl i, enum dir d, double seconds, double *rate)
{
	struct tally *t = &b->tally[i][d];
	int fd = b->rx[i][d].fd;
	double start = now(), busy = 0;
	uint64_t got = 0;

	do {
		uint32_t d0 = 0, d1 = 0;
		int counted = sock_drops(fd, &d0);
		size_t n;

		if (!fill_queue(b, i, d, b->queued[d]) || !drain_queue(b, i, d, &busy, &n))
			return 0;
		got += n;
		if (counted && sock_drops(fd, &d1))
			t->kernel_drops += (uint32_t)(d1 - d0);
	} while (now() - start < seconds);
	t->datagrams += got;
	if (got == 0) {
		fprintf(stderr, "%s: bench: %s %s delivered nothing\n", progname, impl_key[i],
			dir_key[d]);
		return 0;
	}
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
		      : !recv_sample(b, i, d, seconds, rate))
		return 0;
	if (!read_counts(b, &c1))
		return 0;
	counts_add(&b->tally[i][d].mod, &c1, &c0);
	return d != SEND || account_sink(b, i, sent, drops0);
}

/*
 * Every row of paths first..last once, in turn; round < 0 is a warm-up.
 */
static int run_round(struct bench *b, enum dir first, enum dir last, double seconds, int round)
{
	for (int d = first; d <= (int)last; d++)
		for (int i = 0; i < NIMPL; i++) {
			double rate = 0;

			if (!runs(b, (enum impl)i, (enum dir)d))
				continue;
			if (!sample(b, (enum impl)i, (enum dir)d, seconds, &rate))
				return 0;
			if (round >= 0)
				b->tally[i][d].rate[round] = rate;
		}
	return 1;
}

/*
 * All rounds of a group of paths, after a warm-up round: the send path,
 * then the three receive paths, whose rows take turns as one.  Send and
 * receive are not interleaved: after a spell of sends the first ~0.1 s of
 * refills and drains run up to a third slower while the kernel's memory
 * warms up again, and in each round that would land on the same
 * implementation.  The warm-up takes that hit instead.
 */
static int run_paths(struct bench *b, enum dir first, enum dir last)
{
	if (!run_round(b, first, last, warmup_seconds[first], -1))
		return 0;
	for (int r = 0; r < ROUNDS; r++)
		if (!run_round(b, first, last, b->o.seconds, r))
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
	for (int d = FIRST_RECV; d < NDIR; d++)
		if (!measure_queue(b, (enum dir)d))
			return 0;
	/* Without SO_MEMINFO the sink's drops are not known. */
	{
		uint32_t drops;

		b->sink_counted = sock_drops(b->sink_fd, &drops);
	}
	if (!run_paths(b, SEND, SEND) || !run_paths(b, FIRST_RECV, NDIR - 1))
		return 0;
#ifdef DGB_CTRL_GET_GSO
	b->gso_after = DGB_get_gso(b->bio[PLUGIN][SEND]) == 1;
	ERR_clear_error();
#endif
#ifdef DGB_CTRL_GET_GRO
	for (int d = RECV; d <= RECV_GSO; d++)
		b->gro_after[d] = DGB_get_gro(b->bio[PLUGIN][d]) == 1;
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

/* What a row lost: on receive, datagrams filled and not delivered. */
static uint64_t lost(const struct tally *t, enum dir d)
{
	return d == SEND ? t->sink_lost : t->lost;
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

#define MAX_TARGETS 8

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
		if (b->native[RECV] != NULL)
			t[n++] = (struct target){ "trains: module GRO vs OpenSSL's BIO_recvmmsg",
						  RECV_GSO, OPENSSL, 2.5 };
		else
			t[n++] = (struct target){ "trains: DGB_recvmmsg vs OpenSSL's BIO_read loop",
						  RECV_GSO, OPENSSL, 2.5 };
		t[n++] = (struct target){ "trains: module GRO vs raw recvmsg + UDP_GRO", RECV_GSO,
					  RAW_GRO, 0.8 };
		t[n++] = (struct target){ "BIO_read: module vs OpenSSL's", READ, OPENSSL, 0.97 };
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

/* Datagrams the receive rows lost, and the drops their sockets counted. */
static void recv_losses(const struct bench *b, uint64_t *lost_sum, uint64_t *drops)
{
	*lost_sum = *drops = 0;
	for (int d = FIRST_RECV; d < NDIR; d++)
		for (int i = 0; i < NIMPL; i++) {
			*lost_sum += b->tally[i][d].lost;
			*drops += b->tally[i][d].kernel_drops;
		}
}

static void print_module_row(const struct bench *b, enum impl i, enum dir d)
{
	const struct module_counts *m = &b->tally[i][d].mod;
	uint64_t dg = d == SEND ? m->tx : m->rx, calls = d == SEND ? m->txc : m->rxc;

	printf("%-8s  %-14s  %12" PRIu64 " datagrams in %10" PRIu64 " syscalls (%6.2f each)",
	       dir_key[d], impl_key[i], dg, calls, calls > 0 ? (double)dg / (double)calls : 0.0);
	if (d == SEND && b->gso_counted)
		printf(", %" PRIu64 " in %" PRIu64 " GSO sends (%.1f%%)", m->gso_segments,
		       m->gso_sends, dg > 0 ? 100.0 * (double)m->gso_segments / (double)dg : 0.0);
	if (d != SEND && b->gro_counted && m->gro_receives > 0)
		printf(", %" PRIu64 " in %" PRIu64 " GRO trains (%.1f each), %" PRIu64
		       " carried to a later call",
		       m->gro_segments, m->gro_receives,
		       (double)m->gro_segments / (double)m->gro_receives, m->gro_carried);
	if (d != SEND && (m->rx_drops > 0 || m->rx_truncated > 0))
		printf(", %" PRIu64 " kernel drops, %" PRIu64 " TRUNCATED", m->rx_drops,
		       m->rx_truncated);
	printf("\n");
}

/* The raw receive rows' system calls, to set against the module's. */
static void print_raw_row(const struct bench *b, enum impl i, enum dir d)
{
	const struct tally *t = &b->tally[i][d];

	printf("%-8s  %-14s  %12" PRIu64 " datagrams in %10" PRIu64 " syscalls (%6.2f each)\n",
	       dir_key[d], impl_key[i], t->datagrams, t->syscalls,
	       t->syscalls > 0 ? (double)t->datagrams / (double)t->syscalls : 0.0);
}

/* A column of a ratio table: "-" where the row does not run. */
static void print_ratio(const struct bench *b, enum dir d, enum impl over, int width)
{
	if (runs(b, over, d) && runs(b, PLUGIN, d))
		printf("  %*.3f", width, ratio(b, d, over));
	else
		printf("  %*s", width, "-");
}

static void print_gro_line(const struct bench *b)
{
	printf("module GRO: gro = %s; the plugin rows' BIOs ", b->gro_setting);
	if (b->gro_on[RECV] && b->gro_on[RECV_GSO])
		printf("use it (from their first batched receive)");
	else if (!b->gro_on[RECV] && !b->gro_on[RECV_GSO])
		printf("do not use it (%s)", why_no_gro(b));
	else
		printf("use it on %s only", b->gro_on[RECV] ? "recv" : "recv-gso");
	for (int d = RECV; d <= RECV_GSO; d++)
		if (b->gro_on[d] && !b->gro_after[d])
			printf(", BUT IT WAS TURNED OFF DURING THE RUN (%s)", dir_key[d]);
	printf("; the read row's BIO_read never turns it on\n");
}

static void print_text(const struct bench *b)
{
	uint64_t sink_read = 0, sink_dropped = 0, recv_lost, recv_drops;
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
	printf("median of %d rounds of %.2f s per implementation, interleaved: the send rows, "
	       "then all receive rows\n",
	       ROUNDS, b->o.seconds);
	printf("module GSO: gso = %s; the plugin row's BIO %s", b->gso_setting,
	       b->gso_before ? "uses it" : "does not use it");
	if (!b->gso_before)
		printf(" (%s)", why_no_gso(b));
	else if (!b->gso_after)
		printf(", BUT IT WAS TURNED OFF DURING THE RUN");
	printf("\n");
	print_gro_line(b);
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
	printf("receive: %zu datagrams queued per drain, SO_RCVBUF %d bytes (%s), a socket per "
	       "row;\n",
	       b->queued[RECV], b->rcvbuf,
	       b->rcvbuf_forced ? "SO_RCVBUFFORCE" : "capped by net.core.rmem_max");
	if (runs(b, RAW, RECV_GSO))
		printf("         recv-gso: %zu datagrams per drain, sent as trains of %zu to %zu "
		       "(UDP_SEGMENT), one length after the other;\n",
		       b->queued[RECV_GSO], b->train_min, b->train_max);
	recv_losses(b, &recv_lost, &recv_drops);
	if (recv_lost == 0)
		printf("         every datagram filled was delivered (the sockets counted %" PRIu64
		       " drops)\n\n",
		       recv_drops);
	else
		printf("         SOME LOST: %" PRIu64 " datagrams filled were never delivered (the "
		       "sockets counted %" PRIu64 " drops);\n         those rows' rates count only "
		       "what they delivered\n\n",
		       recv_lost, recv_drops);
	printf("%-8s  %-14s  %-48s %13s %9s %7s %10s %8s\n", "path", "impl", "call", "datagrams/s",
	       "Gbit/s", "spread", "transient", "lost");
	for (int d = 0; d < NDIR; d++) {
		for (int i = 0; i < NIMPL; i++) {
			const struct tally *tl = &b->tally[i][d];
			double m = median(tl->rate);

			if (!on_path((enum impl)i, (enum dir)d))
				continue;
			if (!available(b, (enum impl)i, (enum dir)d)) {
				printf("%-8s  %-14s  %-48s unavailable: %s\n", dir_key[d],
				       impl_key[i], b->call[i][d], b->unavailable[i][d]);
				continue;
			}
			printf("%-8s  %-14s  %-48s %13.0f %9.3f %6.1f%% %10" PRIu64 " %8" PRIu64
			       "\n",
			       dir_key[d], impl_key[i], b->call[i][d], m, gbits(b, (enum dir)d, m),
			       100 * spread(tl->rate), tl->transient, lost(tl, (enum dir)d));
		}
	}
	printf("\n%-8s  %14s  %10s  %14s  %14s\n", "path", "plugin/openssl", "plugin/raw",
	       "plugin/raw-gso", "plugin/gso-off");
	printf("%-8s", dir_key[SEND]);
	print_ratio(b, SEND, OPENSSL, 14);
	print_ratio(b, SEND, RAW, 10);
	print_ratio(b, SEND, RAW_GSO, 14);
	print_ratio(b, SEND, PLUGIN_NOGSO, 14);
	printf("\n\n%-8s  %14s  %10s  %14s  %14s\n", "path", "plugin/openssl", "plugin/raw",
	       "plugin/raw-gro", "plugin/gro-off");
	for (int d = FIRST_RECV; d < NDIR; d++) {
		printf("%-8s", dir_key[d]);
		print_ratio(b, (enum dir)d, OPENSSL, 14);
		print_ratio(b, (enum dir)d, RAW, 10);
		print_ratio(b, (enum dir)d, RAW_GRO, 14);
		print_ratio(b, (enum dir)d, PLUGIN_NOGRO, 14);
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
				printf("  %-48s >= %.2f: -  (%s %s row unavailable)\n", t[k].what,
				       t[k].want, dir_key[t[k].d], impl_key[t[k].over]);
		}
	}
	printf("\nmodule counters per row (they agree with the rows; the other rows moved nothing "
	       "through the module),\nand the raw receive rows' own system calls\n");
	for (int d = 0; d < NDIR; d++)
		for (int i = 0; i < NIMPL; i++) {
			if (!runs(b, (enum impl)i, (enum dir)d))
				continue;
			if (is_module((enum impl)i))
				print_module_row(b, (enum impl)i, (enum dir)d);
			else if (d != SEND && (i == RAW || i == RAW_GRO))
				print_raw_row(b, (enum impl)i, (enum dir)d);
		}
	printf("unbatched batches %" PRIu64 ", GSO fallbacks %" PRIu64 "\n",
	       b->after.fallback - b->before.fallback,
	       b->after.gso_fallbacks - b->before.gso_fallbacks);
	printf("transient: calls that moved nothing and were repeated (EAGAIN or ENOBUFS on send, "
	       "an empty queue on receive)\n");
	printf("lost: send, datagrams neither read nor dropped at the sink; receive, datagrams "
	       "filled and never delivered\n");
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
	if (!available(b, i, d)) {
		printf(", \"unavailable\": ");
		json_string(b->unavailable[i][d]);
		printf(" },\n");
		return;
	}
	printf(", \"datagrams_per_second\": %.0f, \"gbit_per_second\": %.4f, "
	       "\"spread\": %.4f, \"transient\": %" PRIu64 ", \"samples\": [",
	       m, gbits(b, d, m), spread(t->rate), t->transient);
	for (int r = 0; r < ROUNDS; r++)
		printf("%s%.0f", r ? ", " : "", t->rate[r]);
	printf("], \"datagrams\": %" PRIu64, t->datagrams);
	if (is_module(i)) {
		printf(", \"module\": { \"datagrams\": %" PRIu64 ", \"syscalls\": %" PRIu64
		       ", \"gso_sends\": %" PRIu64 ", \"gso_segments\": %" PRIu64,
		       d == SEND ? t->mod.tx : t->mod.rx, d == SEND ? t->mod.txc : t->mod.rxc,
		       t->mod.gso_sends, t->mod.gso_segments);
		if (d != SEND)
			printf(", \"gro_receives\": %" PRIu64 ", \"gro_segments\": %" PRIu64
			       ", \"gro_carried\": %" PRIu64 ", \"kernel_drops\": %" PRIu64
			       ", \"truncated\": %" PRIu64,
			       t->mod.gro_receives, t->mod.gro_segments, t->mod.gro_carried,
			       t->mod.rx_drops, t->mod.rx_truncated);
		printf(" }");
	} else if (d != SEND && (i == RAW || i == RAW_GRO)) {
		printf(", \"syscalls\": %" PRIu64, t->syscalls);
	}
	if (d == SEND) {
		printf(", \"sink\": { \"read\": %" PRIu64 ", \"dropped\": ", t->sink_read);
		if (b->sink_counted)
			printf("%" PRIu64 ", \"lost\": %" PRIu64 " }", t->sink_dropped,
			       t->sink_lost);
		else
			printf("null, \"lost\": null }");
	} else {
		printf(", \"lost\": %" PRIu64 ", \"kernel_drops\": %" PRIu64, t->lost,
		       t->kernel_drops);
	}
	printf(" },\n");
}

/* The ratios of path d's plugin row, as the text report's tables give them. */
static void json_ratios(const struct bench *b, enum dir d)
{
	static const enum impl send_over[] = { OPENSSL, RAW, RAW_GSO, PLUGIN_NOGSO };
	static const enum impl recv_over[] = { OPENSSL, RAW, RAW_GRO, PLUGIN_NOGRO };
	const enum impl *over = d == SEND ? send_over : recv_over;
	int first = 1;

	printf("    ");
	for (int k = 0; k < 4; k++) {
		char key[64];

		if (!on_path(over[k], d))
			continue;
		snprintf(key, sizeof(key), "plugin_over_%s", impl_json[over[k]]);
		printf("%s", first ? "" : ", ");
		json_ratio(key, ratio(b, d, over[k]), "");
		first = 0;
	}
	printf("\n");
}

static void print_json(const struct bench *b)
{
	struct target t[MAX_TARGETS];
	size_t nt = targets(b, t);
	uint64_t recv_lost, recv_drops;

	recv_losses(b, &recv_lost, &recv_drops);
	printf("{\n  \"openssl\": { \"build\": ");
	json_string(OPENSSL_VERSION_TEXT);
	printf(", \"runtime\": ");
	json_string(OpenSSL_version(OPENSSL_VERSION));
	printf(", \"bio_sendmmsg\": %s },\n", b->native[SEND] != NULL ? "true" : "false");
	printf("  \"size\": %zu, \"batch\": %zu, \"mixed\": %s, \"send_bytes_per_datagram\": %.1f,"
	       " \"seconds\": %.3f, \"rounds\": %d,\n",
	       b->o.size, b->o.batch, b->o.mixed ? "true" : "false", bytes_per_datagram(b, SEND),
	       b->o.seconds, ROUNDS);
	printf("  \"rcvbuf\": %d, \"rcvbuf_forced\": %s, \"queued\": %zu, \"queued_gso\": %zu,"
	       " \"queued_read\": %zu, \"trains\": { \"min\": %zu, \"max\": %zu },\n",
	       b->rcvbuf, b->rcvbuf_forced ? "true" : "false", b->queued[RECV],
	       b->queued[RECV_GSO], b->queued[READ], b->train_min, b->train_max);
	printf("  \"recv_lost\": %" PRIu64 ", \"recv_kernel_drops\": %" PRIu64 ",\n", recv_lost,
	       recv_drops);
	printf("  \"route_mtu\": %d, \"route_fragments\": %s,\n", b->route_mtu,
	       route_too_small(b) ? "true" : "false");
	printf("  \"gso\": { \"setting\": ");
	json_string(b->gso_setting);
	printf(", \"in_use\": %s, \"in_use_after\": %s },\n", b->gso_before ? "true" : "false",
	       b->gso_after ? "true" : "false");
	printf("  \"gro\": { \"setting\": ");
	json_string(b->gro_setting);
	printf(", \"in_use\": %s, \"in_use_gso\": %s, \"in_use_after\": %s },\n",
	       b->gro_on[RECV] ? "true" : "false", b->gro_on[RECV_GSO] ? "true" : "false",
	       b->gro_after[RECV] && b->gro_after[RECV_GSO] ? "true" : "false");
	for (int d = 0; d < NDIR; d++) {
		printf("  \"%s\": {\n", dir_json[d]);
		for (int i = 0; i < NIMPL; i++)
			if (on_path((enum impl)i, (enum dir)d))
				json_impl(b, (enum impl)i, (enum dir)d);
		json_ratios(b, (enum dir)d);
		printf("  },\n");
	}
	printf("  \"targets\": [");
	for (size_t k = 0; k < nt; k++) {
		double r = ratio(b, t[k].d, t[k].over);

		printf("%s\n    { \"what\": ", k ? "," : "");
		json_string(t[k].what);
		printf(", \"path\": \"%s\", \"over\": \"%s\", \"want\": %.2f, ", dir_json[t[k].d],
		       impl_json[t[k].over], t[k].want);
		json_ratio("got", r, ", ");
		printf("\"met\": %s }", r > 0 ? (r >= t[k].want ? "true" : "false") : "null");
	}
	printf("%s],\n", nt ? "\n  " : "");
	printf("  \"sink_counted\": %s,\n", b->sink_counted ? "true" : "false");
	printf("  \"module\": { \"tx_datagrams\": %" PRIu64 ", \"tx_syscalls\": %" PRIu64
	       ", \"rx_datagrams\": %" PRIu64 ", \"rx_syscalls\": %" PRIu64
	       ", \"fallback_batches\": %" PRIu64 ", \"gso_counted\": %s, \"gso_sends\": %" PRIu64
	       ", \"gso_segments\": %" PRIu64 ", \"gso_fallbacks\": %" PRIu64
	       ", \"gro_counted\": %s, \"gro_receives\": %" PRIu64 ", \"gro_segments\": %" PRIu64
	       ", \"gro_carried\": %" PRIu64 ", \"rx_kernel_drops\": %" PRIu64
	       ", \"rx_truncated\": %" PRIu64 " }\n}\n",
	       b->after.tx - b->before.tx, b->after.txc - b->before.txc, b->after.rx - b->before.rx,
	       b->after.rxc - b->before.rxc, b->after.fallback - b->before.fallback,
	       b->gso_counted ? "true" : "false", b->after.gso_sends - b->before.gso_sends,
	       b->after.gso_segments - b->before.gso_segments,
	       b->after.gso_fallbacks - b->before.gso_fallbacks, b->gro_counted ? "true" : "false",
	       b->after.gro_receives - b->before.gro_receives,
	       b->after.gro_segments - b->before.gro_segments,
	       b->after.gro_carried - b->before.gro_carried,
	       b->after.rx_drops - b->before.rx_drops,
	       b->after.rx_truncated - b->before.rx_truncated);
}

/* --- entry --------------------------------------------------------------- */

int dgb_bench_main(const char *name, int argc, char **argv)
{
	struct bench b;
	int rc;

	progname = name;
	memset(&b, 0, sizeof(b));
	b.tx_fd = b.sink_fd = -1;
	for (int i = 0; i < NIMPL; i++)
		for (int d = 0; d < NDIR; d++)
			b.rx[i][d].fd = -1;
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
