/*
 * dgrambatch - command-line companion of the dgrambatch OpenSSL module.
 *
 * Copyright 2026 The dgrambatch authors.
 * SPDX-License-Identifier: Apache-2.0
 *
 *   dgrambatch --version
 *   dgrambatch probe [--json]
 *   dgrambatch demo [--config FILE] [--count N] [--size BYTES] [--only PART,...]
 *   dgrambatch bench ... (see bench.h)
 *   dgrambatch run [--stats] [--] PROGRAM [ARGS...]
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/provider.h>

#include "dgrambatch.h"
#include "probe/probe.h"
#include "bench.h"
#include "run.h"

static const char *progname = "dgrambatch";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s --version\n"
		"       %s probe [--json]\n"
		"       %s demo [--config FILE] [--count N] [--size BYTES] [--only PART,...]\n"
		"       %s " DGB_BENCH_SYNOPSIS "\n"
		"       %s " DGB_RUN_SYNOPSIS "\n",
		progname, progname, progname, progname, progname);
}

/* A whole decimal number in [min, max], or -1. */
static long parse_count(const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
		return -1;
	return v;
}

static int die_ssl(const char *what)
{
	fprintf(stderr, "%s: %s\n", progname, what);
	ERR_print_errors_fp(stderr);
	return 1;
}

/* --- probe --------------------------------------------------------------- */

static const char *yesno(int v)
{
	return v ? "yes" : "no";
}

static const char *truefalse(int v)
{
	return v ? "true" : "false";
}

