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
 * The module comes from --config FILE, which must activate it; else from
 * OPENSSL_CONF when that activates it; else the tool finds dgrambatch.so
 * itself (locate.h: the build tree it runs from, OPENSSL_MODULES, the
 * installed modules directory, libcrypto's) and loads it by path into the
 * same library context, after OPENSSL_CONF if that is set, keeping
 * OpenSSL's default provider available.  The report names the file and how
 * it was found.
 *
 * --sweep measures a grid of payload sizes and batch sizes instead of one
 * point: at each point the send rows plugin, openssl, raw and raw-gso, and
 * on recv (a plain sender) and recv-gso (a sender of trains) the rows
 * plugin, plugin-gro-off, openssl and raw, and raw-gro on recv-gso: where
 * the module's GRO costs and where it pays.  The same measurement as below
 * with fewer rounds and shorter samples; one table row per point and row,
 * and with --plot a PNG drawn by gnuplot (a separate program, run on a
 * script and data files in a temporary directory).
 *
 * Progress goes to stderr, never stdout: on a terminal one line rewritten
 * in place, elsewhere (a CI log) a plain line now and then once a run has
 * gone on for a few seconds; --progress asks for a line at every step,
 * --quiet for none.
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
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "dgrambatch.h"
#include "probe/probe.h"
#include "bench.h"
#include "locate.h"

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
/*
 * --sweep: fewer rounds of shorter samples at each point, after shorter
 * warm-ups (a receive path's warm-up round still outlasts the ~0.1 s the
 * kernel's memory takes to settle after the sends: see run_paths), so that
 * the default grid (6 sizes by 7 batches, three paths) takes about two
 * minutes.  The grid's own defaults; a list takes at most MAX_LIST values.
 */
#define SWEEP_ROUNDS 3
#define SWEEP_SECONDS 0.05
#define SWEEP_WARMUP_SECONDS 0.05
#define SWEEP_SIZES "100,200,500,1000,1200,1472"
#define SWEEP_BATCHES "1,2,4,8,16,32,64"
#define MAX_LIST 32
/*
 * The plot's slices: throughput by batch size at this payload size, and by
 * payload size at this batch size, where the lists have them (else the
 * largest of each list).
 */
#define PLOT_SIZE 1200
#define PLOT_BATCH 32
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
/*
 * At most this many datagrams per fill, to bound the time a fill takes;
 * a sweep's samples are short, and so are its fills.
 */
#define MAX_QUEUED 65536
#define SWEEP_MAX_QUEUED 16384
/* Datagrams per sendmmsg call while filling: fills are not timed. */
#define FILL_BATCH 256
/*
 * How long a drain's calls may find the socket readable and deliver
 * nothing; how long an empty socket is watched (not timed) for datagrams
 * that come late before the rest of a fill counts as lost.  Loopback
 * delivers within the sending call, so none should come late, but on a
 * loaded machine the kernel may leave the delivery to ksoftirqd; the wait
 * is not timed, so a long one costs a rare late run a little, never a
 * figure.
 */
#define STALL_SECONDS 1.0
#define LATE_MILLISECONDS 500
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

/* Progress on stderr: as suits it (a terminal or a log), every step, none. */
enum progress_mode { PROGRESS_AUTO, PROGRESS_ALWAYS, PROGRESS_OFF };

struct options {
	const char *config; /* --config; NULL: OPENSSL_CONF, else the module located */
	size_t size;
	size_t batch;
	double seconds;
	int json;
	int mixed;
	int sweep;
	size_t sizes[MAX_LIST], nsizes;	    /* --sweep: in increasing order */
	size_t batches[MAX_LIST], nbatches; /* --sweep: in increasing order */
	const char *plot;		    /* --plot FILE, or NULL */
	enum progress_mode progress;
};

/*
 * Where the module came from: a configuration file that activates it, or
 * the file the tool found and loaded by path.
 */
struct provenance {
	OSSL_LIB_CTX *libctx;
	OSSL_PROVIDER *prov;
	char path[PATH_MAX];	/* the module file, as the module reports it */
	const char *config;	/* the configuration file loaded, or NULL */
	const char *config_by;	/* "--config" or "OPENSSL_CONF", or NULL */
	enum dgb_where where;	/* DGB_WHERE_NONE: the configuration activated it */
	char how[PATH_MAX + 96]; /* the same in words, for the reports */
};

/* The module's counters. */
struct module_counts {
	uint64_t tx, rx, txc, rxc, fallback;
	uint64_t gso_sends, gso_segments, gso_fallbacks;
	uint64_t gro_receives, gro_segments, gro_carried, rx_drops, rx_truncated;
};

/* What one implementation did on one path over the whole run. */
struct tally {
	double rate[ROUNDS];   /* datagrams per second, per round (b->rounds of them) */
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
	const struct provenance *src; /* shared by a sweep's points */
	OSSL_PROVIDER *prov;
	int rounds;		/* ROUNDS, or SWEEP_ROUNDS */
	size_t max_queued;	/* MAX_QUEUED, or SWEEP_MAX_QUEUED */
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

/* --- progress on stderr -------------------------------------------------- */

/*
 * On a terminal, one status line rewritten in place, from a second into
 * the run; elsewhere (a CI log, a file) a plain line after AUTO_FIRST
 * seconds and then every AUTO_EVERY, so that a short run prints none and a
 * long one a few; with --progress, a plain line at every step.
 */
#define TTY_FIRST 1.0
#define TTY_EVERY 0.1
#define AUTO_FIRST 5.0
#define AUTO_EVERY 10.0

/*
 * The progress of the run, one per process as progname is: the messages
 * below take a status line off the terminal before they print.
 */
static struct {
	enum progress_mode mode;
	int tty;	     /* stderr is a terminal: one line, rewritten */
	int showing;	     /* a status line is on the terminal now */
	int printed;	     /* plain lines printed */
	double start, last;  /* when the run began; when progress was last shown */
	size_t done, total;  /* samples taken, samples the run takes */
	char point[96];	     /* a sweep's point, "" in a single run */
} progress;

static double now(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux; a zero would show in the rates. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_clear(void)
{
	if (progress.showing)
		fputs("\r\033[K", stderr);
	progress.showing = 0;
}

static void progress_begin(enum progress_mode mode)
{
	memset(&progress, 0, sizeof(progress));
	progress.mode = mode;
	progress.tty = mode == PROGRESS_AUTO && isatty(STDERR_FILENO);
	progress.start = progress.last = now();
}

/* Progress, and the module line before it: never when --quiet. */
static int progress_wanted(void)
{
	return progress.mode != PROGRESS_OFF;
}

/*
 * A sample of row `impl` on path `path` is about to start, in round
 * `round` of `rounds` (a negative round: the warm-up).
 */
static void progress_step(const char *path, int round, int rounds, const char *impl)
{
	double t = now(), elapsed = t - progress.start, share;
	char line[256], left[48] = "";
	int n;

	if (progress.mode == PROGRESS_OFF)
		return;
	if (progress.tty ? elapsed < TTY_FIRST || t - progress.last < TTY_EVERY
			 : progress.mode == PROGRESS_AUTO &&
				   (elapsed < AUTO_FIRST ||
				    (progress.printed > 0 && t - progress.last < AUTO_EVERY)))
		return;
	progress.last = t;
	if (progress.done > 0 && progress.done < progress.total && elapsed >= 2) {
		double rest = elapsed * (double)(progress.total - progress.done) /
			      (double)progress.done;

		if (rest >= 1)
			snprintf(left, sizeof(left), ", about %.0f s left", rest);
		else
			snprintf(left, sizeof(left), ", almost done");
	}
	share = progress.total > 0 ? (double)progress.done / (double)progress.total : 0;
	n = snprintf(line, sizeof(line), "%s: bench: %3.0f%% after %.0f s%s: %s%s%s ", progname,
		     100 * share, elapsed, left, progress.point,
		     progress.point[0] != '\0' ? ", " : "", path);
	if (n > 0 && (size_t)n < sizeof(line)) {
		if (round < 0)
			snprintf(line + n, sizeof(line) - (size_t)n, "warm-up, %s", impl);
		else
			snprintf(line + n, sizeof(line) - (size_t)n, "round %d/%d, %s", round + 1,
				 rounds, impl);
	}
	if (progress.tty) {
		struct winsize ws;

		/* A line that wraps cannot be rewritten in place. */
		if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
		    ws.ws_col <= sizeof(line))
			line[ws.ws_col - 1] = '\0';
		fprintf(stderr, "\r\033[K%s", line);
		progress.showing = 1;
	} else {
		fprintf(stderr, "%s\n", line);
		progress.printed++;
	}
	fflush(stderr);
}

static void progress_end(void)
{
	progress_clear();
	if (progress.printed > 0)
		fprintf(stderr, "%s: bench: done after %.0f s\n", progname, now() - progress.start);
}

/* A message on stderr, after taking any status line off the terminal. */
static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void complain(const char *fmt, ...)
{
	va_list ap;

	progress_clear();
	fprintf(stderr, "%s: bench: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* --- arguments ----------------------------------------------------------- */

static int usage_error(const char *why)
{
	if (why != NULL)
		complain("%s", why);
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

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

/*
 * A comma-separated list of whole numbers in [min, max], at most MAX_LIST
 * of them, each once, into v in increasing order.
 */
static int parse_list(const char *arg, unsigned long min, unsigned long max, size_t *v,
		      size_t *n)
{
	*n = 0;
	for (const char *p = arg;; p++) {
		char item[24];
		size_t len = strcspn(p, ",");

		if (len == 0 || len >= sizeof(item) || *n == MAX_LIST)
			return 0;
		memcpy(item, p, len);
		item[len] = '\0';
		if (!parse_whole(item, min, max, &v[*n]))
			return 0;
		for (size_t k = 0; k < *n; k++)
			if (v[k] == v[*n])
				return 0;
		++*n;
		p += len;
		if (*p == '\0')
			break;
	}
	qsort(v, *n, sizeof(v[0]), cmp_size);
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

static int takes_value(const char *opt)
{
	static const char *const with_value[] = { "--config", "--size",    "--batch", "--seconds",
						  "--sizes",  "--batches", "--plot" };

	for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++)
		if (strcmp(opt, with_value[k]) == 0)
			return 1;
	return 0;
}

/*
 * Returns 0 or the usage error's exit status.  Where the module comes from
 * (--config, else OPENSSL_CONF, else located) is decided when it is loaded.
 */
static int parse_options(int argc, char **argv, struct options *o)
{
	int single = 0, grid = 0, seconds = 0;

	memset(o, 0, sizeof(*o));
	o->size = DEFAULT_SIZE;
	o->batch = DEFAULT_BATCH;
	o->seconds = DEFAULT_SECONDS;
	o->progress = PROGRESS_AUTO;
	(void)parse_list(SWEEP_SIZES, 1, MAX_SIZE, o->sizes, &o->nsizes);
	(void)parse_list(SWEEP_BATCHES, 1, DGB_MAX_MSGS, o->batches, &o->nbatches);

	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (strcmp(opt, "--mixed") == 0) {
			o->mixed = single = 1;
			continue;
		}
		if (strcmp(opt, "--sweep") == 0) {
			o->sweep = 1;
			continue;
		}
		if (strcmp(opt, "--progress") == 0 || strcmp(opt, "--quiet") == 0) {
			o->progress = opt[2] == 'p' ? PROGRESS_ALWAYS : PROGRESS_OFF;
			continue;
		}
		if (!takes_value(opt))
			return usage_error(NULL);
		if (val == NULL)
			return usage_error("an option lacks its value");
		i++;
		if (strcmp(opt, "--config") == 0)
			o->config = val;
		else if (strcmp(opt, "--plot") == 0 && *val == '\0')
			return usage_error("--plot takes a file name");
		else if (strcmp(opt, "--plot") == 0)
			o->plot = val;
		else if (strcmp(opt, "--size") == 0 && !parse_whole(val, 1, MAX_SIZE, &o->size))
			return usage_error("--size takes 1..65507");
		else if (strcmp(opt, "--batch") == 0 && !parse_whole(val, 1, DGB_MAX_MSGS, &o->batch))
			return usage_error("--batch takes 1.." STR(DGB_MAX_MSGS));
		else if (strcmp(opt, "--sizes") == 0 &&
			 !parse_list(val, 1, MAX_SIZE, o->sizes, &o->nsizes))
			return usage_error("--sizes takes a comma-separated list of distinct "
					   "sizes, each 1..65507, at most " STR(MAX_LIST));
		else if (strcmp(opt, "--batches") == 0 &&
			 !parse_list(val, 1, DGB_MAX_MSGS, o->batches, &o->nbatches))
			return usage_error("--batches takes a comma-separated list of distinct "
					   "batch sizes, each 1.." STR(DGB_MAX_MSGS) ", at most "
					   STR(MAX_LIST));
		else if (strcmp(opt, "--seconds") == 0 && !parse_seconds(val, &o->seconds))
			return usage_error("--seconds takes a decimal number from 0.01 to 60");
		single |= strcmp(opt, "--size") == 0 || strcmp(opt, "--batch") == 0;
		grid |= strcmp(opt, "--sizes") == 0 || strcmp(opt, "--batches") == 0 ||
			strcmp(opt, "--plot") == 0;
		seconds |= strcmp(opt, "--seconds") == 0;
	}
	if (o->sweep && single)
		return usage_error("--sweep measures --sizes by --batches: "
				   "--size, --batch and --mixed are for a single run");
	if (!o->sweep && grid)
		return usage_error("--sizes, --batches and --plot go with --sweep");
	if (o->sweep && !seconds)
		o->seconds = SWEEP_SECONDS;
	return 0;
}

/* --- small helpers ------------------------------------------------------- */

static int sys_failed(const char *what)
{
	complain("%s: %s", what, strerror(errno));
	return 0;
}

static int ssl_failed(const char *what)
{
	complain("%s", what);
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
 * the two BIOs' BIO_read.  A sweep measures the batched calls of the
 * module and of OpenSSL against the raw ceilings: on send without the
 * gso-off row (GSO only helps there), on recv and recv-gso with every row
 * (GRO costs on the one and pays on the other, and the gro-off row shows
 * both), and not on read.
 */
static int on_path(const struct bench *b, enum impl i, enum dir d)
{
	if (b->o.sweep && d == SEND)
		return i == PLUGIN || i == OPENSSL || i == RAW || i == RAW_GSO;
	if (b->o.sweep && d == READ)
		return 0;
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
	return on_path(b, i, d) && available(b, i, d);
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

		if ((i != NIMPL && k != (int)i) || !on_path(b, (enum impl)k, d) ||
		    !available(b, (enum impl)k, d))
			continue;
		va_start(ap, fmt);
		vsnprintf(b->unavailable[k][d], sizeof(b->unavailable[k][d]), fmt, ap);
		va_end(ap);
	}
}

static int impl_failed(const struct bench *b, enum impl i, enum dir d)
{
	complain("%s %s (%s) failed", impl_key[i], dir_key[d],
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

/*
 * Load the configuration file into pv's library context, as OpenSSL would
 * load it for an application; pv->prov is then the dgrambatch provider if
 * the file activates it.
 */
static int load_config(struct provenance *pv, const char *file, const char *by)
{
	if (!OSSL_LIB_CTX_load_config(pv->libctx, file)) {
		complain("cannot load the OpenSSL config file %s (%s)", file, by);
		ERR_print_errors_fp(stderr);
		return 0;
	}
	OSSL_PROVIDER_do_all(pv->libctx, pick_dgrambatch, &pv->prov);
	if (pv->prov != NULL) {
		pv->config = file;
		pv->config_by = by;
	}
	return 1;
}

static const char *where_key(enum dgb_where w)
{
	switch (w) {
	case DGB_WHERE_BUILD_TREE:
		return "build_tree";
	case DGB_WHERE_OPENSSL_MODULES:
		return "openssl_modules";
	case DGB_WHERE_INSTALLED:
		return "installed";
	case DGB_WHERE_LIBCRYPTO:
		return "libcrypto";
	case DGB_WHERE_NONE:
		break;
	}
	return "config";
}

/*
 * The module, in a library context of its own, from:
 *
 *  1. --config FILE, which must activate it: the user asked for that
 *     configuration (its gso, gro and max_batch) to be measured, and
 *     measuring another module instead would mislead;
 *  2. else OPENSSL_CONF, when that activates it: as any OpenSSL program
 *     would, with the settings it gives the module;
 *  3. else the file dgb_locate_module() finds (the build tree this program
 *     runs from, OPENSSL_MODULES, the installed modules directory,
 *     libcrypto's), loaded by path after OPENSSL_CONF if that is set (it
 *     is often set for other reasons, make check's pinned file for one,
 *     and the rest of it still holds).  OSSL_PROVIDER_try_load keeps
 *     OpenSSL's default provider as a fallback for anything that needs it.
 */
static int load_module(struct provenance *pv, const char *config)
{
	const char *env = getenv("OPENSSL_CONF"), *path = NULL;
	OSSL_PARAM p[] = { OSSL_PARAM_utf8_ptr(DGB_PARAM_MODULE_PATH, (char **)&path, 0),
			   OSSL_PARAM_END };
	char found[PATH_MAX];

	pv->libctx = OSSL_LIB_CTX_new();
	if (pv->libctx == NULL)
		return ssl_failed("cannot make a library context");
	if (config != NULL) {
		if (!load_config(pv, config, "--config"))
			return 0;
		if (pv->prov == NULL) {
			complain("%s does not activate the %s provider", config, DGB_PROVIDER_NAME);
			return 0;
		}
	} else if (env != NULL && *env != '\0' && !load_config(pv, env, "OPENSSL_CONF")) {
		return 0;
	}
	if (pv->prov == NULL) {
		pv->where = dgb_locate_module(found, sizeof(found));
		if (pv->where == DGB_WHERE_NONE) {
			const char *mods = getenv("OPENSSL_MODULES");

			complain("cannot find %s.so: it is not in a build tree this program "
				 "runs from, in OPENSSL_MODULES (%s), in %s (where make install "
				 "puts it) or in libcrypto's modules directory (%s); give --config "
				 "FILE",
				 DGB_PROVIDER_NAME, mods != NULL ? mods : "not set",
				 DGB_MODULESDIR_EXPANDED, OPENSSL_info(OPENSSL_INFO_MODULES_DIR));
			return 0;
		}
		/* OpenSSL would take a relative path as relative to its modules directory. */
		if (realpath(found, pv->path) == NULL)
			return sys_failed(found);
		pv->prov = OSSL_PROVIDER_try_load(pv->libctx, pv->path, 1);
		if (pv->prov == NULL) {
			complain("cannot load %s (found in %s)", pv->path,
				 dgb_where_name(pv->where));
			ERR_print_errors_fp(stderr);
			return 0;
		}
	}
	/* The file the module was loaded from, in its own words where it says. */
	if (OSSL_PROVIDER_get_params(pv->prov, p) && OSSL_PARAM_modified(&p[0]) &&
	    path != NULL && *path != '\0' && strlen(path) < sizeof(pv->path))
		memcpy(pv->path, path, strlen(path) + 1);
	else if (pv->path[0] == '\0')
		snprintf(pv->path, sizeof(pv->path), "-");
	ERR_clear_error();
	if (pv->config != NULL)
		snprintf(pv->how, sizeof(pv->how), "activated by %s%s%s", pv->config_by,
			 strcmp(pv->config_by, "--config") == 0 ? " " : "=", pv->config);
	else if (env != NULL && *env != '\0')
		snprintf(pv->how, sizeof(pv->how), "%s; OPENSSL_CONF=%s does not activate it",
			 dgb_where_name(pv->where), env);
	else
		snprintf(pv->how, sizeof(pv->how), "%s", dgb_where_name(pv->where));
	return 1;
}

static void unload_module(struct provenance *pv)
{
	/* The located module was loaded by us; a configured one belongs to the context. */
	if (pv->where != DGB_WHERE_NONE && pv->prov != NULL)
		OSSL_PROVIDER_unload(pv->prov);
	OSSL_LIB_CTX_free(pv->libctx);
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

			if (!on_path(b, (enum impl)i, (enum dir)d))
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
		complain("the provider hands out no BIO method");
		return 0;
	}
	b->bio[PLUGIN][SEND] = bio_on(module, b->tx_fd, b->sink_peer);
	if (on_path(b, PLUGIN_NOGSO, SEND))
		b->bio[PLUGIN_NOGSO][SEND] = bio_on(module, b->tx_fd, b->sink_peer);
	b->bio[OPENSSL][SEND] = bio_on(BIO_s_datagram(), b->tx_fd, b->sink_peer);
	if (b->bio[PLUGIN][SEND] == NULL || b->bio[OPENSSL][SEND] == NULL ||
	    (on_path(b, PLUGIN_NOGSO, SEND) && b->bio[PLUGIN_NOGSO][SEND] == NULL))
		return ssl_failed("cannot make the datagram BIOs");
	for (int d = FIRST_RECV; d < NDIR; d++)
		for (int i = 0; i < NIMPL; i++) {
			const BIO_METHOD *m = is_module((enum impl)i) ? module
				: i == OPENSSL ? BIO_s_datagram() : NULL;

			if (m == NULL || !on_path(b, (enum impl)i, (enum dir)d))
				continue;
			b->bio[i][d] = bio_on(m, b->rx[i][d].fd, NULL);
			if (b->bio[i][d] == NULL)
				return ssl_failed("cannot make the datagram BIOs");
			if (DGB_is_dgrambatch(b->bio[i][d]) != is_module((enum impl)i)) {
				complain("the BIOs are not what they should be");
				return 0;
			}
		}
	if (!DGB_is_dgrambatch(b->bio[PLUGIN][SEND]) ||
	    (on_path(b, PLUGIN_NOGSO, SEND) && !DGB_is_dgrambatch(b->bio[PLUGIN_NOGSO][SEND])) ||
	    DGB_is_dgrambatch(b->bio[OPENSSL][SEND])) {
		complain("the BIOs are not what they should be");
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
	if (!on_path(b, PLUGIN_NOGSO, SEND))
		; /* a sweep has no gso-off row */
	else if (DGB_set_gso(b->bio[PLUGIN_NOGSO][SEND], 0) != 1 ||
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

		if (!on_path(b, PLUGIN, (enum dir)d))
			continue;
		for (size_t i = 0; i < b->o.batch; i++)
			b->rx_msg[i].data_len = b->o.size;
		(void)DGB_recvmmsg(b->bio[PLUGIN][d], b->rx_msg, sizeof(DGB_MSG), b->o.batch, 0,
				   &done);
		ERR_clear_error();
#ifdef DGB_CTRL_SET_GRO
		b->gro_on[d] = DGB_get_gro(b->bio[PLUGIN][d]) == 1;
		if (!on_path(b, PLUGIN_NOGRO, (enum dir)d))
			; /* no gro-off row on this path */
		else if (DGB_set_gro(b->bio[PLUGIN_NOGRO][d], 0) != 1 ||
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

/*
 * The offloads the module is told the kernel lacks (DGRAMBATCH_CAPS_DISABLE,
 * or a probe that found them missing) are missing for the whole run: the
 * raw-gso row, the recv-gso path's trains and the raw-gro row are then
 * shown unavailable, as on a kernel without them, rather than measuring
 * what the module was told it cannot use.
 */
static void heed_caps(struct bench *b)
{
	if (!dgb_cap_usable(DGB_CAP_UDP_SEGMENT)) {
		set_unavailable(b, RAW_GSO, SEND,
				"no UDP_SEGMENT (the kernel lacks it, or DGRAMBATCH_CAPS_DISABLE)");
		set_unavailable(b, NIMPL, RECV_GSO, "no UDP_SEGMENT to send trains with (the "
				"kernel lacks it, or DGRAMBATCH_CAPS_DISABLE)");
	}
	if (!dgb_cap_usable(DGB_CAP_UDP_GRO))
		set_unavailable(b, RAW_GRO, RECV_GSO,
				"no UDP_GRO (the kernel lacks it, or DGRAMBATCH_CAPS_DISABLE)");
}

/* The raw-gro row's socket hands over trains whole. */
static void set_raw_gro(struct bench *b)
{
	int one = 1;

	if (!on_path(b, RAW_GRO, RECV_GSO) || !available(b, RAW_GRO, RECV_GSO))
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
		complain("out of memory");
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

	if (!runs(b, RAW_GSO, SEND))
		return 1;
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
static int readable(int fd, int ms);

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
	if (!open_sockets(b))
		return 0;
	read_route_mtu(b);
	if (!make_addr(&b->sink_peer, &b->sink_addr))
		return ssl_failed("cannot make the sink's address");
	if (!alloc_batches(b) || !make_bios(b))
		return 0;
	fill_batches(b);
	heed_caps(b);
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
	complain("%s", err != 0 ? strerror(err) : "nothing sent");
	return FAILED;
}

static enum outcome wrong_length(const char *what, size_t i, size_t len, size_t want)
{
	complain("%s %zu of the batch moved %zu bytes, not %zu", what, i, len, want);
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
		complain("raw-gso sends whole batches only");
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

	if (!runs(b, RAW, RECV_GSO))
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
	/* Loopback delivers within the send, unless a loaded kernel defers it. */
	got = 0;
	do {
		size_t more;

		if (!count_queue(b, b->rx[RAW][RECV_GSO].fd, &more, &trains))
			return 0;
		got += more;
	} while (got < b->train_min && readable(b->rx[RAW][RECV_GSO].fd, LATE_MILLISECONDS));
	if (got != b->train_min) {
		complain("a train of %zu datagrams arrived as %zu", b->train_min, got);
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
	if (offer > 2 * b->max_queued)
		offer = 2 * b->max_queued;
	for (size_t k = 0; k < sizeof(measured) / sizeof(measured[0]); k++) {
		enum impl i = measured[k];
		size_t held, trains;

		if (!runs(b, i, d))
			continue;
		if (!fill_queue(b, i, d, offer) || !count_queue(b, b->rx[i][d].fd, &held, &trains))
			return 0;
		/* Nothing yet: a loaded kernel may have deferred the delivery. */
		while (held == 0 && readable(b->rx[i][d].fd, LATE_MILLISECONDS))
			if (!count_queue(b, b->rx[i][d].fd, &held, &trains))
				return 0;
		if (!any || held < least)
			least = held;
		any = 1;
	}
	if (!any)
		return 1;
	b->queued[d] = least - least / 4;
	if (b->queued[d] > b->max_queued)
		b->queued[d] = b->max_queued;
	if (b->queued[d] == 0) {
		complain("%s: the receive buffer holds no %zu-byte datagram",
			dir_key[d], b->o.size);
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
			complain(
				"%s %s: the socket is readable, but %zu of %zu datagrams "
				"do not come",
				impl_key[i], dir_key[d], want - *got, want);
			return 0;
		}
		t0 = now();
	}
	*busy += now() - t0;
	if (*got > want) {
		complain("%s %s: %zu datagrams delivered, %zu were queued",
			impl_key[i], dir_key[d], *got, want);
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
		/* A short sample on a loaded machine may meet only a full queue. */
	} while (elapsed < seconds || (sent == 0 && elapsed < seconds + STALL_SECONDS));
	if (sent == 0) {
		complain("%s send moved nothing in %.2f s", impl_key[i], elapsed);
		return 0;
	}
	t->datagrams += sent;
	*moved = sent;
	*rate = (double)sent / elapsed;
	return 1;
}

/*
 * Fill and drain until `seconds` have passed, give or take half a fill and
 * drain (one more begun just before the end would make a short sample, a
 * sweep's, last up to twice as long); at least once.  Only the drains are
 * timed, so the rate is what implementation i delivers per second of its
 * own work.  The socket's drop count is read around each fill and drain.
 */
static int recv_sample(struct bench *b, enum impl i, enum dir d, double seconds, double *rate)
{
	struct tally *t = &b->tally[i][d];
	int fd = b->rx[i][d].fd;
	double start = now(), busy = 0, cycle, elapsed;
	uint64_t got = 0;

	do {
		uint32_t d0 = 0, d1 = 0;
		int counted = sock_drops(fd, &d0);
		double t0 = now();
		size_t n;

		if (!fill_queue(b, i, d, b->queued[d]) || !drain_queue(b, i, d, &busy, &n))
			return 0;
		got += n;
		if (counted && sock_drops(fd, &d1))
			t->kernel_drops += (uint32_t)(d1 - d0);
		elapsed = now() - start;
		cycle = now() - t0;
	} while (elapsed + cycle / 2 < seconds);
	t->datagrams += got;
	if (got == 0) {
		complain("%s %s delivered nothing", impl_key[i],
			dir_key[d]);
		return 0;
	}
	if (!(busy > 0)) {
		complain("the clock did not move");
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
			progress_step(dir_key[d], round, b->rounds, impl_key[i]);
			if (!sample(b, (enum impl)i, (enum dir)d, seconds, &rate))
				return 0;
			progress.done++;
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
	if (!run_round(b, first, last,
		       b->o.sweep ? SWEEP_WARMUP_SECONDS : warmup_seconds[first], -1))
		return 0;
	for (int r = 0; r < b->rounds; r++)
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
			complain(
				"the module counted %" PRIu64 " datagrams %s and "
				"%" PRIu64 " %s while the %s %s row moved %" PRIu64 " through %s",
				got, d == SEND ? "sent" : "received", other,
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
		b->gro_after[d] = on_path(b, PLUGIN, (enum dir)d) &&
				  DGB_get_gro(b->bio[PLUGIN][d]) == 1;
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

/* The median of the first n (1..ROUNDS) rates. */
static double median(const double *v, int n)
{
	double s[ROUNDS];

	memcpy(s, v, (size_t)n * sizeof(s[0]));
	qsort(s, (size_t)n, sizeof(s[0]), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* (max - min) / median: how much the rounds disagreed. */
static double spread(const double *v, int n)
{
	double lo = v[0], hi = v[0];

	for (int r = 1; r < n; r++) {
		lo = v[r] < lo ? v[r] : lo;
		hi = v[r] > hi ? v[r] : hi;
	}
	return (hi - lo) / median(v, n);
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
	return median(b->tally[PLUGIN][d].rate, b->rounds) /
	       median(b->tally[over][d].rate, b->rounds);
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
	printf("module: %s (%s)\n", b->src->path, b->src->how);
	printf("median of %d rounds of %.2f s per implementation, interleaved: the send rows, "
	       "then all receive rows\n",
	       b->rounds, b->o.seconds);
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
			double m = median(tl->rate, b->rounds);

			if (!on_path(b, (enum impl)i, (enum dir)d))
				continue;
			if (!available(b, (enum impl)i, (enum dir)d)) {
				printf("%-8s  %-14s  %-48s unavailable: %s\n", dir_key[d],
				       impl_key[i], b->call[i][d], b->unavailable[i][d]);
				continue;
			}
			printf("%-8s  %-14s  %-48s %13.0f %9.3f %6.1f%% %10" PRIu64 " %8" PRIu64
			       "\n",
			       dir_key[d], impl_key[i], b->call[i][d], m, gbits(b, (enum dir)d, m),
			       100 * spread(tl->rate, b->rounds), tl->transient,
			       lost(tl, (enum dir)d));
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

/* A JSON string, or null. */
static void json_string_or_null(const char *s)
{
	if (s != NULL)
		json_string(s);
	else
		fputs("null", stdout);
}

/* Where the module came from, as "provider": { ... } and a comma. */
static void json_provenance(const struct provenance *pv)
{
	printf("  \"provider\": { \"module_path\": ");
	json_string(pv->path);
	printf(", \"origin\": \"%s\", \"origin_text\": ", where_key(pv->where));
	json_string(pv->how);
	printf(", \"config\": ");
	json_string_or_null(pv->config);
	printf(", \"config_from\": ");
	json_string_or_null(pv->config_by);
	printf(" },\n");
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
	double m = median(t->rate, b->rounds);

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
	       m, gbits(b, d, m), spread(t->rate, b->rounds), t->transient);
	for (int r = 0; r < b->rounds; r++)
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

		if (!on_path(b, over[k], d))
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
	json_provenance(b->src);
	printf("  \"size\": %zu, \"batch\": %zu, \"mixed\": %s, \"send_bytes_per_datagram\": %.1f,"
	       " \"seconds\": %.3f, \"rounds\": %d,\n",
	       b->o.size, b->o.batch, b->o.mixed ? "true" : "false", bytes_per_datagram(b, SEND),
	       b->o.seconds, b->rounds);
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
			if (on_path(b, (enum impl)i, (enum dir)d))
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

/* --- the sweep ----------------------------------------------------------- */

/* The paths a sweep measures, in the order of its reports, and their indices there. */
static const enum dir sweep_dir[] = { SEND, RECV, RECV_GSO };
#define SWEEP_NDIR 3
enum { SW_SEND, SW_RECV, SW_RECV_GSO };

/* What one row did at one point of a sweep. */
struct cell {
	enum { CELL_FAILED, CELL_MEASURED, CELL_UNAVAILABLE } state;
	double rate, spread; /* median datagrams per second; (max - min) / median */
	uint64_t lost, transient;
	char call[64];
	char why[160]; /* unavailable: why */
};

struct point {
	size_t size, batch;
	int ok;		     /* the point's run completed */
	int route_fragments; /* the route to 127.0.0.1 was below the datagrams' size */
	int gso_on;	     /* the send plugin row's BIO used GSO */
	int gro_on[SWEEP_NDIR]; /* the receive plugin rows' BIOs turned GRO on */
	size_t train_min, train_max; /* recv-gso: datagrams per train */
	struct cell cell[NIMPL][SWEEP_NDIR];
};

struct sweep {
	struct point *pt;
	size_t n;
	int native;		  /* the running libcrypto has BIO_sendmmsg */
	size_t gso_points;	  /* points where the send plugin row used GSO */
	size_t gro_points[SWEEP_NDIR]; /* points where a receive plugin row used GRO */
	char gso_setting[16], gro_setting[16];
	char why_no_gro[96];	  /* why the plugin rows' BIOs did not, at the first point */
	size_t train_lo, train_hi; /* recv-gso: the shortest and longest trains sent */
	int sink_counted;	  /* every point could count its sink's drops */
	uint64_t send_lost, recv_lost;
	int failed;		  /* points that did not complete */
};

static void bench_init(struct bench *b, const struct options *o, const struct provenance *src)
{
	memset(b, 0, sizeof(*b));
	b->o = *o;
	b->src = src;
	b->prov = src->prov;
	b->rounds = o->sweep ? SWEEP_ROUNDS : ROUNDS;
	b->max_queued = o->sweep ? SWEEP_MAX_QUEUED : MAX_QUEUED;
	b->tx_fd = b->sink_fd = -1;
	for (int i = 0; i < NIMPL; i++)
		for (int d = 0; d < NDIR; d++)
			b->rx[i][d].fd = -1;
}

/* The samples a run takes: a warm-up and every round, for each row that runs. */
static size_t samples(const struct bench *b, int (*counts)(const struct bench *, enum impl,
							     enum dir))
{
	size_t n = 0;

	for (int d = 0; d < NDIR; d++)
		for (int i = 0; i < NIMPL; i++)
			n += counts(b, (enum impl)i, (enum dir)d) ? (size_t)b->rounds + 1 : 0;
	return n;
}

/* Measure one point with a bench of its own, and keep what each row did. */
static void sweep_point(const struct bench *proto, struct sweep *sw, struct point *pt)
{
	struct bench *b = malloc(sizeof(*b));

	if (b == NULL) {
		complain("out of memory");
		sw->failed++;
		return;
	}
	bench_init(b, &proto->o, proto->src);
	b->o.size = pt->size;
	b->o.batch = pt->batch;
	pt->ok = set_up(b) && run(b);
	sw->failed += !pt->ok;
	pt->route_fragments = route_too_small(b);
	pt->gso_on = b->gso_before;
	sw->gso_points += pt->ok && pt->gso_on;
	for (int k = 0; k < SWEEP_NDIR; k++) {
		pt->gro_on[k] = sweep_dir[k] != SEND && b->gro_on[sweep_dir[k]];
		sw->gro_points[k] += pt->ok && pt->gro_on[k];
	}
	if (available(b, RAW, RECV_GSO)) {
		pt->train_min = b->train_min;
		pt->train_max = b->train_max;
	}
	if (pt->ok && available(b, RAW, RECV_GSO)) {
		if (sw->train_lo == 0 || pt->train_min < sw->train_lo)
			sw->train_lo = pt->train_min;
		if (pt->train_max > sw->train_hi)
			sw->train_hi = pt->train_max;
	}
	if (pt == &sw->pt[0]) {
		sw->native = b->native[SEND] != NULL;
		snprintf(sw->gso_setting, sizeof(sw->gso_setting), "%s", b->gso_setting);
		snprintf(sw->gro_setting, sizeof(sw->gro_setting), "%s", b->gro_setting);
		snprintf(sw->why_no_gro, sizeof(sw->why_no_gro), "%s", why_no_gro(b));
		sw->sink_counted = 1;
	}
	if (pt->ok && !b->sink_counted)
		sw->sink_counted = 0;
	for (int k = 0; k < SWEEP_NDIR; k++) {
		enum dir d = sweep_dir[k];

		for (int i = 0; i < NIMPL; i++) {
			const struct tally *t = &b->tally[i][d];
			struct cell *c = &pt->cell[i][k];

			if (!on_path(b, (enum impl)i, d))
				continue;
			snprintf(c->call, sizeof(c->call), "%s", b->call[i][d]);
			if (!available(b, (enum impl)i, d)) {
				c->state = CELL_UNAVAILABLE;
				snprintf(c->why, sizeof(c->why), "%s", b->unavailable[i][d]);
			} else if (pt->ok) {
				c->state = CELL_MEASURED;
				c->rate = median(t->rate, b->rounds);
				c->spread = spread(t->rate, b->rounds);
				c->lost = lost(t, d);
				c->transient = t->transient;
				if (d == SEND)
					sw->send_lost += c->lost;
				else
					sw->recv_lost += c->lost;
			}
		}
	}
	tear_down(b);
	free(b);
}

static int sweep_runs(const struct point *pt, enum impl i, int k)
{
	return pt->cell[i][k].state == CELL_MEASURED;
}

/* Row i over row `over` at a point, 0 when either did not run. */
static double sweep_ratio_of(const struct point *pt, int k, enum impl i, enum impl over)
{
	if (!sweep_runs(pt, i, k) || !sweep_runs(pt, over, k))
		return 0;
	return pt->cell[i][k].rate / pt->cell[over][k].rate;
}

/* plugin over `over` at a point, 0 when either did not run. */
static double sweep_ratio(const struct point *pt, int k, enum impl over)
{
	return sweep_ratio_of(pt, k, PLUGIN, over);
}

static double sweep_gbits(const struct point *pt, double rate)
{
	return rate * (double)pt->size * 8 / 1e9;
}

static void print_list(const size_t *v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		printf("%s%zu", k ? "," : "", v[k]);
}

/* What the sweep's rows call, in general (each point's calls are in the JSON). */
static void print_sweep_rows(const struct sweep *sw)
{
	printf("rows: plugin          the dgrambatch module's BIO as configured (GSO and GRO auto "
	       "by default): %s\n",
	       sw->native ? "DGB_sendmmsg/DGB_recvmmsg = BIO_sendmmsg/BIO_recvmmsg"
			  : "DGB_sendmmsg/DGB_recvmmsg through the module's own control");
	printf("      plugin-gro-off  (recv, recv-gso) the same after DGB_set_gro(b, 0): the "
	       "module's batching without GRO\n");
	printf("      openssl         OpenSSL's BIO_s_datagram: %s\n",
	       sw->native ? "BIO_sendmmsg/BIO_recvmmsg"
			  : "one BIO_write/BIO_read per datagram (no BIO_sendmmsg before 3.2)");
	printf("      raw             the ceiling without the BIOs: sendmmsg(2)/recvmmsg(2) on the "
	       "socket\n");
	printf("      raw-gso         (send) the ceiling with segmentation: the batch in "
	       "UDP_SEGMENT sends of up to 64 datagrams\n");
	printf("      raw-gro         (recv-gso) the ceiling with GRO: recvmsg(2) on a UDP_GRO "
	       "socket, a whole train a call\n");
}

/* A ratio of the matrices, in brackets if asked, "-" when a row did not run. */
static void print_sweep_cell(double r, int width, int brackets)
{
	char buf[32];

	if (r > 0)
		snprintf(buf, sizeof(buf), "%s%.2f%s", brackets ? "(" : "", r, brackets ? ")" : "");
	else
		snprintf(buf, sizeof(buf), "%s", brackets ? "(-)" : "-");
	printf("%*s", width, buf);
}

/*
 * A table of plugin/openssl by payload size (rows) and batch size
 * (columns); on the receive paths with plugin-gro-off/openssl beside each
 * figure, in brackets: GRO auto and GRO off, each against OpenSSL.
 */
static void print_sweep_matrix(const struct bench *proto, const struct sweep *sw, int k)
{
	static const char *const sender[SWEEP_NDIR] = {
		"", "from a plain sender (nothing to coalesce)", "from a GSO sender (trains)"
	};
	const struct options *o = &proto->o;
	int gro = sweep_dir[k] != SEND, width = gro ? 13 : 7;

	printf("\n%s: plugin/openssl in datagrams per second (rows: payload bytes, columns: "
	       "batch)\n",
	       dir_key[sweep_dir[k]]);
	if (gro)
		printf("%*s  %s: with GRO auto, and in brackets with GRO off "
		       "(plugin-gro-off/openssl)\n",
		       (int)strlen(dir_key[sweep_dir[k]]), "", sender[k]);
	printf("%6s", "bytes");
	for (size_t j = 0; j < o->nbatches; j++)
		printf(" %*zu", width, o->batches[j]);
	printf("\n");
	for (size_t s = 0; s < o->nsizes; s++) {
		printf("%6zu", o->sizes[s]);
		for (size_t j = 0; j < o->nbatches; j++) {
			const struct point *pt = &sw->pt[s * o->nbatches + j];

			printf(" ");
			if (!gro) {
				print_sweep_cell(sweep_ratio(pt, k, OPENSSL), width, 0);
				continue;
			}
			print_sweep_cell(sweep_ratio(pt, k, OPENSSL), 5, 0);
			print_sweep_cell(sweep_ratio_of(pt, k, PLUGIN_NOGRO, OPENSSL), width - 5,
					 1);
		}
		printf("\n");
	}
}

static void print_sweep_text(const struct bench *proto, const struct sweep *sw)
{
	const struct options *o = &proto->o;
	int fragments = 0;

	printf("dgrambatch bench --sweep: payload sizes ");
	print_list(o->sizes, o->nsizes);
	printf(" bytes by batches of ");
	print_list(o->batches, o->nbatches);
	printf(" on 127.0.0.1\n");
	printf("OpenSSL %s (built with %s)\n", OpenSSL_version(OPENSSL_VERSION_STRING),
	       OPENSSL_VERSION_TEXT);
	printf("module: %s (%s)\n", proto->src->path, proto->src->how);
	printf("at each point: median of %d rounds of %.2f s per row, after a warm-up; the send "
	       "rows, then the rows of both receive paths\n",
	       SWEEP_ROUNDS, o->seconds);
	printf("module GSO: gso = %s, on in the send plugin row's BIO at %zu of %zu points (it "
	       "segments runs of 2 datagrams or more)\n",
	       sw->gso_setting, sw->gso_points, sw->n);
	if (sw->gro_points[SW_RECV] + sw->gro_points[SW_RECV_GSO] > 0)
		printf("module GRO: gro = %s, turned on by the plugin row's BIO at %zu of %zu "
		       "points on recv and %zu on recv-gso\n            (by a batched receive of 2 "
		       "or more); the plugin-gro-off rows' BIOs keep it off\n",
		       sw->gro_setting, sw->gro_points[SW_RECV], sw->n,
		       sw->gro_points[SW_RECV_GSO]);
	else
		printf("module GRO: gro = %s, never turned on (%s): the plugin and plugin-gro-off "
		       "rows do the same\n",
		       sw->gro_setting, o->batches[o->nbatches - 1] < 2
						? "a receive of 1 leaves it to a later one"
						: sw->why_no_gro);
	printf("send:     batches to a socket not read while timed (the rates are the sender's)\n");
	printf("recv:     from a plain sender, datagrams sent one by one: GRO finds nothing to "
	       "coalesce and only costs\n          (gro = off suits a server that never receives "
	       "trains: dgrambatch(7), UDP RECEIVE OFFLOAD)\n");
	if (sw->train_hi > 0)
		printf("recv-gso: from a GSO sender, trains of %zu to %zu datagrams sent with "
		       "UDP_SEGMENT (as OpenSSL's QUIC stack\n          sends through the module): "
		       "a socket with UDP_GRO takes each train whole, where GRO pays\n",
		       sw->train_lo, sw->train_hi);
	else
		printf("recv-gso: from a GSO sender, trains sent with UDP_SEGMENT: not measured "
		       "(see the table)\n");
	printf("both receive paths drain batches from a full queue (the rates are the "
	       "receiver's); see dgrambatch(1)\n");
	print_sweep_rows(sw);
	for (size_t p = 0; p < sw->n; p++)
		fragments |= sw->pt[p].route_fragments;
	if (fragments)
		printf("WARNING: the route to 127.0.0.1 has a small cached path MTU (ip route get "
		       "127.0.0.1): larger datagrams\n         were fragmented and segmented sends "
		       "refused, so those figures are not loopback's own\n");
	printf("\n%-8s %6s %6s  %-14s %13s %9s %7s %8s\n", "path", "bytes", "batch", "impl",
	       "datagrams/s", "Gbit/s", "spread", "lost");
	for (int k = 0; k < SWEEP_NDIR; k++)
		for (size_t p = 0; p < sw->n; p++) {
			const struct point *pt = &sw->pt[p];

			for (int i = 0; i < NIMPL; i++) {
				const struct cell *c = &pt->cell[i][k];

				if (!on_path(proto, (enum impl)i, sweep_dir[k]))
					continue;
				printf("%-8s %6zu %6zu  %-14s ", dir_key[sweep_dir[k]], pt->size,
				       pt->batch, impl_key[i]);
				if (c->state == CELL_MEASURED)
					printf("%13.0f %9.3f %6.1f%% %8" PRIu64 "\n", c->rate,
					       sweep_gbits(pt, c->rate), 100 * c->spread, c->lost);
				else if (c->state == CELL_UNAVAILABLE)
					printf("unavailable: %s\n", c->why);
				else
					printf("FAILED (see the messages above)\n");
			}
		}
	for (int k = 0; k < SWEEP_NDIR; k++)
		print_sweep_matrix(proto, sw, k);
	printf("\nspread: (highest - lowest) / median of the rounds; lost: send, datagrams neither "
	       "read nor dropped at the sink%s;\nrecv, datagrams filled and never delivered. "
	       "In all: %" PRIu64 " lost on send, %" PRIu64 " on recv%s\n",
	       sw->sink_counted ? "" : " (not counted here: no SO_MEMINFO)", sw->send_lost,
	       sw->recv_lost,
	       sw->send_lost + sw->recv_lost > 0 ? " (those rows' rates are off)" : "");
	if (sw->failed > 0)
		printf("%d of %zu points FAILED\n", sw->failed, sw->n);
}

static void json_cell(const struct point *pt, const struct cell *c, enum impl i)
{
	printf("\"%s\": { \"call\": ", impl_json[i]);
	json_string(c->call);
	if (c->state == CELL_UNAVAILABLE) {
		printf(", \"unavailable\": ");
		json_string(c->why);
	} else if (c->state == CELL_FAILED) {
		printf(", \"failed\": true");
	} else {
		printf(", \"datagrams_per_second\": %.0f, \"gbit_per_second\": %.4f, "
		       "\"spread\": %.4f, \"transient\": %" PRIu64 ", \"lost\": %" PRIu64,
		       c->rate, sweep_gbits(pt, c->rate), c->spread, c->transient, c->lost);
	}
	printf(" }");
}

static void print_sweep_json(const struct bench *proto, const struct sweep *sw)
{
	const struct options *o = &proto->o;

	printf("{\n  \"sweep\": true,\n  \"openssl\": { \"build\": ");
	json_string(OPENSSL_VERSION_TEXT);
	printf(", \"runtime\": ");
	json_string(OpenSSL_version(OPENSSL_VERSION));
	printf(", \"bio_sendmmsg\": %s },\n", sw->native ? "true" : "false");
	json_provenance(proto->src);
	printf("  \"sizes\": [");
	for (size_t k = 0; k < o->nsizes; k++)
		printf("%s%zu", k ? ", " : "", o->sizes[k]);
	printf("], \"batches\": [");
	for (size_t k = 0; k < o->nbatches; k++)
		printf("%s%zu", k ? ", " : "", o->batches[k]);
	printf("], \"seconds\": %.3f, \"rounds\": %d,\n", o->seconds, SWEEP_ROUNDS);
	printf("  \"gso\": { \"setting\": ");
	json_string(sw->gso_setting);
	printf(", \"points_in_use\": %zu }, \"gro\": { \"setting\": ", sw->gso_points);
	json_string(sw->gro_setting);
	printf(", \"points_in_use\": %zu, \"points_in_use_gso\": %zu },\n",
	       sw->gro_points[SW_RECV], sw->gro_points[SW_RECV_GSO]);
	printf("  \"sink_counted\": %s, \"send_lost\": %" PRIu64 ", \"recv_lost\": %" PRIu64
	       ", \"failed_points\": %d,\n  \"points\": [",
	       sw->sink_counted ? "true" : "false", sw->send_lost, sw->recv_lost, sw->failed);
	for (size_t p = 0; p < sw->n; p++) {
		const struct point *pt = &sw->pt[p];

		printf("%s\n    { \"size\": %zu, \"batch\": %zu, \"ok\": %s, "
		       "\"route_fragments\": %s, \"gso\": %s, \"gro\": %s, \"gro_gso\": %s, "
		       "\"trains\": ",
		       p ? "," : "", pt->size, pt->batch, pt->ok ? "true" : "false",
		       pt->route_fragments ? "true" : "false", pt->gso_on ? "true" : "false",
		       pt->gro_on[SW_RECV] ? "true" : "false",
		       pt->gro_on[SW_RECV_GSO] ? "true" : "false");
		if (pt->train_max > 0)
			printf("{ \"min\": %zu, \"max\": %zu }", pt->train_min, pt->train_max);
		else
			printf("null");
		for (int k = 0; k < SWEEP_NDIR; k++) {
			const char *sep = "";

			printf(",\n      \"%s\": { ", dir_json[sweep_dir[k]]);
			for (int i = 0; i < NIMPL; i++) {
				if (!on_path(proto, (enum impl)i, sweep_dir[k]))
					continue;
				json_cell(pt, &pt->cell[i][k], (enum impl)i);
				printf(",\n        ");
			}
			/* plugin over every other row, and GRO off against OpenSSL. */
			for (int i = 0; i < NIMPL; i++) {
				char key[64];

				if (i == PLUGIN || !on_path(proto, (enum impl)i, sweep_dir[k]))
					continue;
				snprintf(key, sizeof(key), "plugin_over_%s", impl_json[i]);
				printf("%s", sep);
				json_ratio(key, sweep_ratio(pt, k, (enum impl)i), "");
				sep = ", ";
			}
			if (on_path(proto, PLUGIN_NOGRO, sweep_dir[k])) {
				printf("%s", sep);
				json_ratio("plugin_gro_off_over_openssl",
					   sweep_ratio_of(pt, k, PLUGIN_NOGRO, OPENSSL), "");
			}
			printf(" }");
		}
		printf(" }");
	}
	printf("\n  ]\n}\n");
}

/* --- the sweep's plot ---------------------------------------------------- */

/*
 * gnuplot, run as a program of its own: DGRAMBATCH_GNUPLOT when set, else
 * the first gnuplot in PATH.  NULL when there is none; *why says what was
 * looked for.
 */
static const char *find_gnuplot(char *buf, size_t size, const char **why)
{
	const char *env = getenv("DGRAMBATCH_GNUPLOT"), *path = getenv("PATH");
	struct stat st;

	if (env != NULL && *env != '\0') {
		*why = "DGRAMBATCH_GNUPLOT names no program";
		return access(env, X_OK) == 0 && stat(env, &st) == 0 && S_ISREG(st.st_mode) ? env
											  : NULL;
	}
	*why = "gnuplot is not installed (apt-get install gnuplot-nox)";
	for (const char *p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0';) {
		size_t len = strcspn(p, ":");
		int n = snprintf(buf, size, "%.*s/gnuplot", (int)len, len > 0 ? p : ".");

		if (n > 0 && (size_t)n < size && access(buf, X_OK) == 0 && stat(buf, &st) == 0 &&
		    S_ISREG(st.st_mode))
			return buf;
		p += len;
		p += *p == ':';
	}
	return NULL;
}

/* The directory --plot writes into must be there: found out before the sweep, not after. */
static int plot_dir_writable(const char *file)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(file, '/');
	size_t len = slash == NULL ? 1 : slash == file ? 1 : (size_t)(slash - file);

	if (len >= sizeof(dir)) {
		complain("--plot %s: the name is too long", file);
		return 0;
	}
	memcpy(dir, slash == NULL ? "." : file, len);
	dir[len] = '\0';
	if (access(dir, W_OK) != 0) {
		complain("--plot %s: cannot write into %s: %s", file, dir, strerror(errno));
		return 0;
	}
	return 1;
}

/* Index of value in v[0..n), or the last (the largest) when it is not there. */
static size_t pick(const size_t *v, size_t n, size_t value)
{
	for (size_t k = 0; k < n; k++)
		if (v[k] == value)
			return k;
	return n - 1;
}

/* A file of the plot's, in the temporary directory; NULL after saying why. */
static FILE *plot_file(const char *dir, const char *name)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		complain("cannot write %s: %s", path, strerror(errno));
	return f;
}

static int plot_close(FILE *f)
{
	int bad = ferror(f);

	if (fclose(f) != 0 || bad) {
		complain("cannot write the plot's data: %s", strerror(errno));
		return 0;
	}
	return 1;
}

/* A value of the plot's data, "?" (missing) where the row did not run. */
static void plot_value(FILE *f, int runs, double v)
{
	if (runs)
		fprintf(f, " %.6g", v);
	else
		fprintf(f, " ?");
}

/* The rows a sweep plots, in the legends' order. */
static const enum impl plot_rows[] = { PLUGIN, PLUGIN_NOGRO, OPENSSL, RAW, RAW_GSO, RAW_GRO };
#define PLOT_NROWS 6

/* The curves' names in the legends; on the receive paths, how GRO was set. */
static const char *plot_name(const struct sweep *sw, enum impl i, int k)
{
	enum dir d = sweep_dir[k];

	switch (i) {
	case PLUGIN:
		if (d == SEND && sw->gso_points > 0)
			return "dgrambatch module (UDP GSO on)";
		if (d == SEND)
			return strcmp(sw->gso_setting, "off") == 0 ? "dgrambatch module (gso = off "
								     "configured)"
			       : strcmp(sw->gso_setting, "auto") == 0
				       ? "dgrambatch module (GSO auto, never on here)"
				       : "dgrambatch module";
		if (strcmp(sw->gro_setting, "off") == 0)
			return "dgrambatch module (gro = off configured)";
		if (strcmp(sw->gro_setting, "auto") != 0)
			return "dgrambatch module";
		return sw->gro_points[k] > 0 ? "dgrambatch module (GRO auto)"
					     : "dgrambatch module (GRO auto, never on here)";
	case PLUGIN_NOGRO:
		return "dgrambatch module (GRO off)";
	case OPENSSL:
		return d == SEND ? (sw->native ? "OpenSSL BIO_s_datagram (BIO_sendmmsg)"
					       : "OpenSSL BIO_s_datagram (BIO_write loop)")
				 : (sw->native ? "OpenSSL BIO_s_datagram (BIO_recvmmsg)"
					       : "OpenSSL BIO_s_datagram (BIO_read loop)");
	case RAW:
		return d == SEND   ? "raw sendmmsg ceiling"
		       : d == RECV ? "raw recvmmsg ceiling"
				   : "raw recvmmsg ceiling (trains split on arrival)";
	case RAW_GSO:
		return "raw sendmmsg + UDP_SEGMENT (GSO) ceiling";
	case RAW_GRO:
		return "raw recvmsg + UDP_GRO ceiling (a whole train a call)";
	default:
		return impl_key[i];
	}
}

/* Each row's colour and line, the same in every panel. */
static const char *const plot_style[NIMPL] = {
	[PLUGIN] = "lc rgb '#1f5fb4' lw 3 pt 7 ps 1.2",
	[PLUGIN_NOGRO] = "lc rgb '#5aa7e6' lw 3 dt 2 pt 9 ps 1.3",
	[OPENSSL] = "lc rgb '#c8321e' lw 2 pt 5 ps 1.1",
	[RAW] = "lc rgb '#555555' lw 2 dt 2 pt 6",
	[RAW_GSO] = "lc rgb '#2a9a3a' lw 2 dt 4 pt 8",
	[RAW_GRO] = "lc rgb '#2a9a3a' lw 2 dt 4 pt 8",
};

/* The ratio panels' colours, a payload size each (in turn, when there are more). */
static const char *const size_colour[] = { "#1b9e77", "#d95f02", "#7570b3", "#e7298a",
					   "#66a61e", "#a6761d", "#e6ab02", "#444444" };
#define NCOLOURS (sizeof(size_colour) / sizeof(size_colour[0]))

/*
 * What the plot shows: the sweep, and the two slices of its grid, by
 * batch size at the payload size ps and by payload size at the batch size
 * pb (indices into the lists).
 */
struct plot {
	const struct bench *proto;
	const struct sweep *sw;
	size_t ps, pb;
};

enum panel { BY_BATCH, BY_SIZE };

static size_t slice_len(const struct plot *pl, enum panel p)
{
	return p == BY_BATCH ? pl->proto->o.nbatches : pl->proto->o.nsizes;
}

/* The n-th point of panel p's slice. */
static const struct point *slice_point(const struct plot *pl, enum panel p, size_t n)
{
	size_t nb = pl->proto->o.nbatches;

	return &pl->sw->pt[p == BY_BATCH ? pl->ps * nb + n : n * nb + pl->pb];
}

/* Whether row i of path k has a figure in panel p's slice. */
static int plot_shown(const struct plot *pl, enum panel p, int k, enum impl i)
{
	if (!on_path(pl->proto, i, sweep_dir[k]))
		return 0;
	for (size_t n = 0; n < slice_len(pl, p); n++)
		if (sweep_runs(slice_point(pl, p, n), i, k))
			return 1;
	return 0;
}

/* Why row i of path k has none there: as the table says it. */
static const char *plot_why(const struct plot *pl, enum panel p, int k, enum impl i)
{
	for (size_t n = 0; n < slice_len(pl, p); n++) {
		const struct cell *c = &slice_point(pl, p, n)->cell[i][k];

		if (c->state == CELL_UNAVAILABLE)
			return c->why;
	}
	return "its points FAILED";
}

/* Row i over OpenSSL at the payload size s and the batch size j (indices), 0 if not run. */
static double plot_ratio(const struct plot *pl, int k, enum impl i, size_t s, size_t j)
{
	return sweep_ratio_of(&pl->sw->pt[s * pl->proto->o.nbatches + j], k, i, OPENSSL);
}

/* Whether the ratio panel of path k has a curve of row i for the payload size s. */
static int ratio_shown(const struct plot *pl, int k, enum impl i, size_t s)
{
	for (size_t j = 0; j < pl->proto->o.nbatches; j++)
		if (plot_ratio(pl, k, i, s, j) > 0)
			return 1;
	return 0;
}

/* The first n bytes of s as a gnuplot string: single quotes take no escapes, '' is a quote. */
static void plot_quote_n(FILE *f, const char *s, size_t n)
{
	fputc('\'', f);
	for (size_t k = 0; k < n && s[k] != '\0'; k++) {
		if (s[k] == '\'')
			fputc('\'', f);
		fputc(s[k], f);
	}
	fputc('\'', f);
}

static void plot_quote(FILE *f, const char *s)
{
	plot_quote_n(f, s, strlen(s));
}

/*
 * The reasons the plot gives are the table's, longer than a panel is
 * wide: they are cut at spaces into lines of at most PLOT_WRAP characters.
 */
#define PLOT_WRAP 52

/*
 * The next line of *s (a word longer than a line stays whole); *line is
 * where it starts, *s moves past it.  Returns its length, 0 at the end.
 */
static size_t next_line(const char **s, const char **line)
{
	const char *p = *s + strspn(*s, " ");
	size_t len = strlen(p), cut = PLOT_WRAP;

	*line = p;
	if (len <= PLOT_WRAP) {
		*s = p + len;
		return len;
	}
	while (cut > 0 && p[cut] != ' ')
		cut--;
	if (cut == 0)
		cut = strcspn(p, " ");
	*s = p + cut;
	return cut;
}

static int wrapped_lines(const char *text)
{
	const char *line;
	int n = 0;

	while (next_line(&text, &line) > 0)
		n++;
	return n;
}

/* Two lines, as a gnuplot string expression. */
static void plot_quote2(FILE *f, const char *first, const char *second)
{
	fputc('(', f);
	plot_quote(f, first);
	fputs(".\"\\n\".", f);
	plot_quote(f, second);
	fputc(')', f);
}

/*
 * The data files of each path: throughput by batch size at one payload
 * size (millions of datagrams per second), by payload size at one batch
 * size (Gbit/s), a column per row of plot_rows; and the module over
 * OpenSSL by batch size, a column per payload size, then the same for the
 * module with GRO off.
 */
static int write_plot_data(const struct plot *pl, const char *dir)
{
	const struct options *o = &pl->proto->o;

	for (int k = 0; k < SWEEP_NDIR; k++) {
		static const char *const kind[3] = { "batch", "size", "ratio" };
		FILE *f[3];

		for (int n = 0; n < 3; n++) {
			char name[32];

			snprintf(name, sizeof(name), "%s-%s.dat", dir_key[sweep_dir[k]], kind[n]);
			f[n] = plot_file(dir, name);
			if (f[n] == NULL) {
				while (n-- > 0)
					fclose(f[n]);
				return 0;
			}
		}
		for (int p = BY_BATCH; p <= BY_SIZE; p++)
			for (size_t n = 0; n < slice_len(pl, (enum panel)p); n++) {
				const struct point *pt = slice_point(pl, (enum panel)p, n);

				fprintf(f[p], "%zu", p == BY_BATCH ? pt->batch : pt->size);
				for (int r = 0; r < PLOT_NROWS; r++) {
					double rate = pt->cell[plot_rows[r]][k].rate;

					plot_value(f[p], sweep_runs(pt, plot_rows[r], k),
						   p == BY_BATCH ? rate / 1e6
								 : sweep_gbits(pt, rate));
				}
				fprintf(f[p], "\n");
			}
		for (size_t j = 0; j < o->nbatches; j++) {
			fprintf(f[2], "%zu", o->batches[j]);
			for (size_t s = 0; s < o->nsizes; s++) {
				double r = plot_ratio(pl, k, PLUGIN, s, j);

				plot_value(f[2], r > 0, r);
			}
			for (size_t s = 0; s < o->nsizes; s++) {
				double r = plot_ratio(pl, k, PLUGIN_NOGRO, s, j);

				plot_value(f[2], r > 0, r);
			}
			fprintf(f[2], "\n");
		}
		for (int n = 0; n < 3; n++)
			if (!plot_close(f[n]))
				return 0;
	}
	return 1;
}

/*
 * The x axis over the values measured, v[0] to v[n - 1] (increasing), on a
 * log scale of base logbase (0: linear): tics at exactly those values, and
 * 3% of the width to spare at each end.  The range is set, not autoscaled:
 * a panel whose curves have one point, or none, still has one.
 */
static void plot_x_axis(FILE *f, const size_t *v, size_t n, int logbase)
{
	size_t lo = v[0], hi = v[n - 1];

	if (logbase > 0)
		fprintf(f, "set logscale x %d\n", logbase);
	else
		fprintf(f, "unset logscale x\n");
	fprintf(f, "set xtics (");
	for (size_t k = 0; k < n; k++)
		fprintf(f, "%s'%zu' %zu", k ? ", " : "", v[k], v[k]);
	fprintf(f, ")\n");
	if (lo == hi)
		fprintf(f, "set xrange [%g:%g]\n", (double)lo * 0.9, (double)lo * 1.1);
	else if (logbase > 0)
		fprintf(f, "set xrange [%zu/(%zu/%zu.)**0.03:%zu*(%zu/%zu.)**0.03]\n", lo, hi, lo,
			hi, hi, lo);
	else
		fprintf(f, "set xrange [%g:%g]\n", (double)lo - 0.03 * (double)(hi - lo),
			(double)hi + 0.03 * (double)(hi - lo));
}

/*
 * A panel with nothing to draw: the reason across it, on a fixed y range
 * (autoscaling has nothing to go on), and an empty plot.
 */
static void plot_empty(FILE *f, const char *why)
{
	const char *line;
	size_t n;

	fprintf(f, "set label 1 'not measured:'");
	while ((n = next_line(&why, &line)) > 0) {
		fprintf(f, ".\"\\n\".");
		plot_quote_n(f, line, n);
	}
	fprintf(f, " at graph 0.5, graph 0.5 center\n");
	fprintf(f, "set yrange [0:1]\nplot NaN notitle\nunset label 1\nset yrange [0:*]\n");
}

/*
 * Panel p's curves: the rows of path k with a figure in its slice, from
 * file, columns 2 on.  A row of the path with none is left out, and its
 * legend entry (a blank line sample) says why instead; a panel with no
 * curve at all says why across it.
 */
static void plot_rows_cmd(FILE *f, const struct plot *pl, enum panel p, int k, const char *file)
{
	int col = 2, first = 1, curves = 0;

	for (int r = 0; r < PLOT_NROWS; r++)
		curves += plot_shown(pl, p, k, plot_rows[r]);
	if (curves == 0) {
		plot_empty(f, plot_why(pl, p, k, PLUGIN));
		return;
	}
	fprintf(f, "plot ");
	for (int r = 0; r < PLOT_NROWS; r++, col++) {
		enum impl i = plot_rows[r];
		const char *why, *line;
		char note[128];
		size_t n;

		if (!on_path(pl->proto, i, sweep_dir[k]))
			continue;
		fprintf(f, "%s", first ? "" : ", \\\n     ");
		first = 0;
		if (plot_shown(pl, p, k, i)) {
			fprintf(f, "'%s' using 1:%d with linespoints title ", file, col);
			plot_quote(f, plot_name(pl->sw, i, k));
			fprintf(f, " %s", plot_style[i]);
			continue;
		}
		/* An entry a line: gnuplot makes no room for titles of several lines. */
		snprintf(note, sizeof(note), "%s: not shown:", plot_name(pl->sw, i, k));
		fprintf(f, "NaN with lines lc rgb '#ffffff' title ");
		plot_quote(f, note);
		why = plot_why(pl, p, k, i);
		while ((n = next_line(&why, &line)) > 0) {
			fprintf(f, ", \\\n     NaN with lines lc rgb '#ffffff' title '    '.");
			plot_quote_n(f, line, n);
		}
	}
	fprintf(f, "\n");
}

/*
 * The ratio panel of path k: the module over OpenSSL by batch size, a
 * curve per payload size; on the receive paths with GRO auto (solid) and
 * GRO off (dashed, the same colour).  A payload size with no curve has a
 * legend entry that says so (its reason is in the table: the legend is
 * laid out in rows, where a note of several lines would not stay
 * together).
 */
static void plot_ratio_cmd(FILE *f, const struct plot *pl, int k)
{
	const struct options *o = &pl->proto->o;
	const char *file = dir_key[sweep_dir[k]];
	int any = 0, gro_off = 0;

	for (size_t s = 0; s < o->nsizes; s++) {
		any |= ratio_shown(pl, k, PLUGIN, s);
		gro_off |= ratio_shown(pl, k, PLUGIN_NOGRO, s);
	}
	if (!any && !gro_off) {
		plot_empty(f, plot_why(pl, BY_BATCH, k, OPENSSL));
		return;
	}
	fprintf(f, "plot 1 with lines lc rgb '#888888' dt 3 lw 2 title 'as fast as OpenSSL'");
	for (size_t s = 0; s < o->nsizes; s++)
		if (ratio_shown(pl, k, PLUGIN, s))
			fprintf(f, ", \\\n     '%s-ratio.dat' using 1:%zu with linespoints lw 2 "
				   "pt 7 lc rgb '%s' title '%zu-byte datagrams'",
				file, s + 2, size_colour[s % NCOLOURS], o->sizes[s]);
	for (size_t s = 0; s < o->nsizes; s++) {
		if (!ratio_shown(pl, k, PLUGIN_NOGRO, s))
			continue;
		fprintf(f, ", \\\n     '%s-ratio.dat' using 1:%zu with linespoints lw 2 dt 2 pt 6 "
			   "lc rgb '%s' ",
			file, o->nsizes + s + 2, size_colour[s % NCOLOURS]);
		if (any)
			fprintf(f, "notitle");
		else
			fprintf(f, "title '%zu-byte datagrams, GRO off'", o->sizes[s]);
	}
	for (size_t s = 0; s < o->nsizes; s++)
		if (!ratio_shown(pl, k, PLUGIN, s) && !ratio_shown(pl, k, PLUGIN_NOGRO, s))
			fprintf(f, ", \\\n     NaN with lines lc rgb '#ffffff' title "
				   "'%zu-byte datagrams: not measured (see the table)'",
				o->sizes[s]);
	if (any && gro_off)
		fprintf(f, ", \\\n     NaN with lines lc rgb '#000000' lw 2 title "
			   "'solid: GRO auto', \\\n     NaN with lines lc rgb '#000000' lw 2 dt 2 "
			   "title 'dashed: GRO off'");
	fprintf(f, "\n");
}

/* The highest rate (datagrams per second) plotted by batch size on path k. */
static double plot_top(const struct plot *pl, int k)
{
	double top = 0;

	for (size_t n = 0; n < slice_len(pl, BY_BATCH); n++)
		for (int r = 0; r < PLOT_NROWS; r++) {
			const struct point *pt = slice_point(pl, BY_BATCH, n);

			if (sweep_runs(pt, plot_rows[r], k) && pt->cell[plot_rows[r]][k].rate > top)
				top = pt->cell[plot_rows[r]][k].rate;
		}
	return top;
}

/* Lines the legends of path k's panels take, at most: a bottom margin fits them. */
static int plot_key_lines(const struct plot *pl, int k)
{
	const struct options *o = &pl->proto->o;
	/* The ratio panel's: "as fast", solid, dashed, a payload size each; three a line. */
	int most = 0, sizes = 1 + 2 + (int)o->nsizes;

	for (int p = BY_BATCH; p <= BY_SIZE; p++) {
		int lines = 0;

		for (int r = 0; r < PLOT_NROWS; r++) {
			enum impl i = plot_rows[r];

			if (!on_path(pl->proto, i, sweep_dir[k]))
				continue;
			lines += plot_shown(pl, (enum panel)p, k, i)
					 ? 1
					 : 1 + wrapped_lines(plot_why(pl, (enum panel)p, k, i));
		}
		most = lines > most ? lines : most;
	}
	return (sizes + 2) / 3 > most ? (sizes + 2) / 3 : most;
}

/* What path k's sender does, the first line of its panels' titles. */
static void plot_sender(char *buf, size_t len, int k, size_t lo, size_t hi)
{
	if (sweep_dir[k] == SEND)
		snprintf(buf, len, "Send: batches to a socket not read while timed");
	else if (sweep_dir[k] == RECV)
		snprintf(buf, len, "Receive from a plain sender: one datagram a send, nothing "
				   "to coalesce");
	else if (hi > 0 && lo != hi)
		snprintf(buf, len, "Receive from a GSO sender: trains of %zu to %zu datagrams "
				   "(UDP_SEGMENT)", lo, hi);
	else if (hi > 0)
		snprintf(buf, len, "Receive from a GSO sender: trains of %zu datagrams "
				   "(UDP_SEGMENT)", hi);
	else
		snprintf(buf, len, "Receive from a GSO sender: trains (UDP_SEGMENT)");
}

/*
 * The script: three rows of three panels, a path each (send; receive from
 * a plain sender; receive from a GSO sender); in each row, throughput by
 * batch size (at one payload size, with Gbit/s on the right-hand axis), by
 * payload size (at one batch size), and the module over OpenSSL by batch
 * size, a curve per payload size.  Each panel's title says first what the
 * path's sender does.  The legends go under the panels, where they hide
 * no curve, in bottom margins of one height so that the panels of a row
 * line up.  Single-quoted strings in gnuplot take no escapes but '' for a
 * quote, and noenhanced keeps the underscores of UDP_SEGMENT and
 * BIO_s_datagram as they are.
 */
static int write_plot_script(const struct plot *pl, const char *dir)
{
	const struct options *o = &pl->proto->o;
	const struct sweep *sw = pl->sw;
	size_t size = o->sizes[pl->ps], batch = o->batches[pl->pb];
	/* Millions of datagrams per second to Gbit/s of payload, at `size` bytes. */
	double to_gbits = (double)size * 8 / 1000;
	FILE *f = plot_file(dir, "plot.gp");

	if (f == NULL)
		return 0;
	fprintf(f, "# dgrambatch bench --sweep: the plot's script, written by the tool\n"
		   "set datafile missing '?'\n"
		   "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		   "    set terminal pngcairo noenhanced size 1800,2000 font ',11'\n"
		   "} else {\n"
		   "    set terminal png noenhanced size 1800,2000\n"
		   "}\n"
		   "set output 'plot.png'\n");
	fprintf(f,
		"set multiplot layout 3,3 title 'dgrambatch %s bench --sweep on 127.0.0.1 with "
		"OpenSSL %s: median of %d short rounds of %.2f s at each point (noisy); higher is "
		"better' font ',15'\n",
		PACKAGE_VERSION, OpenSSL_version(OPENSSL_VERSION_STRING), SWEEP_ROUNDS, o->seconds);
	fprintf(f, "set grid\nset key below left Left reverse samplen 3\n"
		   "set ytics nomirror\n");
	for (int k = 0; k < SWEEP_NDIR; k++) {
		const struct point *at = slice_point(pl, BY_BATCH, 0);
		const char *path = dir_key[sweep_dir[k]];
		const char *call = sweep_dir[k] == SEND ? "send" : "receive";
		char file[32], sender[128], what[96];
		double top;

		fprintf(f, "\n# %s\nset bmargin %d\n", path, 5 + plot_key_lines(pl, k));

		plot_sender(sender, sizeof(sender), k, at->train_min,
			    at->train_max);
		fprintf(f, "\n# %s: by batch size, %zu-byte datagrams\n", path, size);
		snprintf(what, sizeof(what), "%zu-byte datagrams, by batch size", size);
		fprintf(f, "set title ");
		plot_quote2(f, sender, what);
		fprintf(f, "\n");
		plot_x_axis(f, o->batches, o->nbatches, 2);
		fprintf(f, "set xlabel 'datagrams per %s call (batch size)'\n", call);
		fprintf(f, "set ylabel 'million datagrams per second'\n");
		/*
		 * Both ranges set here: y2 tics of their own, not y's scaled, and
		 * the two axes agree at every height.
		 */
		top = plot_top(pl, k) / 1e6 * 1.08;
		if (!(top > 0))
			top = 1;
		fprintf(f, "set yrange [0:%.6g]\nset y2range [0:%.6g]\n", top, top * to_gbits);
		fprintf(f, "set y2label 'Gbit/s of payload'\nset y2tics\n");
		snprintf(file, sizeof(file), "%s-batch.dat", path);
		plot_rows_cmd(f, pl, BY_BATCH, k, file);
		fprintf(f, "unset y2tics\nunset y2label\nset yrange [0:*]\n");

		plot_sender(sender, sizeof(sender), k, sw->train_lo, sw->train_hi);
		fprintf(f, "\n# %s: by payload size, batches of %zu\n", path, batch);
		snprintf(what, sizeof(what), "batches of %zu, by payload size", batch);
		fprintf(f, "set title ");
		plot_quote2(f, sender, what);
		fprintf(f, "\n");
		plot_x_axis(f, o->sizes, o->nsizes,
			    o->sizes[o->nsizes - 1] >= 30 * o->sizes[0] ? 10 : 0);
		fprintf(f, "set xlabel 'payload bytes per datagram'\n");
		fprintf(f, "set ylabel 'Gbit/s of payload'\n");
		snprintf(file, sizeof(file), "%s-size.dat", path);
		plot_rows_cmd(f, pl, BY_SIZE, k, file);

		fprintf(f, "\n# %s: the module over OpenSSL, a curve per payload size\n", path);
		fprintf(f, "set title ");
		plot_quote2(f, sender, "dgrambatch module / OpenSSL BIO_s_datagram, by batch size");
		fprintf(f, "\n");
		plot_x_axis(f, o->batches, o->nbatches, 2);
		fprintf(f, "set xlabel 'datagrams per %s call (batch size)'\n", call);
		fprintf(f, "set ylabel 'times OpenSSL''s datagrams per second'\n");
		fprintf(f, "set key horizontal maxcols 3\n");
		plot_ratio_cmd(f, pl, k);
		fprintf(f, "set key vertical maxcols auto\n");
	}
	fprintf(f, "unset multiplot\n");
	return plot_close(f);
}

/* gnuplot on the script in dir, with its output on our stderr: stdout is the report's. */
static int run_gnuplot(const char *gnuplot, const char *dir)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return sys_failed("fork()");
	if (pid == 0) {
		if (chdir(dir) == 0 && dup2(STDERR_FILENO, STDOUT_FILENO) >= 0)
			execl(gnuplot, "gnuplot", "plot.gp", (char *)NULL);
		fprintf(stderr, "%s: bench: cannot run %s: %s\n", progname, gnuplot,
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return sys_failed("waitpid()");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	if (WIFEXITED(status))
		complain("%s exited with status %d", gnuplot, WEXITSTATUS(status));
	else
		complain("%s was killed by signal %d", gnuplot,
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return 0;
}

/* Copy from to to: the PNG leaves the temporary directory, whatever file system to is on. */
static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, ok = 0;
	ssize_t n = 0;

	if (in < 0) {
		complain("gnuplot wrote no plot (%s: %s)", from, strerror(errno));
		return 0;
	}
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (out < 0) {
		complain("cannot write %s: %s", to, strerror(errno));
		close(in);
		return 0;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				goto done;
			off += w;
		}
	}
	ok = n == 0;
done:
	if (!ok)
		complain("cannot copy the plot to %s: %s", to, strerror(errno));
	close(in);
	if (close(out) != 0 && ok) {
		complain("cannot write %s: %s", to, strerror(errno));
		ok = 0;
	}
	return ok;
}

/*
 * Draw the plot: data files and a script into a temporary directory,
 * gnuplot run there, its PNG copied to --plot's file, the directory
 * removed.
 */
static int draw_plot(const struct bench *proto, const struct sweep *sw, const char *gnuplot)
{
	static const char *const kind[] = { "batch", "size", "ratio" };
	const struct options *o = &proto->o;
	const struct plot pl = { proto, sw, pick(o->sizes, o->nsizes, PLOT_SIZE),
				 pick(o->batches, o->nbatches, PLOT_BATCH) };
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], png[PATH_MAX + 16], path[PATH_MAX + 32];
	int ok;

	if (snprintf(dir, sizeof(dir), "%s/dgrambatch-plot.XXXXXX",
		     tmp != NULL && *tmp != '\0' ? tmp : "/tmp") >= (int)sizeof(dir) ||
	    mkdtemp(dir) == NULL)
		return sys_failed("making a temporary directory for the plot");
	snprintf(png, sizeof(png), "%s/plot.png", dir);
	ok = write_plot_data(&pl, dir) && write_plot_script(&pl, dir) &&
	     run_gnuplot(gnuplot, dir) && copy_file(png, o->plot);
	for (int k = 0; k < SWEEP_NDIR; k++)
		for (size_t n = 0; n < sizeof(kind) / sizeof(kind[0]); n++) {
			snprintf(path, sizeof(path), "%s/%s-%s.dat", dir, dir_key[sweep_dir[k]],
				 kind[n]);
			(void)unlink(path);
		}
	snprintf(path, sizeof(path), "%s/plot.gp", dir);
	(void)unlink(path);
	(void)unlink(png);
	if (rmdir(dir) != 0)
		complain("cannot remove %s: %s", dir, strerror(errno));
	return ok;
}

/*
 * Every point in turn, sizes outer, batches inner; a point that fails is
 * reported as such and the sweep goes on.  The table (or JSON) is printed,
 * then the plot drawn; without gnuplot the table still is, and the exit
 * status is 1.
 */
static int sweep_main(const struct bench *proto)
{
	const struct options *o = &proto->o;
	struct sweep sw;
	char buf[PATH_MAX];
	const char *gnuplot = NULL, *why = NULL;
	size_t per_point = samples(proto, on_path);
	int rc = 0;

	memset(&sw, 0, sizeof(sw));
	if (o->plot != NULL) {
		if (!plot_dir_writable(o->plot))
			return 1;
		gnuplot = find_gnuplot(buf, sizeof(buf), &why);
		if (gnuplot == NULL)
			complain("--plot: %s: the table will be printed, the plot cannot be drawn",
				 why);
	}
	sw.n = o->nsizes * o->nbatches;
	sw.pt = calloc(sw.n, sizeof(*sw.pt));
	if (sw.pt == NULL) {
		complain("out of memory");
		return 1;
	}
	progress.total = per_point * sw.n;
	for (size_t p = 0; p < sw.n; p++) {
		struct point *pt = &sw.pt[p];

		pt->size = o->sizes[p / o->nbatches];
		pt->batch = o->batches[p % o->nbatches];
		snprintf(progress.point, sizeof(progress.point),
			 "point %zu/%zu (%zu bytes, batch %zu)", p + 1, sw.n, pt->size, pt->batch);
		sweep_point(proto, &sw, pt);
		progress.done = (p + 1) * per_point;
	}
	progress_end();
	if (o->json)
		print_sweep_json(proto, &sw);
	else
		print_sweep_text(proto, &sw);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		sys_failed("writing the report");
		rc = 1;
	}
	if (sw.failed > 0) {
		complain("%d of %zu points failed", sw.failed, sw.n);
		rc = 1;
	}
	if (o->plot != NULL && gnuplot == NULL) {
		complain("no plot: %s", why);
		rc = 1;
	} else if (o->plot != NULL && !draw_plot(proto, &sw, gnuplot)) {
		complain("no plot");
		rc = 1;
	} else if (o->plot != NULL) {
		fprintf(stderr, "%s: bench: plot written to %s\n", progname, o->plot);
	}
	free(sw.pt);
	return rc;
}

/* --- entry --------------------------------------------------------------- */

int dgb_bench_main(const char *name, int argc, char **argv)
{
	struct options o;
	struct provenance pv;
	struct bench *b = NULL;
	int rc;

	progname = name;
	rc = parse_options(argc, argv, &o);
	if (rc != 0)
		return rc;
	memset(&pv, 0, sizeof(pv));
	progress_begin(o.progress);
	if (!load_module(&pv, o.config)) {
		unload_module(&pv);
		return 1;
	}
	if (progress_wanted())
		fprintf(stderr, "%s: bench: module %s (%s)\n", progname, pv.path, pv.how);
	b = malloc(sizeof(*b));
	if (b == NULL) {
		complain("out of memory");
		unload_module(&pv);
		return 1;
	}
	bench_init(b, &o, &pv);
	if (o.sweep) {
		rc = sweep_main(b);
	} else {
		rc = set_up(b) ? 0 : 1;
		progress.total = samples(b, runs);
		if (rc == 0 && !run(b))
			rc = 1;
		progress_end();
		if (rc == 0) {
			if (b->o.json)
				print_json(b);
			else
				print_text(b);
			/* A report cut short (a full disk, a closed pipe) is a failure. */
			if (fflush(stdout) != 0 || ferror(stdout)) {
				sys_failed("writing the report");
				rc = 1;
			}
		}
		tear_down(b);
	}
	free(b);
	unload_module(&pv);
	return rc;
}