/* s as a JSON string, or null. */
static void json_string(const char *s)
{
	if (s == NULL) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* What the running OpenSSL makes of the module, in its default library context. */
struct provider_report {
	OSSL_PROVIDER *prov;	/* NULL: it did not load */
	int status;		/* its "status" parameter */
	const char *path;	/* dgrambatch-module-path, NULL if not reported */
	const char *version;
	int native;		/* dgrambatch-native-mmsg, -1 if not reported */
	char error[1024];	/* OpenSSL's reasons, when it did not load */
};

/*
 * OpenSSL's error queue as one line, oldest (the cause) first: each
 * error's reason and its data, a reason repeated without data once.
 */
static void take_errors(char *buf, size_t size)
{
	const char *data, *last = NULL;
	int flags;
	unsigned long e;
	size_t len = 0;

	buf[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *reason = ERR_reason_error_string(e);
		char code[32];
		int n;

		if (!(flags & ERR_TXT_STRING) || data == NULL)
			data = "";
		if (reason == NULL) {
			snprintf(code, sizeof(code), "error:%08lX", e);
			reason = code;
		} else if (*data == '\0' && last != NULL && strcmp(reason, last) == 0) {
			continue;
		}
		last = reason != code ? reason : NULL;
		if (len + 1 >= size)
			continue;
		n = snprintf(buf + len, size - len, "%s%s%s%s", len > 0 ? "; " : "", reason,
			     *data != '\0' ? ": " : "", data);
		len = n < 0 ? size : len + (size_t)n;
	}
	if (buf[0] == '\0')
		snprintf(buf, size, "OpenSSL gave no reason");
}

/*
 * Load the provider the way an application would (OSSL_PROVIDER_try_load
 * in the default library context, after its config file), and ask it who
 * it is.  The strings stay valid while r->prov is loaded.
 */
static void load_provider(struct provider_report *r)
{
	OSSL_PARAM p[] = {
		OSSL_PARAM_utf8_ptr(DGB_PARAM_MODULE_PATH, (char **)&r->path, 0),
		OSSL_PARAM_utf8_ptr("version", (char **)&r->version, 0),
		OSSL_PARAM_int("status", &r->status),
		OSSL_PARAM_int(DGB_PARAM_NATIVE_MMSG, &r->native),
		OSSL_PARAM_END
	};

	memset(r, 0, sizeof(*r));
	r->native = -1;
	ERR_clear_error();
	r->prov = OSSL_PROVIDER_try_load(NULL, DGB_PROVIDER_NAME, 1);
	if (r->prov == NULL) {
		take_errors(r->error, sizeof(r->error));
		return;
	}
	if (!OSSL_PROVIDER_get_params(r->prov, p)) {
		take_errors(r->error, sizeof(r->error));
		r->path = r->version = NULL;
		r->status = 0;
		r->native = -1;
		return;
	}
	if (!OSSL_PARAM_modified(&p[0]) || r->path == NULL || *r->path == '\0')
		r->path = NULL;
	if (!OSSL_PARAM_modified(&p[1]))
		r->version = NULL;
	if (!OSSL_PARAM_modified(&p[3]))
		r->native = -1;
	ERR_clear_error();
}

static const char *provider_state(const struct provider_report *r)
{
	return r->prov == NULL ? "failed" : r->status == 1 ? "active" : "inactive";
}

/*
 * Where OpenSSL looks for a provider named without a path: OPENSSL_MODULES
 * when set, else libcrypto's own modules directory.  *from says which.
 */
static const char *modules_dir(const char **from)
{
	const char *env = getenv("OPENSSL_MODULES");

	if (env != NULL) {
		*from = "OPENSSL_MODULES";
		return env;
	}
	*from = "libcrypto";
	return OPENSSL_info(OPENSSL_INFO_MODULES_DIR);
}

/* Why BIO_sendmmsg() does not reach the module's batched calls, or NULL when it does. */
static const char *not_native(int has_mmsg, const struct provider_report *r)
{
	if (!has_mmsg)
		return "the running libcrypto has no BIO_sendmmsg";
	if (r->prov == NULL)
		return "the provider did not load";
	if (r->native != 1)
		return "the module did not register its batched calls with libcrypto";
	return NULL;
}

static void probe_json(const struct provider_report *r, int has_mmsg, const char *mdir,
		       const char *mdir_from)
{
	unsigned int built = dgb_caps_built(), usable = dgb_caps();

	printf("{\n  \"version\": \"%s\",\n", PACKAGE_VERSION);
	printf("  \"openssl\": {\n    \"build\": ");
	json_string(OPENSSL_VERSION_TEXT);
	printf(",\n    \"runtime\": ");
	json_string(OpenSSL_version(OPENSSL_VERSION));
	printf(",\n    \"bio_sendmmsg\": %s,\n    \"modules_dir\": ", truefalse(has_mmsg));
	json_string(mdir);
	printf(",\n    \"modules_dir_from\": ");
	json_string(mdir_from);
	printf("\n  },\n  \"provider\": {\n    \"name\": ");
	json_string(DGB_PROVIDER_NAME);
	printf(",\n    \"state\": ");
	json_string(provider_state(r));
	printf(",\n    \"error\": ");
	json_string(r->prov == NULL ? r->error : NULL);
	printf(",\n    \"module_path\": ");
	json_string(r->path);
	printf(",\n    \"module_version\": ");
	json_string(r->version);
	printf(",\n    \"native_mmsg\": %s\n  },\n",
	       r->native < 0 ? "null" : truefalse(r->native == 1));
	printf("  \"native_bio_sendmmsg\": %s,\n", truefalse(not_native(has_mmsg, r) == NULL));
	printf("  \"capabilities\": {");
	for (unsigned int i = 0; i < DGB_CAP_COUNT; i++) {
		unsigned int cap = 1u << i;

		printf("%s\n    \"%s\": { \"built\": %s, \"usable\": %s }", i ? "," : "",
		       dgb_cap_name(cap), truefalse(built & cap), truefalse(usable & cap));
	}
	printf("\n  }\n}\n");
}

static void probe_text(const struct provider_report *r, int has_mmsg, const char *mdir,
		       const char *mdir_from)
{
	unsigned int built = dgb_caps_built(), usable = dgb_caps();
	const char *why = not_native(has_mmsg, r);

	printf("dgrambatch %s\n\n", PACKAGE_VERSION);
	printf("%-24s%s\n", "OpenSSL at build time:", OPENSSL_VERSION_TEXT);
	printf("%-24s%s\n", "OpenSSL at run time:", OpenSSL_version(OPENSSL_VERSION));
	printf("%-24s%s (%s)\n", "modules directory:", mdir != NULL ? mdir : "unknown", mdir_from);
	if (r->prov == NULL)
		printf("%-24sfailed to load: %s\n", "provider dgrambatch:", r->error);
	else if (r->status != 1)
		printf("%-24sloaded, not active\n", "provider dgrambatch:");
	else
		printf("%-24sactive\n", "provider dgrambatch:");
	printf("%-24s%s\n", "module file:", r->path != NULL ? r->path : "-");
	printf("%-24s%s\n", "module version:", r->version != NULL ? r->version : "-");
	if (why == NULL)
		printf("%-24syes\n", "native BIO_sendmmsg:");
	else
		printf("%-24sno (%s)\n", "native BIO_sendmmsg:", why);
	printf("\n%-24s %-6s %s\n", "capability", "built", "usable (this kernel)");
	for (unsigned int i = 0; i < DGB_CAP_COUNT; i++) {
		unsigned int cap = 1u << i;

		printf("%-24s %-6s %s\n", dgb_cap_name(cap), yesno(built & cap), yesno(usable & cap));
	}
}

/*
 * The OpenSSL the tool runs with decides, not the one it was built with:
 * BIO_sendmmsg is looked up by name in the running libcrypto, and the
 * module is loaded as any application would load it.
 */
static int cmd_probe(int argc, char **argv)
{
	int json = 0, has_mmsg;
	struct provider_report r;
	const char *mdir, *mdir_from;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			usage(stderr);
			return 2;
		}
	}

	has_mmsg = dgb_native_mmsg_(1) != NULL && dgb_native_mmsg_(0) != NULL;
	mdir = modules_dir(&mdir_from);
	load_provider(&r);
	if (json)
		probe_json(&r, has_mmsg, mdir, mdir_from);
	else
		probe_text(&r, has_mmsg, mdir, mdir_from);
	if (r.prov != NULL)
		OSSL_PROVIDER_unload(r.prov);
	return 0;
}

/* --- demo ---------------------------------------------------------------- */

/*
 * The demonstration: the module loaded through a configuration file, and
 * the same datagrams moved between two loopback UDP sockets through
 * OpenSSL's own datagram BIO and through the module's, each one checked on
 * arrival.  It comes in parts that also run alone (--only), so that each
 * can be measured from outside the process: scripts/demo.sh runs the
 * batched parts under strace -c, which counts system calls without asking
 * either BIO.
 */
#define PART_BASIC (1u << 0)   /* the module's BIO, one BIO_write/BIO_read a datagram */
#define PART_OPENSSL (1u << 1) /* OpenSSL's BIO_s_datagram, as the running libcrypto has it */
#define PART_BATCHED (1u << 2) /* the module's batched calls, GSO and GRO off */
#define PART_OFFLOAD (1u << 3) /* the module's batched calls with GSO and GRO */
#define PART_SPEED (1u << 4)   /* a short side-by-side rate */
#define PART_ALL (PART_BASIC | PART_OPENSSL | PART_BATCHED | PART_OFFLOAD | PART_SPEED)

static const struct {
	const char *name;
	unsigned int part;
} demo_parts[] = {
	{ "basic", PART_BASIC },     { "openssl", PART_OPENSSL }, { "batched", PART_BATCHED },
	{ "offload", PART_OFFLOAD }, { "speed", PART_SPEED },
};

/* The receive buffer asked for (SO_RCVBUFFORCE; without CAP_NET_ADMIN, rmem_max caps it). */
#define DEMO_RCVBUF (8 << 20)
/* The most datagrams in flight, and how long a missing one is waited for. */
#define DEMO_WINDOW_MAX 4096
#define DEMO_WAIT_SECONDS 2
/*
 * The speed part: rounds, seconds for each implementation in each round,
 * and datagrams per batch (a QUIC stack's order of magnitude; small
 * enough to stay in the caches).
 */
#define SPEED_ROUNDS 5
#define SPEED_SECONDS 0.15
#define SPEED_BATCH 64

/* The module's counters, as the provider reports them. */
enum {
	C_TX,
	C_RX,
	C_TXB,
	C_RXB,
	C_TXC,
	C_RXC,
	C_GSO_SENDS,
	C_GSO_SEGS,
	C_GSO_FALLBACKS,
	C_GRO_RECVS,
	C_GRO_SEGS,
	C_GRO_CARRIED,
	C_COUNT
};

static const char *const counter_param[C_COUNT] = {
	[C_TX] = DGB_PARAM_TX_DATAGRAMS,
	[C_RX] = DGB_PARAM_RX_DATAGRAMS,
	[C_TXB] = DGB_PARAM_TX_BYTES,
	[C_RXB] = DGB_PARAM_RX_BYTES,
	[C_TXC] = DGB_PARAM_TX_SYSCALLS,
	[C_RXC] = DGB_PARAM_RX_SYSCALLS,
	[C_GSO_SENDS] = DGB_PARAM_GSO_SENDS,
	[C_GSO_SEGS] = DGB_PARAM_GSO_SEGMENTS,
	[C_GSO_FALLBACKS] = DGB_PARAM_GSO_FALLBACKS,
	[C_GRO_RECVS] = DGB_PARAM_GRO_RECEIVES,
	[C_GRO_SEGS] = DGB_PARAM_GRO_SEGMENTS,
	[C_GRO_CARRIED] = DGB_PARAM_GRO_CARRIED,
};

struct counters {
	uint64_t v[C_COUNT];
};

static int read_counters(OSSL_PROVIDER *prov, struct counters *c)
{
	OSSL_PARAM p[C_COUNT + 1];

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < C_COUNT; i++)
		p[i] = OSSL_PARAM_construct_uint64(counter_param[i], &c->v[i]);
	p[C_COUNT] = OSSL_PARAM_construct_end();
	if (!OSSL_PROVIDER_get_params(prov, p))
		return 0;
	for (int i = 0; i < C_COUNT; i++)
		if (!OSSL_PARAM_modified(&p[i]))
			return 0;
	return 1;
}

/* What the counters moved from before to after, into after. */
static void counters_since(struct counters *after, const struct counters *before)
{
	for (int i = 0; i < C_COUNT; i++)
		after->v[i] -= before->v[i];
}

static int find_dgrambatch(OSSL_PROVIDER *prov, void *arg)
{
	if (strcmp(OSSL_PROVIDER_get0_name(prov), DGB_PROVIDER_NAME) != 0)
		return 1;
	*(OSSL_PROVIDER **)arg = prov;
	return 0;
}

struct demo {
	OSSL_PROVIDER *prov;
	const BIO_METHOD *meth; /* the module's */
	long count;
	int size;
	int native;		/* the running libcrypto has BIO_sendmmsg and BIO_recvmmsg */
	const char *gso, *gro;	/* the module's settings in force, or NULL */
	int printed;		/* a part has printed something */
};

/* A part's first line, after a blank one where another part came before. */
__attribute__((format(printf, 2, 3))) static void part_title(struct demo *d, const char *fmt, ...)
{
	va_list ap;

	if (d->printed)
		putchar('\n');
	d->printed = 1;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static int bound_udp4(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
		fprintf(stderr, "%s: loopback UDP socket: %s\n", progname, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Two loopback UDP sockets with a BIO on each, datagrams going from tx to
 * rx, and the room for a window of them: the payloads sent, the buffers
 * they arrive in (one byte longer, so that a datagram too long shows), and
 * the messages of the batched calls.
 */
struct link {
	BIO *tx, *rx;
	unsigned int tx_port, rx_port;
	BIO_ADDR *dest;
	BIO_ADDR *from[DGB_MAX_MSGS];
	DGB_MSG msg[DGB_MAX_MSGS];
	unsigned char *out, *in;
	int size;
	long window;
};

/*
 * Datagram seq's payload: every byte depends on seq, so a datagram lost,
 * repeated, out of order or altered does not compare equal.
 */
static void fill(unsigned char *p, int size, uint32_t seq)
{
	uint32_t x = seq * 0x9e3779b9u + 0x7f4a7c15u;

	for (int j = 0; j < size; j++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[j] = (unsigned char)(x >> 24);
	}
}

static void link_close(struct link *l)
{
	if (l == NULL)
		return;
	BIO_free(l->tx);
	BIO_free(l->rx);
	BIO_ADDR_free(l->dest);
	for (int i = 0; i < DGB_MAX_MSGS; i++)
		BIO_ADDR_free(l->from[i]);
	free(l->out);
	free(l->in);
	free(l);
}

/* A BIO of meth (NULL: OpenSSL's BIO_s_datagram) on fd, which it then owns. */
static BIO *dgram_on(const BIO_METHOD *meth, int fd)
{
	BIO *b = BIO_new(meth != NULL ? meth : BIO_s_datagram());

	if (b == NULL || BIO_set_fd(b, fd, BIO_CLOSE) != 1) {
		BIO_free(b);
		close(fd);
		return NULL;
	}
	return b;
}

static struct link *link_open(const BIO_METHOD *meth, int size)
{
	struct link *l = calloc(1, sizeof(*l));
	struct sockaddr_in a, b;
	int fda, fdb, want = DEMO_RCVBUF, got = 0;
	socklen_t len = sizeof(got);
	/* A lost datagram must end the demonstration, not hang it. */
	struct timeval wait = { DEMO_WAIT_SECONDS, 0 };

	if (l == NULL)
		goto nomem;
	l->size = size;
	fda = bound_udp4(&a);
	fdb = fda >= 0 ? bound_udp4(&b) : -1;
	if (fdb < 0) {
		if (fda >= 0)
			close(fda);
		link_close(l);
		return NULL;
	}
	l->tx_port = ntohs(a.sin_port);
	l->rx_port = ntohs(b.sin_port);

	/*
	 * The sender never waits for the receiver, so a window must fit the
	 * receive buffer.  The kernel reports twice what it grants and charges
	 * a datagram its payload and about 1 KiB more: counting half the report
	 * leaves room to spare.  Whole batches where the window allows.
	 */
	if (setsockopt(fdb, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0)
		(void)setsockopt(fdb, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	if (getsockopt(fdb, SOL_SOCKET, SO_RCVBUF, &got, &len) != 0)
		got = 0;
	l->window = got / 2 / (size + 1024);
	if (l->window > DEMO_WINDOW_MAX)
		l->window = DEMO_WINDOW_MAX;
	if (l->window > DGB_MAX_MSGS)
		l->window -= l->window % DGB_MAX_MSGS;
	if (l->window < 1)
		l->window = 1;

	l->tx = dgram_on(meth, fda);
	l->rx = dgram_on(meth, fdb);
	l->dest = BIO_ADDR_new();
	if (l->tx == NULL || l->rx == NULL || l->dest == NULL ||
	    !BIO_ADDR_rawmake(l->dest, AF_INET, &b.sin_addr, sizeof(b.sin_addr), b.sin_port) ||
	    BIO_dgram_set_peer(l->tx, l->dest) != 1 ||
	    BIO_ctrl(l->rx, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &wait) < 0) {
		die_ssl("cannot set up the datagram BIOs");
		link_close(l);
		return NULL;
	}
	for (int i = 0; i < DGB_MAX_MSGS; i++)
		if ((l->from[i] = BIO_ADDR_new()) == NULL)
			goto nomem;
	l->out = malloc((size_t)l->window * (size_t)size);
	l->in = malloc((size_t)l->window * ((size_t)size + 1));
	if (l->out == NULL || l->in == NULL)
		goto nomem;
	for (long i = 0; i < l->window; i++)
		fill(l->out + i * size, size, (uint32_t)i);
	return l;
nomem:
	fprintf(stderr, "%s: demo: out of memory\n", progname);
	link_close(l);
	return NULL;
}

/* One BIO call a datagram, or batches of up to DGB_MAX_MSGS. */
enum how { ONE_BY_ONE, BATCHED };

/* What a run moved, and the BIO calls it took. */
struct moved {
	long sent, received, intact, altered;
	uint64_t bytes;
	long send_calls, recv_calls;
};

static int io_failed(const char *call, long seq)
{
	fprintf(stderr, "%s: demo: %s failed at datagram %ld\n", progname, call, seq);
	ERR_print_errors_fp(stderr);
	return 0;
}

/* Sends the window's first n datagrams. */
static int send_window(struct link *l, enum how how, long n, struct moved *m)
{
	int stalls = 0;

	for (long done = 0; done < n;) {
		size_t k = (size_t)(n - done < DGB_MAX_MSGS ? n - done : DGB_MAX_MSGS), sent = 0;
		unsigned char *p = l->out + done * l->size;

		if (how == ONE_BY_ONE) {
			m->send_calls++;
			if (BIO_write(l->tx, p, l->size) != l->size)
				return io_failed("BIO_write", m->sent + done);
			done++;
			continue;
		}
		for (size_t i = 0; i < k; i++) {
			l->msg[i].data = p + i * (size_t)l->size;
			l->msg[i].data_len = (size_t)l->size;
			l->msg[i].peer = l->dest;
			l->msg[i].local = NULL;
			l->msg[i].flags = 0;
		}
		m->send_calls++;
		if (!DGB_sendmmsg(l->tx, l->msg, sizeof(DGB_MSG), k, 0, &sent) || sent == 0) {
			/* A full device queue (ENOBUFS) passes; anything else ends the run. */
			if (DGB_err_is_non_fatal((unsigned int)ERR_peek_last_error()) && ++stalls < 1000) {
				ERR_clear_error();
				continue;
			}
			return io_failed("DGB_sendmmsg", m->sent + done);
		}
		done += (long)sent;
	}
	m->sent += n;
	return 1;
}

static int lost(const struct moved *m, long done)
{
	fprintf(stderr, "%s: demo: datagram %ld did not arrive within %d s\n", progname,
		m->received + done, DEMO_WAIT_SECONDS);
	ERR_print_errors_fp(stderr);
	return 0;
}

/*
 * Receives n datagrams and compares each with the one sent in its place
 * (with check; without, only its length).
 */
static int recv_window(struct link *l, enum how how, long n, int check, struct moved *m)
{
	size_t room = (size_t)l->size + 1;

	for (long done = 0; done < n;) {
		size_t k = (size_t)(n - done < DGB_MAX_MSGS ? n - done : DGB_MAX_MSGS), got = 0;

		if (how == ONE_BY_ONE) {
			int r;

			m->recv_calls++;
			r = BIO_read(l->rx, l->in + done * room, (int)room);
			if (r < 0)
				return lost(m, done);
			l->msg[0].data_len = (size_t)r;
			got = 1;
		} else {
			for (size_t i = 0; i < k; i++) {
				l->msg[i].data = l->in + (done + (long)i) * room;
				l->msg[i].data_len = room;
				l->msg[i].peer = l->from[i];
				l->msg[i].local = NULL;
				l->msg[i].flags = 0;
			}
			m->recv_calls++;
			if (!DGB_recvmmsg(l->rx, l->msg, sizeof(DGB_MSG), k, 0, &got) || got == 0)
				return lost(m, done);
		}
		for (size_t i = 0; i < got; i++, done++) {
			size_t len = l->msg[i].data_len;

			m->bytes += len;
			if (len == (size_t)l->size &&
			    (!check || memcmp(l->in + done * room, l->out + done * l->size, len) == 0))
				m->intact++;
			else if (m->altered++ == 0)
				fprintf(stderr, "%s: demo: datagram %ld arrived altered (%zu bytes)\n",
					progname, m->received + done, len);
		}
	}
	m->received += n;
	return 1;
}

/*
 * count datagrams from tx to rx, a window at a time: the window is sent,
 * then received.  With check, each window gets the next datagrams'
 * payloads and each arrival is compared; without, the payloads stay.
 */
static int move(struct link *l, enum how how, long count, int check, struct moved *m)
{
	for (long base = 0; base < count;) {
		long n = count - base < l->window ? count - base : l->window;

		if (check)
			for (long i = 0; i < n; i++)
				fill(l->out + i * l->size, l->size, (uint32_t)(base + i));
		if (!send_window(l, how, n, m) || !recv_window(l, how, n, check, m))
			return 0;
		base += n;
	}
	return 1;
}

/* The calls each path makes, on this libcrypto. */
static const char *send_call(const struct demo *d, enum how how)
{
	return how == ONE_BY_ONE ? "BIO_write" : d->native ? "BIO_sendmmsg" : "DGB_sendmmsg";
}

static const char *recv_call(const struct demo *d, enum how how)
{
	return how == ONE_BY_ONE ? "BIO_read" : d->native ? "BIO_recvmmsg" : "DGB_recvmmsg";
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static void print_moved(const struct demo *d, const struct link *l, enum how how,
			const struct moved *m)
{
	printf("  route         127.0.0.1:%u -> 127.0.0.1:%u, up to %ld datagrams in flight\n",
	       l->tx_port, l->rx_port, l->window);
	printf("  sent          %ld datagrams of %d bytes with %ld %s call%s\n", m->sent, d->size,
	       m->send_calls, send_call(d, how), plural((uint64_t)m->send_calls));
	printf("  received      %ld datagrams with %ld %s call%s\n", m->received, m->recv_calls,
	       recv_call(d, how), plural((uint64_t)m->recv_calls));
	printf("  checked       %ld of %ld intact and in order, %" PRIu64 " bytes compared\n",
	       m->intact, d->count, m->bytes);
}

static double per(uint64_t a, uint64_t b)
{
	return b == 0 ? 0.0 : (double)a / (double)b;
}

/*
 * The module's system calls, by its own counters.  With GRO on, those of a
 * receive include the setsockopt(SO_PEEK_OFF) calls of its bookkeeping.
 */
static void print_module_calls(const struct counters *c, int gro)
{
	uint64_t calls = c->v[C_TXC] + c->v[C_RXC];

	printf("  system calls  %" PRIu64 " by the module's counters (%" PRIu64 " to send, %" PRIu64
	       " to receive%s): %.1f datagrams per system call\n",
	       calls, c->v[C_TXC], c->v[C_RXC], gro ? ", SO_PEEK_OFF settings included" : "",
	       per(c->v[C_TX] + c->v[C_RX], calls));
}

/* The module's counters must agree with what the run moved. */
static int counters_agree(const struct demo *d, const struct counters *c)
{
	if (c->v[C_TX] == (uint64_t)d->count && c->v[C_RX] == (uint64_t)d->count)
		return 1;
	fprintf(stderr,
		"%s: demo: the module counted %" PRIu64 " datagrams sent and %" PRIu64
		" received, not %ld\n",
		progname, c->v[C_TX], c->v[C_RX], d->count);
	return 0;
}

/* The module's BIO, one BIO_write and one BIO_read a datagram, as a drop-in. */
static int part_basic(const struct demo *d)
{
	struct link *l = link_open(d->meth, d->size);
	struct counters before, after;
	struct moved m = { 0 };
	int ok;

	if (l == NULL)
		return 0;
	printf("  route         127.0.0.1:%u -> 127.0.0.1:%u\n", l->tx_port, l->rx_port);
	ok = read_counters(d->prov, &before) && move(l, ONE_BY_ONE, d->count, 1, &m) &&
	     m.intact == d->count && read_counters(d->prov, &after);
	link_close(l);
	if (!ok) {
		fprintf(stderr, "%s: the exchange failed\n", progname);
		return 0;
	}
	counters_since(&after, &before);
	printf("  sent          %ld datagrams of %d bytes with BIO_write\n", d->count, d->size);
	printf("  received      %ld datagrams with BIO_read, each intact and in order\n", d->count);
	printf("  module counts tx %" PRIu64 " datagrams, %" PRIu64 " bytes, %" PRIu64
	       " syscalls; rx %" PRIu64 " datagrams, %" PRIu64 " bytes, %" PRIu64 " syscalls\n",
	       after.v[C_TX], after.v[C_TXB], after.v[C_TXC], after.v[C_RX], after.v[C_RXB],
	       after.v[C_RXC]);
	return counters_agree(d, &after);
}

/*
 * OpenSSL's own BIO_s_datagram, as the running libcrypto has it: its
 * BIO_sendmmsg and BIO_recvmmsg from 3.2 on, one BIO_write and BIO_read a
 * datagram before.  OpenSSL keeps no count of its system calls.
 */
static int part_openssl(struct demo *d)
{
	enum how how = d->native ? BATCHED : ONE_BY_ONE;
	struct link *l = link_open(NULL, d->size);
	struct moved m = { 0 };
	int ok;

	if (l == NULL)
		return 0;
	if (DGB_is_dgrambatch(l->tx)) {
		fprintf(stderr, "%s: demo: BIO_s_datagram() is dgrambatch's here: is the preload "
				"shim in LD_PRELOAD?\n",
			progname);
		link_close(l);
		return 0;
	}
	part_title(d, "batched I/O, OpenSSL's own BIO: BIO_s_datagram of OpenSSL %s, %s",
		   OpenSSL_version(OPENSSL_VERSION_STRING),
	       d->native ? "with its BIO_sendmmsg and BIO_recvmmsg"
			 : "which has no batched calls before 3.2");
	ok = move(l, how, d->count, 1, &m);
	if (ok)
		print_moved(d, l, how, &m);
	link_close(l);
	if (!ok)
		return 0;
	printf("  system calls  OpenSSL keeps no count of them; strace -f -c counts them from "
	       "outside (scripts/demo.sh does)\n");
	return m.intact == d->count;
}

/* The module's batched calls alone: GSO and GRO off. */
static int part_batched(struct demo *d)
{
	struct link *l = link_open(d->meth, d->size);
	struct counters before, after;
	struct moved m = { 0 };
	int ok;

	if (l == NULL)
		return 0;
	part_title(d, "batched I/O, dgrambatch's BIO: %s and %s, up to %d datagrams a call, GSO and "
		   "GRO off",
		   send_call(d, BATCHED), recv_call(d, BATCHED), DGB_MAX_MSGS);
	ok = DGB_set_gso(l->tx, 0) == 1 && DGB_set_gro(l->rx, 0) == 1;
	if (!ok)
		die_ssl("cannot turn GSO and GRO off");
	ok = ok && read_counters(d->prov, &before) && move(l, BATCHED, d->count, 1, &m) &&
	     read_counters(d->prov, &after);
	if (ok)
		print_moved(d, l, BATCHED, &m);
	link_close(l);
	if (!ok)
		return 0;
	counters_since(&after, &before);
	print_module_calls(&after, 0);
	return m.intact == d->count && counters_agree(d, &after);
}

/* Why an offload is not in use on a BIO. */
static const char *offload_off(unsigned int cap, const char *setting, const char *key)
{
	static char why[128];

	if (setting != NULL && strcmp(setting, "off") == 0) {
		snprintf(why, sizeof(why), "%s = off in the configuration", key);
		return why;
	}
	if (!(dgb_caps_built() & cap))
		return "this build has no code for it";
	if (!dgb_cap_usable(cap)) {
		snprintf(why, sizeof(why), "%s is not usable here (see dgrambatch probe)",
			 dgb_cap_name(cap));
		return why;
	}
	return "the module did not turn it on for this socket";
}

/* How the demo words one offload's line of counts. */
struct offload_line {
	const char *name;  /* GSO or GRO */
	const char *verb;  /* what the datagrams did: left in, arrived in */
	const char *call;  /* one offloaded call */
	const char *then;  /* what came of the calls */
	const char *rest;  /* what the third counter counts */
	int segs, calls, other; /* the counters: datagrams, calls, the third */
};

static const struct offload_line gso_line = {
	"GSO", "left", "segmented send", "", "refused by the kernel and sent one by one",
	C_GSO_SEGS, C_GSO_SENDS, C_GSO_FALLBACKS,
};

static const struct offload_line gro_line = {
	"GRO", "arrived", "coalesced receive", ", split back into datagrams",
	"kept for a later call", C_GRO_SEGS, C_GRO_RECVS, C_GRO_CARRIED,
};

/* The offload's line: what it carried of count datagrams, or why it was off. */
static void print_offload(const struct offload_line *o, long count, const struct counters *c,
			  const char *off)
{
	uint64_t segs = c->v[o->segs], calls = c->v[o->calls];

	if (off != NULL) {
		printf("  %-14snot in use: %s\n", o->name, off);
		return;
	}
	printf("  %-14s%" PRIu64 " of %ld datagrams %s in %" PRIu64
	       " %s%s (%.1f datagrams each)%s; %" PRIu64 " %s\n",
	       o->name, segs, count, o->verb, calls, o->call, plural(calls), per(segs, calls),
	       o->then, c->v[o->other], o->rest);
}

/*
 * The module's batched calls with segmentation offload on the sender and
 * receive offload on the receiver, where the kernel and the configuration
 * have them.  GRO goes on before the first datagram is sent, so that every
 * train arrives whole.
 */
static int part_offload(struct demo *d)
{
	struct link *l = link_open(d->meth, d->size);
	struct counters before, after;
	struct moved m = { 0 };
	int gso, gro, ok;

	if (l == NULL)
		return 0;
	gso = DGB_get_gso(l->tx) == 1;
	ERR_set_mark();
	gro = DGB_set_gro(l->rx, 1) == 1 && DGB_get_gro(l->rx) == 1;
	ERR_pop_to_mark();
	part_title(d, "GSO and GRO, dgrambatch's BIO: %s and %s, gso = %s, gro = %s",
		   send_call(d, BATCHED), recv_call(d, BATCHED), d->gso != NULL ? d->gso : "?",
		   d->gro != NULL ? d->gro : "?");
	ok = read_counters(d->prov, &before) && move(l, BATCHED, d->count, 1, &m) &&
	     read_counters(d->prov, &after);
	if (ok)
		print_moved(d, l, BATCHED, &m);
	link_close(l);
	if (!ok)
		return 0;
	counters_since(&after, &before);
	if (gso && 2 * (long)d->size > 65507)
		/* A segmented send is one IP datagram: 65507 bytes of payload at most. */
		printf("  GSO           on, but two datagrams of %d bytes never fit one segmented "
		       "send\n",
		       d->size);
	else
		print_offload(&gso_line, d->count, &after,
			      gso ? NULL : offload_off(DGB_CAP_UDP_SEGMENT, d->gso, DGB_CONF_GSO));
	print_offload(&gro_line, d->count, &after,
		      gro ? NULL : offload_off(DGB_CAP_UDP_GRO, d->gro, DGB_CONF_GRO));
	print_module_calls(&after, gro);
	return m.intact == d->count && counters_agree(d, &after);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * A short side-by-side rate: each implementation in turn moves batches of
 * datagrams (sent, then received, by this one thread) for a fixed time,
 * in a few rounds; the median round counts.  Only the lengths are checked,
 * the contents were in the parts before.
 */
static int part_speed(struct demo *d)
{
	struct row {
		const char *name, *calls;
		struct link *l;
		enum how how;
		double rate[SPEED_ROUNDS];
	} rows[3] = {
		{ "openssl", NULL, NULL, d->native ? BATCHED : ONE_BY_ONE, { 0 } },
		{ "dgrambatch", NULL, NULL, BATCHED, { 0 } },
		{ "dgrambatch", NULL, NULL, BATCHED, { 0 } },
	};
	char label[3][64];
	int ok = 1, offload;

	rows[0].l = link_open(NULL, d->size);
	rows[1].l = link_open(d->meth, d->size);
	rows[2].l = link_open(d->meth, d->size);
	for (int r = 0; r < 3; r++)
		ok = ok && rows[r].l != NULL;
	ok = ok && !DGB_is_dgrambatch(rows[0].l->tx) && DGB_set_gso(rows[1].l->tx, 0) == 1 &&
	     DGB_set_gro(rows[1].l->rx, 0) == 1;
	if (!ok)
		goto out;
	ERR_set_mark();
	offload = DGB_get_gso(rows[2].l->tx) == 1;
	offload |= (DGB_set_gro(rows[2].l->rx, 1) == 1 && DGB_get_gro(rows[2].l->rx) == 1) << 1;
	ERR_pop_to_mark();
	for (int r = 0; r < 2; r++)
		snprintf(label[r], sizeof(label[r]), "%s/%s", send_call(d, rows[r].how),
			 recv_call(d, rows[r].how));
	snprintf(label[2], sizeof(label[2]), "the same, %s",
		 offload == 3 ? "with GSO and GRO"
		 : offload == 1 ? "with GSO (no GRO here)"
		 : offload == 2 ? "with GRO (no GSO here)"
				: "no GSO or GRO here");

	/* One unmeasured batch each first: the first calls set things up. */
	for (int r = 0; ok && r < 3; r++) {
		struct moved m = { 0 };

		if (rows[r].l->window > SPEED_BATCH)
			rows[r].l->window = SPEED_BATCH;
		ok = move(rows[r].l, rows[r].how, rows[r].l->window, 0, &m);
	}
	for (int round = 0; ok && round < SPEED_ROUNDS; round++) {
		for (int r = 0; ok && r < 3; r++) {
			struct moved m = { 0 };
			double start = now(), spent = 0;

			do
				ok = move(rows[r].l, rows[r].how, rows[r].l->window, 0, &m);
			while (ok && (spent = now() - start) < SPEED_SECONDS);
			ok = ok && m.intact == m.received;
			if (ok)
				rows[r].rate[round] = (double)m.received / spent;
		}
	}
	if (!ok)
		goto out;
	for (int r = 0; r < 3; r++)
		qsort(rows[r].rate, SPEED_ROUNDS, sizeof(double), cmp_double);
	part_title(d, "throughput: datagrams of %d bytes, %ld at a time, sent and received by one "
		   "thread over loopback, median of %d rounds of %.2f s",
		   d->size, rows[0].l->window, SPEED_ROUNDS, SPEED_SECONDS);
	for (int r = 0; r < 3; r++) {
		double rate = rows[r].rate[SPEED_ROUNDS / 2], base = rows[0].rate[SPEED_ROUNDS / 2];

		printf("  %-11s %-34s %10.0f datagrams/s %7.2f Gbit/s", rows[r].name, label[r],
		       rate, rate * d->size * 8 / 1e9);
		if (r > 0 && base > 0)
			printf("  %.1f times openssl", rate / base);
		printf("\n");
	}
	printf("  one short run on a shared machine: the figures move from run to run "
	       "(dgrambatch bench measures with care)\n");
out:
	if (!ok)
		fprintf(stderr, "%s: demo: the throughput run failed\n", progname);
	for (int r = 0; r < 3; r++)
		link_close(rows[r].l);
	return ok;
}

static const char *meth_name(const BIO_METHOD *meth)
{
	static char name[64];
	BIO *b = BIO_new(meth);

	snprintf(name, sizeof(name), "%s", b != NULL ? BIO_method_name(b) : "?");
	BIO_free(b);
	return name;
}

/* A comma-separated list of part names, or 0. */
static unsigned int parse_parts(const char *list)
{
	unsigned int parts = 0;

	while (*list != '\0') {
		size_t n = strcspn(list, ",");
		unsigned int found = 0;

		for (size_t i = 0; i < sizeof(demo_parts) / sizeof(demo_parts[0]); i++)
			if (strlen(demo_parts[i].name) == n && strncmp(demo_parts[i].name, list, n) == 0)
				found = demo_parts[i].part;
		if (found == 0)
			return 0;
		parts |= found;
		list += n;
		if (*list == ',')
			list++;
	}
	return parts;
}

static int cmd_demo(int argc, char **argv)
{
	const char *config = getenv("OPENSSL_CONF");
	unsigned int parts = PART_ALL;
	int rc = 1;
	OSSL_LIB_CTX *libctx = NULL;
	const char *name = NULL, *version = NULL, *buildinfo = NULL;
	int status = 0;
	struct demo d = { .count = 10000, .size = 1200 };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			d.count = parse_count(argv[++i], 1, 100000000);
		} else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
			d.size = (int)parse_count(argv[++i], 1, 65507);
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			parts = parse_parts(argv[++i]);
			if (parts == 0) {
				fprintf(stderr, "%s: demo: --only takes basic, openssl, batched, "
						"offload, speed, or several with commas\n",
					progname);
				return 2;
			}
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (config == NULL) {
		fprintf(stderr, "%s: demo: give --config FILE or set OPENSSL_CONF\n", progname);
		return 2;
	}
	if (d.count < 1 || d.size < 1) {
		fprintf(stderr, "%s: demo: --count takes 1..100000000 and --size 1..65507\n", progname);
		return 2;
	}

	libctx = OSSL_LIB_CTX_new();
	if (libctx == NULL || !OSSL_LIB_CTX_load_config(libctx, config)) {
		rc = die_ssl("cannot load the OpenSSL config file");
		goto out;
	}
	OSSL_PROVIDER_do_all(libctx, find_dgrambatch, &d.prov);
	if (d.prov == NULL) {
		fprintf(stderr, "%s: %s does not activate the %s provider\n", progname, config,
			DGB_PROVIDER_NAME);
		goto out;
	}
	{
		OSSL_PARAM p[] = {
			OSSL_PARAM_utf8_ptr("name", &name, 0),
			OSSL_PARAM_utf8_ptr("version", &version, 0),
			OSSL_PARAM_utf8_ptr("buildinfo", &buildinfo, 0),
			OSSL_PARAM_int("status", &status),
			OSSL_PARAM_utf8_ptr(DGB_PARAM_GSO, &d.gso, 0),
			OSSL_PARAM_utf8_ptr(DGB_PARAM_GRO, &d.gro, 0),
			OSSL_PARAM_END
		};
		struct counters c;

		if (!OSSL_PROVIDER_get_params(d.prov, p) || !read_counters(d.prov, &c)) {
			rc = die_ssl("the provider does not answer its parameters");
			goto out;
		}
		if (!OSSL_PARAM_modified(&p[4]))
			d.gso = NULL;
		if (!OSSL_PARAM_modified(&p[5]))
			d.gro = NULL;
	}
	d.meth = DGB_provider_bio_method(d.prov);
	if (d.meth == NULL) {
		fprintf(stderr, "%s: the provider hands out no BIO method\n", progname);
		goto out;
	}
	d.native = dgb_native_mmsg_(1) != NULL && dgb_native_mmsg_(0) != NULL;

	if (parts & PART_BASIC) {
		part_title(&d, "dgrambatch demo (OpenSSL %s)", OpenSSL_version(OPENSSL_VERSION_STRING));
		printf("  config file   %s\n", config);
		printf("  provider      %s %s, status %d\n", name, version, status);
		printf("  build         %s\n", buildinfo);
		printf("  BIO method    \"%s\" from the provider parameter %s\n",
		       meth_name(d.meth), DGB_PARAM_BIO_METHOD);
		if (!part_basic(&d))
			goto out;
	}
	if ((parts & PART_OPENSSL) && !part_openssl(&d))
		goto out;
	if ((parts & PART_BATCHED) && !part_batched(&d))
		goto out;
	if ((parts & PART_OFFLOAD) && !part_offload(&d))
		goto out;
	if ((parts & PART_SPEED) && !part_speed(&d))
		goto out;
	printf("demo: ok\n");
	rc = 0;
out:
	OSSL_LIB_CTX_free(libctx);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("dgrambatch %s (built with %s)\n", PACKAGE_VERSION, OPENSSL_VERSION_TEXT);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "probe") == 0)
		return cmd_probe(argc - 1, argv + 1);
	if (strcmp(argv[1], "demo") == 0)
		return cmd_demo(argc - 1, argv + 1);
	if (strcmp(argv[1], "bench") == 0)
		return dgb_bench_main(progname, argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return dgb_run_main(progname, argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", progname, argv[1]);
	usage(stderr);
	return 2;
}
